/**
 * Files only their owner may read: every file OrbitDock creates holds something private (the event
 * log's prompts and tool output, logs, the token, settings that may carry it). Modes are set
 * explicitly, never left to the umask: a file is created 0600 before anyone opens it (a reader that
 * opened it while it was still world-readable would keep its descriptor after a later chmod).
 */
import * as fs from "node:fs"

const ignoreNotOurs = (error: unknown): void => {
  const code = (error as NodeJS.ErrnoException).code
  // ENOENT: nothing to tighten; EPERM: someone else's file, which is theirs to protect.
  if (code !== "ENOENT" && code !== "EPERM") throw error
}

/** Creates `file` (mode 0600) if it does not exist, without truncating it; an existing one of ours becomes 0600. */
export const ensurePrivateFile = (file: string): void => {
  const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_APPEND, 0o600)
  try {
    if ((fs.fstatSync(fd).mode & 0o777) !== 0o600) fs.fchmodSync(fd, 0o600)
  } catch (error) {
    ignoreNotOurs(error)
  } finally {
    fs.closeSync(fd)
  }
}

/** Makes `file` 0600 if it exists and is ours. */
export const tighten = (file: string, mode = 0o600): void => {
  try {
    if ((fs.statSync(file).mode & 0o777) !== mode) fs.chmodSync(file, mode)
  } catch (error) {
    ignoreNotOurs(error)
  }
}

/** Creates a directory 0700 (and its parents), or tightens an existing one to 0700. */
export const ensurePrivateDir = (dir: string): void => {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
  tighten(dir, 0o700)
}

/**
 * An SQLite database's files: the database is created 0600 before SQLite opens it (SQLite itself
 * would create it 0644 less the umask); SQLite gives `-wal`/`-shm` the database's mode when it
 * creates them; `sidecars` tightens ones an older version left readable.
 */
export const sqliteFiles = {
  beforeOpen: (dbPath: string): void => ensurePrivateFile(dbPath),
  sidecars: (dbPath: string): void => {
    for (const suffix of ["-wal", "-shm", "-journal"]) tighten(`${dbPath}${suffix}`)
  }
}
