/**
 * What opening a database of another schema version does. The version is `PRAGMA user_version`
 * (any SQLite tool reads it without knowing our tables); logs from before it was stamped say theirs
 * in `effect_sql_migrations`, and the larger of the two counts.
 *
 * - A newer database (written by a later OrbitDock) is refused before anything opens it for
 *   writing: a later version's data would be misread, and the next write could fork it.
 * - An older one is copied first with SQLite's online backup (consistent even with a WAL), then
 *   migrated in one transaction. The copy stays in `<db dir>/backups/` until the server has
 *   started cleanly on the new schema (`SchemaUpgrade.confirm`): if the migration or the start
 *   fails, the person keeps a database the previous version can open.
 */
import Database from "better-sqlite3"
import { Context, Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as PrivateFiles from "../internal/privateFiles.js"
import { EventLogError } from "./EventLog.js"

const HEADER = Buffer.from("SQLite format 3\0", "latin1")

/**
 * The version stamped in the file's header (`user_version`: 4 bytes at offset 60), read as plain
 * bytes: even a read-only SQLite connection leaves `-wal` and `-shm` files beside a WAL database,
 * and a newer version's database is refused without that. Null when the file is not a database.
 */
export const headerSchemaVersion = (dbPath: string): number | null => {
  const fd = fs.openSync(dbPath, "r")
  try {
    const header = Buffer.alloc(100)
    if (fs.readSync(fd, header, 0, 100, 0) < 100 || !header.subarray(0, 16).equals(HEADER)) return null
    return header.readUInt32BE(60)
  } finally {
    fs.closeSync(fd)
  }
}

/**
 * A database's schema version; 0 for a new (absent or empty) file. The header first; then SQLite
 * read-only, which also sees a stamp still in the WAL and the migrations of logs from before it.
 */
export const readSchemaVersion = (dbPath: string): number => {
  if (!fs.existsSync(dbPath) || fs.statSync(dbPath).size === 0) return 0
  const header = headerSchemaVersion(dbPath)
  const db = new Database(dbPath, { readonly: true, fileMustExist: true })
  try {
    const stamped = db.pragma("user_version", { simple: true }) as number
    const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'effect_sql_migrations'").get()
    const migrated = table === undefined ? 0 : ((db.prepare("SELECT MAX(migration_id) FROM effect_sql_migrations").pluck().get() as number | null) ?? 0)
    return Math.max(header ?? 0, stamped, migrated)
  } finally {
    db.close()
  }
}

/** Where upgrade backups of `dbPath` go. */
export const backupsDir = (dbPath: string): string => path.join(path.dirname(dbPath), "backups")

/**
 * Copies the database at `source` to `target` (created 0600; it must not exist) with SQLite's online
 * backup: a consistent copy of what is committed, while a server may be writing.
 */
export const backupDatabase = async (source: string, target: string): Promise<void> => {
  // 0600 before SQLite writes a byte of it; `wx`: never over an existing file.
  fs.closeSync(fs.openSync(target, "wx", 0o600))
  const db = new Database(source, { readonly: true, fileMustExist: true })
  try {
    await db.backup(target)
    // One self-contained file: out of WAL mode, so opening the copy leaves no -wal and -shm beside it.
    const copy = new Database(target, { fileMustExist: true })
    try {
      copy.pragma("journal_mode = DELETE")
    } finally {
      copy.close()
    }
  } catch (error) {
    for (const suffix of ["", "-wal", "-shm", "-journal"]) fs.rmSync(`${target}${suffix}`, { force: true })
    throw error
  } finally {
    db.close()
  }
}

/** A file name for a copy made now: sortable, and unique within the directory. */
export const backupName = (dbPath: string, label: string, now: Date): string => {
  const stem = path.basename(dbPath).replace(/\.db$/, "")
  return `${stem}-${label}-${now.toISOString().replace(/[:.]/g, "-")}.db`
}

/** The schema change this start made, for the one who knows when the server started cleanly. */
export interface SchemaUpgradeShape {
  readonly from: number
  readonly to: number
  /** The copy made before migrating; null when nothing was migrated (or the database was new). */
  readonly backup: string | null
  /** The server started cleanly on the new schema: the copy is not needed any more. */
  readonly confirm: Effect.Effect<void>
}

export class SchemaUpgrade extends Context.Tag("@orbitdock/server/SchemaUpgrade")<SchemaUpgrade, SchemaUpgradeShape>() {}

const fail = (operation: string) => (cause: unknown) => new EventLogError({ operation, cause })

/**
 * Before the log is opened for writing: refuses a newer database, and backs up an older one that
 * has migrations to run. Returns the upgrade to confirm once the server is up.
 */
export const prepare = (dbPath: string, target: number) =>
  Effect.gen(function* () {
    const newer = (from: number) =>
      Effect.fail(
        fail("EventLog.open:schema")(
          new Error(
            `${dbPath} was written by a newer OrbitDock (schema ${from}; this version knows up to ${target}). ` +
              "It was not opened and nothing in it changed: run the newer version, or restore a backup this version can read (orbitdock restore)."
          )
        )
      )
    const header = yield* Effect.try({
      try: () => (fs.existsSync(dbPath) ? headerSchemaVersion(dbPath) : null),
      catch: fail("EventLog.open:connection")
    })
    if (header !== null && header > target) return yield* newer(header)
    const from = yield* Effect.try({ try: () => readSchemaVersion(dbPath), catch: fail("EventLog.open:connection") })
    if (from > target) return yield* newer(from)
    if (from === 0 || from === target) return { from, to: target, backup: null, confirm: Effect.void } satisfies SchemaUpgradeShape
    const dir = backupsDir(dbPath)
    const backup = path.join(dir, backupName(dbPath, `schema${from}`, new Date()))
    yield* Effect.tryPromise({
      try: async () => {
        PrivateFiles.ensurePrivateDir(dir)
        await backupDatabase(dbPath, backup)
      },
      catch: fail("EventLog.open:backup")
    })
    yield* Effect.logInfo(`upgrading the event log's schema ${from} → ${target}; a copy from before is at ${backup} until the server has started`)
    const confirm = Effect.sync(() => fs.rmSync(backup, { force: true })).pipe(
      Effect.zipRight(Effect.logInfo(`started on schema ${target}: removed the copy from before the upgrade (${backup})`)),
      Effect.catchAllDefect((cause) => Effect.logWarning(`could not remove ${backup}: ${String(cause)}`))
    )
    return { from, to: target, backup, confirm } satisfies SchemaUpgradeShape
  })
