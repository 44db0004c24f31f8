/**
 * Upgrades keep history: a log written by a released version (`fixtures/releases/<version>`,
 * written by `scripts/write-release-fixture.mjs` from that release) opens with this code and every
 * session replays to the state that release served; an older schema is backed up before its
 * migrations run in one transaction, the copy kept until the server has started; a newer one is
 * refused untouched. Real SQLite files, the real server process.
 */
import type { SessionState } from "@orbitdock/domain"
import { SessionProjection } from "@orbitdock/projections"
import * as SqlClient from "@effect/sql/SqlClient"
import Database from "better-sqlite3"
import { Effect } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import * as EventLogSqlite from "../../src/eventlog/EventLogSqlite.js"
import { migrations, SCHEMA_VERSION } from "../../src/eventlog/eventLogSchema.js"
import { readSchemaVersion } from "../../src/eventlog/schemaUpgrade.js"
import { bundle, cliEnv } from "../helpers/cli.js"
import { allEvents, serverKeeper } from "../helpers/serverProcess.js"
import { spawnSync } from "node:child_process"

const keeper = serverKeeper()
afterEach(keeper.stopAll)

const releases = path.resolve(import.meta.dirname, "../fixtures/releases")

/** A data dir holding a copy of the release's log. */
const dataDirWith = (release: string): string => {
  const dataDir = keeper.dataDir("orbitdock-upgrade-")
  fs.copyFileSync(path.join(releases, release, "orbitdock.db"), path.join(dataDir, "orbitdock.db"))
  return dataDir
}


const sha256 = (file: string) => crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex")

const withDb = <A>(file: string, f: (db: Database.Database) => A): A => {
  const db = new Database(file)
  try {
    return f(db)
  } finally {
    db.close()
  }
}

describe("a log written by a released version", () => {
  for (const release of fs.readdirSync(releases)) {
    it(`${release}: every session replays to the state it served, the rules too`, async () => {
      const expected = JSON.parse(fs.readFileSync(path.join(releases, release, "states.json"), "utf8")) as {
        rules: unknown
        sessions: Record<string, SessionState>
      }
      const dataDir = dataDirWith(release)
      const server = await keeper.start(dataDir)

      const { body: list } = await server.http("/api/sessions")
      expect(list.map((s: { id: string }) => s.id).sort()).toEqual(Object.keys(expected.sessions).sort())
      for (const [id, state] of Object.entries(expected.sessions)) {
        // As served (snapshot, pages and the events after them) and as folded from the whole log.
        expect((await server.http(`/api/sessions/${id}`)).body).toEqual(state)
        const events = await allEvents(server, id)
        expect(JSON.parse(JSON.stringify(SessionProjection.replay(id as never, events).state))).toEqual(state)
      }
      expect((await server.http("/api/rules")).body).toEqual(expected.rules)
      await server.kill("SIGTERM")
      expect(readSchemaVersion(path.join(dataDir, "orbitdock.db"))).toBe(SCHEMA_VERSION)
    }, 60_000)
  }
})

