/**
 * `orbitdock backup <file>` and `orbitdock restore <file>`: a person's own copies of the event log.
 * A backup is SQLite's online backup (consistent while the server writes), checked before it takes
 * the file's name. A restore needs the server stopped, refuses a file that is not an OrbitDock log
 * or was written by a newer version, and keeps the log it replaces in `<db dir>/backups/`.
 */
import { Args, Command, Options } from "@effect/cli"
import Database from "better-sqlite3"
import { Console, Effect, Option } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { SCHEMA_VERSION } from "../eventlog/eventLogSchema.js"
import { backupDatabase, backupName, backupsDir, headerSchemaVersion, readSchemaVersion } from "../eventlog/schemaUpgrade.js"
import * as PrivateFiles from "../internal/privateFiles.js"
import { discover } from "./Discovery.js"
import { CliError } from "./ServerClient.js"
import { dataDirOption } from "./Shared.js"

const dbOption = Options.text("db").pipe(Options.optional, Options.withDescription("The event log (default <data-dir>/orbitdock.db)"))

const dbPathOf = (flags: { readonly dataDir: string; readonly db: Option.Option<string> }): string =>
  path.resolve(Option.getOrElse(flags.db, () => path.join(flags.dataDir, "orbitdock.db")))

/** What a log holds, for the person to recognise it. */
interface LogFacts {
  readonly schema: number
  readonly sessions: number
  readonly events: number
  readonly bytes: number
}

/** Checks that `file` is a whole OrbitDock log (SQLite's `quick_check`) and says what it holds. */
const inspectLog = (file: string): LogFacts => {
  if (!fs.existsSync(file)) throw new Error(`${file} does not exist`)
  if (headerSchemaVersion(file) === null) throw new Error(`${file} is not an SQLite database`)
  const db = new Database(file, { readonly: true, fileMustExist: true })
  let counts: Omit<LogFacts, "schema">
  try {
    const check = db.pragma("quick_check", { simple: true })
    if (check !== "ok") throw new Error(`${file} is damaged (SQLite's quick_check: ${String(check)})`)
    const events = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'").get()
    if (events === undefined) throw new Error(`${file} is an SQLite database but not an OrbitDock event log (no events table)`)
    counts = {
      sessions: db.prepare("SELECT COUNT(DISTINCT session_id) FROM events").pluck().get() as number,
      events: db.prepare("SELECT COUNT(*) FROM events").pluck().get() as number,
      bytes: fs.statSync(file).size
    }
  } finally {
    db.close()
  }
  return { ...counts, schema: readSchemaVersion(file) }
}

const describeLog = (facts: LogFacts): string =>
  `schema ${facts.schema}, ${facts.sessions} session${facts.sessions === 1 ? "" : "s"}, ${facts.events} event${facts.events === 1 ? "" : "s"}, ${(facts.bytes / 1024).toFixed(0)} KiB`

const attempt = <A>(f: () => A | Promise<A>) =>
  Effect.tryPromise({ try: async () => f(), catch: (e) => new CliError({ message: e instanceof Error ? e.message : String(e) }) })

export const backup = Command.make(
  "backup",
  {
    dataDir: dataDirOption,
    db: dbOption,
    force: Options.boolean("force").pipe(Options.withDescription("Replace the file if it exists")),
    file: Args.text({ name: "file" }).pipe(Args.withDescription("Where to write the copy"))
  },
  (flags) =>
    Effect.gen(function* () {
      const source = dbPathOf(flags)
      const target = path.resolve(flags.file)
      if (target === source) return yield* Effect.fail(new CliError({ message: "the copy cannot be the log itself" }))
      if (fs.existsSync(target) && !flags.force) {
        return yield* Effect.fail(new CliError({ message: `${target} exists: choose another file, or pass --force to replace it` }))
      }
      if (!fs.existsSync(source)) return yield* Effect.fail(new CliError({ message: `there is no event log at ${source}` }))
      // Written beside the target under another name, checked, then renamed: a failed copy never takes its name.
      const partial = `${target}.${process.pid}.partial`
      const facts = yield* attempt(async () => {
        try {
          await backupDatabase(source, partial)
          const facts = inspectLog(partial)
          fs.renameSync(partial, target)
          return facts
        } finally {
          fs.rmSync(partial, { force: true })
        }
      })
      yield* Console.log(`backed up ${source} to ${target} (${describeLog(facts)})`)
    })
).pipe(Command.withDescription("Copy the event log to a file, consistently, even while the server runs"))

export const restore = Command.make(
  "restore",
  {
    dataDir: dataDirOption,
    db: dbOption,
    file: Args.text({ name: "file" }).pipe(Args.withDescription("A copy made by `orbitdock backup` (or an upgrade)"))
  },
  (flags) =>
    Effect.gen(function* () {
      const dataDir = path.resolve(flags.dataDir)
      const target = dbPathOf(flags)
      const source = path.resolve(flags.file)
      const running = discover(dataDir)
      if (running._tag === "Running") {
        return yield* Effect.fail(
          new CliError({
            message: `a server is running on ${dataDir} (pid ${running.file.pid}): stop it first (\`orbitdock service stop\` if it runs as a service), then restore`
          })
        )
      }
      if (source === target) return yield* Effect.fail(new CliError({ message: "that file is the log itself" }))
      const facts = yield* attempt(() => inspectLog(source))
      if (facts.schema > SCHEMA_VERSION) {
        return yield* Effect.fail(
          new CliError({ message: `${source} was written by a newer OrbitDock (schema ${facts.schema}; this version knows up to ${SCHEMA_VERSION}): restore it with that version` })
        )
      }
      const replaced = yield* attempt(async () => {
        let kept: string | null = null
        if (fs.existsSync(target) && fs.statSync(target).size > 0) {
          const dir = backupsDir(target)
          PrivateFiles.ensurePrivateDir(dir)
          kept = path.join(dir, backupName(target, "before-restore", new Date()))
          await backupDatabase(target, kept)
        }
        // The old log's WAL would be replayed into the restored file: it goes with the log it belongs to.
        for (const suffix of ["", "-wal", "-shm", "-journal"]) fs.rmSync(`${target}${suffix}`, { force: true })
        PrivateFiles.ensurePrivateDir(path.dirname(target))
        await backupDatabase(source, target)
        return kept
      })
      yield* Console.log(`restored ${source} into ${target} (${describeLog(facts)})`)
      if (replaced !== null) yield* Console.log(`the log it replaced is at ${replaced}`)
      if (facts.schema < SCHEMA_VERSION) {
        yield* Console.log(`the server upgrades it from schema ${facts.schema} to ${SCHEMA_VERSION} when it starts (after copying it first)`)
      }
    })
).pipe(Command.withDescription("Replace the event log with a copy (the server must be stopped; the replaced log is kept)"))
