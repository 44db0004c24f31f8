/**
 * A full disk, for real: the event log lives on a small tmpfs that the test fills (ENOSPC →
 * SQLITE_FULL) while a real server process streams a `/burst` to real clients (a raw WebSocket
 * client and the client SDK). Commits fail for longer than the ~50 s after which the writer used to
 * drop the batch; then the test frees the space and the server heals by itself. Nothing acked is
 * lost, and the history served (HTTP, and after a restart) is the log's and is what clients were
 * shown. Needs root for `mount` (CI runs as root); skipped with a message otherwise.
 */
import type { ServerMessage, SessionMessage } from "@orbitdock/domain"
import Database from "better-sqlite3"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Client } from "../../client-sdk/src/node.js"
import { type ServerProcess, startServerProcess } from "./helpers/serverProcess.js"

/** How long the disk stays full: longer than the old writer's ~50 s of retries before it gave up. */
const FULL_FOR_MS = 55_000

let mountPoint = ""
let dataDir = ""
let mounted = false
let skipReason = ""
const servers: Array<ServerProcess> = []

beforeAll(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "orbitdock-diskfull-data-"))
  mountPoint = fs.mkdtempSync(path.join(os.tmpdir(), "orbitdock-diskfull-db-"))
  const mount = spawnSync("mount", ["-t", "tmpfs", "-o", "size=48m,mode=0700", "tmpfs", mountPoint], { encoding: "utf8" })
  mounted = mount.status === 0
  if (!mounted) skipReason = `cannot mount a tmpfs (${(mount.stderr || mount.error?.message || "").trim()}); run as root to test a full disk`
})

afterAll(async () => {
  await Promise.all(servers.map((s) => s.kill("SIGKILL")))
  if (mounted) spawnSync("umount", [mountPoint])
  fs.rmSync(mountPoint, { recursive: true, force: true })
  fs.rmSync(dataDir, { recursive: true, force: true })
})

/** Writes a file until the file system has no byte left. */
const fill = (file: string) => {
  const fd = fs.openSync(file, "w")
  try {
    for (const size of [1 << 20, 4096, 1]) {
      const chunk = Buffer.alloc(size, 7)
      try {
        for (;;) fs.writeSync(fd, chunk)
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error
      }
    }
  } finally {
    fs.closeSync(fd)
  }
}

interface Served {
  readonly revision: number
  readonly type: string
  readonly data: any
}

/** Every event of a session through `GET /api/sessions/:id/events`, page by page. */
const servedEvents = async (server: ServerProcess, id: string): Promise<Array<Served>> => {
  const events: Array<Served> = []
  let after = 0
  for (;;) {
    const { status, body } = await server.http(`/api/sessions/${id}/events?after=${after}&limit=10000`)
    expect(status).toBe(200)
    events.push(...body.events.map((e: Served) => ({ revision: e.revision, type: e.type, data: e.data })))
    if (body.next_after === null) return events
    after = body.next_after
  }
}