describe("schema upgrades", () => {
  const release = fs.readdirSync(releases).sort().at(-1)!

  it("an older schema is copied before it migrates; the server removes the copy once it has started", async () => {
    // The release's log as schema 4: its last migration undone.
    const dataDir = dataDirWith(release)
    const db = path.join(dataDir, "orbitdock.db")
    withDb(db, (d) => {
      d.exec("DROP INDEX events_approvals; DROP TABLE rule_events; DELETE FROM effect_sql_migrations WHERE migration_id = 5; PRAGMA user_version = 0")
    })
    expect(readSchemaVersion(db)).toBe(4)

    const server = await keeper.start(dataDir)
    expect(readSchemaVersion(db)).toBe(SCHEMA_VERSION)
    expect((await server.http("/api/rules")).body).toEqual({ rules: [] })
    // Started cleanly: the copy is gone, and the directory it was in stays private.
    const backups = path.join(dataDir, "backups")
    expect(fs.readdirSync(backups)).toEqual([])
    expect(fs.statSync(backups).mode & 0o777).toBe(0o700)
    const { body: list } = await server.http("/api/sessions")
    expect(list.length).toBeGreaterThan(0)
  }, 60_000)

  it("a migration that fails leaves the database as it was, and the copy stays", async () => {
    const dataDir = dataDirWith(release)
    const db = path.join(dataDir, "orbitdock.db")
    const broken = {
      ...migrations,
      [`${String(SCHEMA_VERSION + 1).padStart(4, "0")}_broken`]: Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        yield* sql.unsafe("CREATE TABLE half_done (x INTEGER)")
        yield* sql.unsafe("INSERT INTO no_such_table VALUES (1)")
      })
    }
    const { message } = await Effect.runPromise(
      Effect.flip(Effect.scoped(EventLogSqlite.open({ dbPath: db, flushMs: 20, batchSize: 50, migrations: broken })))
    )
    expect(message).toContain("EventLog.open:migrate")
    expect(message).toContain(`Migration "${SCHEMA_VERSION + 1}_broken" failed`)
    expect(message).toContain("no such table: no_such_table")
    expect(message).toContain("the database is as it was")

    expect(readSchemaVersion(db)).toBe(SCHEMA_VERSION)
    withDb(db, (d) => expect(d.prepare("SELECT name FROM sqlite_master WHERE name = 'half_done'").get()).toBeUndefined())
    const [copy] = fs.readdirSync(path.join(dataDir, "backups"))
    expect(copy).toMatch(new RegExp(`^orbitdock-schema${SCHEMA_VERSION}-.*\\.db$`))
    expect(message).toContain(copy)
    const copyPath = path.join(dataDir, "backups", copy!)
    expect(fs.statSync(copyPath).mode & 0o777).toBe(0o600)
    expect(readSchemaVersion(copyPath)).toBe(SCHEMA_VERSION)
    withDb(copyPath, (d) => expect(d.prepare("SELECT COUNT(*) FROM events").pluck().get()).toBeGreaterThan(0))
  })

  it("a migration that succeeds: the upgrade reports the copy until it is confirmed", async () => {
    const dataDir = dataDirWith(release)
    const db = path.join(dataDir, "orbitdock.db")
    const next = SCHEMA_VERSION + 1
    const more = {
      ...migrations,
      [`${String(next).padStart(4, "0")}_more`]: Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe("CREATE TABLE more (x INTEGER)"))
    }
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const { upgrade } = yield* EventLogSqlite.open({ dbPath: db, flushMs: 20, batchSize: 50, migrations: more })
          expect(upgrade.from).toBe(SCHEMA_VERSION)
          expect(upgrade.to).toBe(next)
          expect(fs.existsSync(upgrade.backup!)).toBe(true)
          expect(readSchemaVersion(upgrade.backup!)).toBe(SCHEMA_VERSION)
          yield* upgrade.confirm
          expect(fs.existsSync(upgrade.backup!)).toBe(false)
        })
      )
    )
    expect(readSchemaVersion(db)).toBe(next)
  })

  it("a database from a newer version is refused, and not a byte of it changes", () => {
    const dataDir = dataDirWith(release)
    const db = path.join(dataDir, "orbitdock.db")
    withDb(db, (d) => d.pragma(`user_version = ${SCHEMA_VERSION + 3}`))
    const before = sha256(db)

    const run = spawnSync(process.execPath, [bundle, "serve", "--port", "0", "--data-dir", dataDir], {
      env: cliEnv(),
      encoding: "utf8",
      timeout: 30_000
    })
    expect(run.status).not.toBe(0)
    expect(run.stderr).toContain(`was written by a newer OrbitDock (schema ${SCHEMA_VERSION + 3}; this version knows up to ${SCHEMA_VERSION})`)
    expect(run.stdout).not.toContain("listening")
    expect(sha256(db)).toBe(before)
    expect(fs.existsSync(`${db}-wal`)).toBe(false)
    expect(fs.existsSync(path.join(dataDir, "backups"))).toBe(false)
  })
})
