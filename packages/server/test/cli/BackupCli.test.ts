/**
 * `orbitdock backup` and `orbitdock restore`, for real: the built command against a real server
 * process and real SQLite files. A backup taken while the server writes is whole; a restore needs
 * the server stopped, brings back exactly what the copy held, and keeps the log it replaced.
 */
import Database from "better-sqlite3"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { SCHEMA_VERSION } from "../../src/eventlog/eventLogSchema.js"
import { runCli } from "../helpers/cli.js"
import { serverKeeper } from "../helpers/serverProcess.js"

const keeper = serverKeeper()
afterEach(keeper.stopAll)

const fixture = path.resolve(import.meta.dirname, "../fixtures/releases/0.1.0")

const withFixture = () => {
  const dataDir = keeper.dataDir("orbitdock-backup-")
  fs.copyFileSync(path.join(fixture, "orbitdock.db"), path.join(dataDir, "orbitdock.db"))
  return dataDir
}

describe("orbitdock backup / restore", () => {
  it("backs up while the server writes, refuses to restore under it, and restores exactly the copy", async () => {
    const dataDir = withFixture()
    const server = await keeper.start(dataDir)
    const client = await server.connect()
    const before = (await server.http("/api/sessions")).body as Array<{ id: string }>
    const copy = path.join(keeper.dataDir("orbitdock-copies-"), "monday.db")

    // A burst in flight while the copy is taken: the copy holds whole batches only.
    const busy = (await client.request({ type: "create_session", provider: "sim", cwd: "/work/busy" })) as { session_id: string }
    expect((await client.request({ type: "send_message", session_id: busy.session_id, content: "/burst 2000" })).type).toBe("ack")
    const backedUp = runCli(dataDir, ["backup", copy])
    expect(backedUp.stderr).toBe("")
    expect(backedUp.status).toBe(0)
    expect(backedUp.stdout).toMatch(new RegExp(`^backed up .*orbitdock\\.db to ${copy} \\(schema ${SCHEMA_VERSION}, 7 sessions, \\d+ events, \\d+ KiB\\)`))
    expect(fs.statSync(copy).mode & 0o777).toBe(0o600)
    expect(fs.readdirSync(path.dirname(copy))).toEqual(["monday.db"])
    const held = new Database(copy, { readonly: true })
    const streams = held.prepare("SELECT session_id, COUNT(*) AS n, MAX(revision) AS hi FROM events GROUP BY session_id").all() as Array<{
      n: number
      hi: number
    }>
    expect(held.pragma("quick_check", { simple: true })).toBe("ok")
    held.close()
    for (const s of streams) expect(s.n).toBe(s.hi)

    // Not over an existing file, unless asked.
    const again = runCli(dataDir, ["backup", copy])
    expect(again.status).toBe(1)
    expect(again.stderr).toContain("exists: choose another file, or pass --force")
    expect(runCli(dataDir, ["backup", copy, "--force"]).status).toBe(0)

    const refused = runCli(dataDir, ["restore", copy])
    expect(refused.status).toBe(1)
    expect(refused.stderr).toContain(`a server is running on ${dataDir} (pid ${server.child.pid})`)

    // After the copy: a session that the restore takes away.
    const later = (await client.request({ type: "create_session", provider: "sim", cwd: "/work/later" })) as { session_id: string }
    const copied = new Database(copy, { readonly: true })
    const copiedEvents = copied.prepare("SELECT COUNT(*) FROM events").pluck().get() as number
    copied.close()
    await server.kill("SIGTERM")

    const restored = runCli(dataDir, ["restore", copy])
    expect(restored.stderr).toBe("")
    expect(restored.status).toBe(0)
    const [kept] = fs.readdirSync(path.join(dataDir, "backups"))
    expect(kept).toMatch(/^orbitdock-before-restore-.*\.db$/)
    expect(restored.stdout).toContain(`the log it replaced is at ${path.join(dataDir, "backups", kept!)}`)
    const replaced = new Database(path.join(dataDir, "backups", kept!), { readonly: true })
    expect(replaced.prepare("SELECT COUNT(*) FROM events WHERE session_id = ?").pluck().get(later.session_id)).toBe(1)
    replaced.close()

    const second = await keeper.start(dataDir)
    const after = (await second.http("/api/sessions")).body as Array<{ id: string }>
    expect(after.map((s) => s.id).sort()).toEqual([...before.map((s) => s.id), busy.session_id].sort())
    const { body: busyEvents } = await second.http(`/api/sessions/${busy.session_id}/events?limit=10000`)
    // Everything the copy held, nothing after it (a restart closes the burst's interrupted turn).
    expect(busyEvents.events.length).toBeGreaterThan(0)
    const total = (
      await Promise.all(after.map(async (s) => ((await second.http(`/api/sessions/${s.id}/events?limit=10000`)).body.events as Array<unknown>).length))
    ).reduce((a, b) => a + b, 0)
    expect(total).toBeGreaterThanOrEqual(copiedEvents)
    expect(total).toBeLessThanOrEqual(copiedEvents + 3)
  }, 60_000)

  it("refuses what is not a log it can read, and changes nothing", () => {
    const dataDir = withFixture()
    const db = path.join(dataDir, "orbitdock.db")
    const original = fs.readFileSync(db)
    const files = keeper.dataDir("orbitdock-bad-copies-")

    const text = path.join(files, "notes.txt")
    fs.writeFileSync(text, "not a database at all, but long enough to have a header's worth of bytes in it.........")
    const notDb = runCli(dataDir, ["restore", text])
    expect(notDb.status).toBe(1)
    expect(notDb.stderr).toContain("is not an SQLite database")

    const other = path.join(files, "other.db")
    const o = new Database(other)
    o.exec("CREATE TABLE t (x)")
    o.close()
    expect(runCli(dataDir, ["restore", other]).stderr).toContain("not an OrbitDock event log (no events table)")

    const newer = path.join(files, "newer.db")
    fs.copyFileSync(db, newer)
    const n = new Database(newer)
    n.pragma(`user_version = ${SCHEMA_VERSION + 1}`)
    n.close()
    expect(runCli(dataDir, ["restore", newer]).stderr).toContain(`written by a newer OrbitDock (schema ${SCHEMA_VERSION + 1}`)

    expect(runCli(dataDir, ["restore", path.join(files, "missing.db")]).stderr).toContain("does not exist")
    expect(fs.readFileSync(db).equals(original)).toBe(true)
    expect(fs.existsSync(path.join(dataDir, "backups"))).toBe(false)
  })
})