/** The same read straight from the database file: the log itself. */
const loggedEvents = (dbPath: string, id: string): Array<Served> => {
  const db = new Database(dbPath, { readonly: true })
  try {
    const rows = db.prepare("SELECT revision, payload FROM events WHERE session_id = ? ORDER BY revision").all(id) as Array<{ revision: number; payload: string }>
    return rows.map((r) => {
      const { type, ...data } = JSON.parse(r.payload)
      return { revision: r.revision, type, data }
    })
  } finally {
    db.close()
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const isStatus = (status: "ok" | "degraded") => (m: ServerMessage) => m.type === "server_status" && m.status === status

describe("a full disk under the event log", () => {
  it("keeps and retries what it cannot commit, says degraded, heals once there is room, and never forks history", async (ctx) => {
    if (!mounted) {
      console.warn(`DiskFull.test.ts skipped: ${skipReason}`)
      ctx.skip()
    }
    const dbPath = path.join(mountPoint, "orbitdock.db")
    const start = async () => {
      const server = await startServerProcess(dataDir, ["--db", dbPath, "--evict-idle-ms", "1000"])
      servers.push(server)
      return server
    }
    const server = await start()
    const watcher = await server.connect()
    const create = async () => {
      const ack = await watcher.request({ type: "create_session", provider: "sim", cwd: "/work" })
      expect(ack.type).toBe("ack")
      return (ack as { session_id: string }).session_id
    }
    const bursting = await create()
    const later = await create()
    expect((await watcher.request({ type: "subscribe_session", session_id: bursting })).type).toBe("ack")
    const sdk = await Client.connect({ url: `ws://127.0.0.1:${server.port}/ws`, token: server.token })
    const notices: Array<Client.Events["notice"]> = []
    sdk.on("notice", (n) => notices.push(n))

    expect((await watcher.request({ type: "send_message", session_id: bursting, content: "/burst 20000" })).type).toBe("ack")
    // The burst runs on; its commits soon need more room than the file system has.
    fill(path.join(mountPoint, "filler"))
    await watcher.waitFor(isStatus("degraded"), 30_000)
    const degradedAt = Date.now()
    const health = await server.http("/health")
    expect(health.status).toBe(200)
    expect(health.body).toMatchObject({ status: "degraded", reason: expect.stringMatching(/full|SQLITE_FULL|IOERR/i) })
    const late = await server.connect()
    await late.waitFor(isStatus("degraded"))
    expect(late.messages.slice(0, 2).map((m) => m.type)).toStrictEqual(["hello", "server_status"])
    expect(notices).toContainEqual({ _tag: "ServerStatus", status: "degraded", reason: health.body.reason })

    // A command while the disk is full: acked only once its events are durable. Its small batch
    // goes beside the burst's (the express lane) and may commit even now, in WAL space SQLite
    // reuses; if it is acked, its events are in the log file at that moment.
    await sleep(10_000)
    const loggedBefore = loggedEvents(dbPath, later).length
    const command = watcher.request({ type: "send_message", session_id: later, content: "sent while the disk was full" }, 120_000)
    let loggedAtAck: number | undefined
    void command.then(() => (loggedAtAck = loggedEvents(dbPath, later).length))
    const shownBefore = watcher.messages.length
    await sleep(Math.max(0, degradedAt + FULL_FOR_MS - Date.now()))
    if (loggedAtAck !== undefined) expect(loggedAtAck).toBeGreaterThan(loggedBefore)
    // The producer is held back: the burst is not running ahead of a log that cannot take it.
    expect(watcher.messages.length - shownBefore).toBeLessThan(100)
    expect((await server.http("/health")).body.status).toBe("degraded")
    const metrics = await fetch(`http://127.0.0.1:${server.port}/metrics`, { headers: { authorization: `Bearer ${server.token}` } }).then((r) => r.text())
    expect(metrics).toMatch(/^orbitdock_event_log_degraded 1$/m)
    expect(Number(/^orbitdock_event_log_oldest_uncommitted_seconds (\S+)$/m.exec(metrics)![1])).toBeGreaterThan(FULL_FOR_MS / 1000 - 5)

    fs.rmSync(path.join(mountPoint, "filler"))
    await watcher.waitFor(isStatus("ok"), 15_000)
    await late.waitFor(isStatus("ok"), 15_000)
    expect((await server.http("/health")).body).toMatchObject({ status: "ok" })
    for (let i = 0; i < 100 && !notices.some((n) => n._tag === "ServerStatus" && n.status === "ok"); i++) await sleep(50)
    expect(notices.filter((n) => n._tag === "ServerStatus").map((n) => (n as { status: string }).status)).toStrictEqual(["degraded", "ok"])
    expect((await command).type).toBe("ack")
    // The burst resumes where it stopped and completes.
    await watcher.waitFor((m) => m.type === "message_appended" && m.message.content === "burst 20000", 60_000)
    await watcher.waitFor((m) => m.type === "session_delta" && m.session_id === bursting && m.changes.status === "waiting", 60_000)

    // What the client was shown, revision by revision, is what the log has and what is served.
    const shown = watcher.messages.filter(
      (m): m is SessionMessage & { revision: number } => "session_id" in m && m.session_id === bursting && typeof (m as { revision?: unknown }).revision === "number"
    )
    const expectConsistent = async (srv: ServerProcess) => {
      for (const id of [bursting, later]) {
        // Served may run ahead of the log by what is not committed yet, never differ from it.
        let served = await servedEvents(srv, id)
        for (let i = 0; i < 50 && loggedEvents(dbPath, id).length < served.length; i++) {
          await sleep(100)
          served = await servedEvents(srv, id)
        }
        expect(served.map((e) => e.revision)).toStrictEqual(served.map((_, i) => i + 1))
        expect(served).toStrictEqual(loggedEvents(dbPath, id))
      }
      const served = new Map((await servedEvents(srv, bursting)).map((e) => [e.revision, e]))
      for (const m of shown) {
        const event = served.get(m.revision)
        expect(event, `revision ${m.revision} was shown but is not served`).toBeDefined()
        if (m.type === "message_appended") expect(event!.data.message).toStrictEqual(m.message)
      }
      expect(served.size).toBe(shown.at(-1)!.revision)
      const prompts = (await servedEvents(srv, later)).filter((e) => e.type === "message_appended" && e.data.message.role === "user")
      expect(prompts.map((e) => e.data.message.content)).toStrictEqual(["sent while the disk was full"])
    }
    await expectConsistent(server)
    await sdk.close()
    await server.kill("SIGKILL")
    const restarted = await start()
    await expectConsistent(restarted)
  }, 180_000)
})
