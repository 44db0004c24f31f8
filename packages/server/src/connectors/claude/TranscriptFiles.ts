/**
 * Transcript files on disk. Which ones OrbitDock reads: `.jsonl` files under Claude Code's projects
 * directory (`<claude dir>/projects`), judged after resolving symlinks, so that a hook body naming
 * any file on disk (`/etc/…`, a symlink out of the tree, `../..`) never gets it read into a session.
 * Listing the transcripts already there (the startup catch-up), and reading complete lines from an
 * offset in bounded steps.
 */
import * as fs from "node:fs"
import * as path from "node:path"

/** `file` with its symlinks resolved; the part that does not exist yet is kept as written. */
const realpathLenient = (file: string): string => {
  try {
    return fs.realpathSync.native(file)
  } catch {
    const parent = path.dirname(file)
    return parent === file ? file : path.join(realpathLenient(parent), path.basename(file))
  }
}

export interface TranscriptPaths {
  /** The watched projects directory, as the watcher spells its paths. */
  readonly projects: string
  /**
   * The transcript file a path names, spelled as the watcher spells it (so one file has one
   * follower and one checkpoint), or null when it is not a `.jsonl` file under the projects directory.
   */
  readonly own: (file: string) => string | null
}

/** The rule for a projects directory (created if missing, so that it can be watched and resolved). */
export const make = (projects: string): TranscriptPaths => {
  fs.mkdirSync(projects, { recursive: true })
  const realProjects = realpathLenient(projects)
  const own = (file: string): string | null => {
    if (!path.isAbsolute(file) || !file.endsWith(".jsonl")) return null
    const real = realpathLenient(path.resolve(file))
    if (!real.endsWith(".jsonl")) return null
    const relative = path.relative(realProjects, real)
    if (relative === "" || relative.startsWith("..") || path.isAbsolute(relative)) return null
    return path.join(projects, relative)
  }
  return { projects, own }
}

/** The transcripts under the projects directory, with their size and modification time. */
export const listTranscripts = async (projects: string) => {
  const out: Array<{ file: string; size: number; mtimeMs: number }> = []
  const walk = async (dir: string, depth: number): Promise<void> => {
    let entries: Array<fs.Dirent>
    try {
      entries = await fs.promises.readdir(dir, { withFileTypes: true })
    } catch {
      return
    }
    for (const entry of entries) {
      const full = path.join(dir, entry.name)
      if (entry.isDirectory() && depth < 3) await walk(full, depth + 1)
      else if (entry.isFile() && entry.name.endsWith(".jsonl")) {
        const stat = await fs.promises.stat(full).catch(() => undefined)
        if (stat !== undefined) out.push({ file: full, size: stat.size, mtimeMs: stat.mtimeMs })
      }
    }
  }
  await walk(projects, 0)
  return out
}

/** Bytes read per step; a longer line is assembled over several reads. */
const CHUNK = 1024 * 1024
/** A batch (one emit, one checkpoint) ends after about this many bytes of complete lines. */
const BATCH_BYTES = 4 * 1024 * 1024

/** Where reading a file stands. */
export interface FileState {
  offset: number
  lastMessageId: string
  /** Bytes of an incomplete last line, kept until its newline arrives. */
  pending: Buffer
}

/**
 * The next complete lines after `state.offset` (about `BATCH_BYTES` at most); an incomplete last
 * line stays in `state.pending`. A file that shrank (replaced, truncated) is read from the start.
 * A file that cannot be opened yields nothing.
 */
export const readLines = async (file: string, state: FileState): Promise<Array<Buffer>> => {
  const lines: Array<Buffer> = []
  let handle: fs.promises.FileHandle
  try {
    // Not through a symlink: the path was judged (`own`) as the real file it named then.
    handle = await fs.promises.open(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW)
  } catch {
    return lines
  }
  try {
    const { size } = await handle.stat()
    // A shorter file was replaced or truncated: start over (source keys drop what repeats).
    if (size < state.offset + state.pending.length) {
      state.offset = 0
      state.pending = Buffer.alloc(0)
    }
    const start = state.offset + state.pending.length
    let position = start
    while (position < size && !(lines.length > 0 && position - start >= BATCH_BYTES)) {
      const buffer = Buffer.alloc(Math.min(CHUNK, size - position))
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position)
      if (bytesRead === 0) break
      position += bytesRead
      let data = Buffer.concat([state.pending, buffer.subarray(0, bytesRead)])
      let newline = data.indexOf(10)
      while (newline >= 0) {
        lines.push(data.subarray(0, newline))
        data = data.subarray(newline + 1)
        newline = data.indexOf(10)
      }
      state.pending = Buffer.from(data)
    }
    return lines
  } finally {
    await handle.close()
  }
}
