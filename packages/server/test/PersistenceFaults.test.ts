/**
 * Persistence faults on the whole in-process server (real SQLite file, real worker, real sockets):
 * a second connection holds the database's write lock, so every commit fails (SQLITE_BUSY) until
 * it lets go. Meanwhile what clients were shown is kept (not dropped, its session not evicted), the
 * server says `degraded` (`/health`, `server_status` to every connection and after `hello`), a hook
 * whose events cannot be committed is answered 503, and everything heals once the lock goes.
 * The disk-full version, with a real server process, is in `DiskFull.test.ts`.
 */
import type { MessageId, ServerMessage, SessionId } from "@orbitdock/domain"
import Database from "better-sqlite3"
import { Effect, Metric } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { makeClaudeConnector } from "../src/connectors/claude/ClaudeConnector.js"
import type { ConnectorFactory, ConnectorHost } from "../src/connectors/Connector.js"
import * as Sim from "../src/connectors/Sim.js"
import * as Metrics from "../src/Metrics.js"
import { startTestServer, type TestServer } from "./helpers/testServer.js"

let server: TestServer | undefined
const cleanups: Array<() => void> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) cleanup()
  await server?.cleanup()
  server = undefined
})

/** Polls (the sweep's effect shows only in a gauge) every 50 ms, for at most 10 s. */
const until = async (condition: () => boolean) => {
  const deadline = Date.now() + 10_000
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in 10 s")
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
const loaded = () => Effect.runSync(Metric.value(Metrics.sessionsLoaded)).value
const isStatus = (status: "ok" | "degraded") => (m: ServerMessage) => m.type === "server_status" && m.status === status

describe("persistence faults (a locked database)", () => {
  it("keeps what was shown, says degraded, answers hooks 503, evicts nothing uncommitted, heals", async () => {
    let host: ConnectorHost | undefined
    const capture: ConnectorFactory = (h) => {
      host = h
      return Sim.make(h)
    }
    const claudeDir = fs.mkdtempSync(path.join(os.tmpdir(), "orbitdock-claude-faults-"))
    cleanups.push(() => fs.rmSync(claudeDir, { recursive: true, force: true }))
    server = await startTestServer({
      config: { evictIdleMs: 300 },
      connectors: [capture, makeClaudeConnector({ env: { PATH: "" }, claudeDir, importRecent: 0 })]
    })
    const hook = (body: object) =>
      server!.request("/hook", { method: "POST", via: "unix", body: JSON.stringify(body), headers: { "content-type": "application/json" } })

    const a = await server.connect()
    const created = await a.request({ type: "create_session", provider: "sim", cwd: "/work" })
    const sessionId = (created as { session_id: SessionId }).session_id
    expect((await a.request({ type: "subscribe_session", session_id: sessionId })).type).toBe("ack")
    const claudeSession = "8b6a0c1e-4f3e-4c44-9d0f-5a1f2b3c4d5e"
    expect((await hook({ hook_event_name: "SessionStart", session_id: claudeSession, cwd: "/work" })).status).toBe(202)
    // The Claude session, idle and committed, leaves memory; the subscribed sim session stays.
    await until(() => loaded() === 1)

    // Every commit fails from now on: the worker's busy timeout (1 s) runs out on each attempt.
    const locker = new Database(server.config.dbPath)
    cleanups.push(() => locker.close())
    locker.exec("BEGIN IMMEDIATE")
    const contents = ["kept 1", "kept 2", "kept 3"]
    {
      const receipt = await Effect.runPromise(
        host!.emit(
          sessionId,
          contents.map((content) => ({
            event: {
              type: "message_appended",
              message: { id: host!.newId("msg") as MessageId, role: "assistant", content, created_at: host!.now() }
            }
          }))
        )
      )
      await Effect.runPromise(receipt.folded)
    }
    const shown = await a.waitFor((m) => m.type === "message_appended" && m.message.content === "kept 3")
    expect((await a.request({ type: "unsubscribe_session", session_id: sessionId })).type).toBe("ack")

    await a.waitFor(isStatus("degraded"), 10_000)
    const degraded = await server.request("/health")
    expect(degraded.status).toBe(200)
    expect(degraded.body).toMatchObject({ status: "degraded", reason: expect.stringMatching(/SQLITE_BUSY/) })
    // A client connecting now hears it right after hello.
    const b = await server.connect()
    await b.waitFor(isStatus("degraded"))
    expect(b.messages.slice(0, 2).map((m) => m.type)).toStrictEqual(["hello", "server_status"])
    expect(b.messages[1]).toMatchObject({ reason: degraded.body.reason })

    // A hook whose events cannot be committed is not answered 202: neither a turn's start nor a new
    // session's first sighting.
    const [refused, unseen] = await Promise.all([
      hook({ hook_event_name: "UserPromptSubmit", session_id: claudeSession, cwd: "/work", prompt_id: "p-1", prompt: "hi" }),
      hook({ hook_event_name: "SessionStart", session_id: "0f1e2d3c-4b5a-4968-8776-655443322110", cwd: "/elsewhere" })
    ])
    expect(refused.status).toBe(503)
    expect(refused.body).toMatchObject({ code: "unavailable", message: expect.stringMatching(/not recorded/) })
    expect(unseen.status).toBe(503)

    // The hook brought the Claude session back (working now), the other one is new. The sim session
    // is idle, unsubscribed and settled, well past the eviction time, yet still in memory: its
    // events are not committed (rehydrated now, it would lack them). So is the new session.
    expect(loaded()).toBe(3)
    const metrics = await server.request("/metrics")
    expect(metrics.text).toMatch(/^orbitdock_event_log_degraded 1$/m)
    expect(Number(/^orbitdock_event_log_oldest_uncommitted_seconds (\S+)$/m.exec(metrics.text)![1])).toBeGreaterThan(1)
    expect(Number(/^orbitdock_append_retries_total (\S+)$/m.exec(metrics.text)![1])).toBeGreaterThan(1)

    locker.exec("COMMIT")
    await a.waitFor(isStatus("ok"), 10_000)
    await b.waitFor(isStatus("ok"), 10_000)
    expect(a.messages.filter((m) => m.type === "server_status").map((m) => (m as { status: string }).status)).toStrictEqual(["degraded", "ok"])
    expect((await server.request("/health")).body).toMatchObject({ status: "ok" })
    expect((await server.request("/health")).body.reason).toBeUndefined()

    // Once committed they may leave memory; read back from the log, it is what the client was shown.
    await until(() => loaded() === 1)
    const page = await server.request(`/api/sessions/${sessionId}/events`)
    const appended = page.body.events.filter((e: { type: string }) => e.type === "message_appended").map((e: { revision: number; data: { message: { content: string } } }) => [e.revision, e.data.message.content])
    expect(appended.slice(-3)).toStrictEqual(
      a.messages.filter((m) => m.type === "message_appended" && contents.includes(m.message.content)).map((m) => [(m as { revision: number }).revision, (m as { message: { content: string } }).message.content])
    )
    expect(appended.at(-1)).toStrictEqual([(shown as { revision: number }).revision, "kept 3"])
    // The hook's turn was kept too, and committed once the log healed.
    const claude = (await server.request("/api/sessions")).body.filter((s: { provider: string }) => s.provider === "claude")
    expect(claude.map((s: { cwd: string; status: string }) => [s.cwd, s.status])).toStrictEqual([["/work", "working"], ["/elsewhere", "waiting"]])
  }, 30_000)

  it("starts while the log cannot commit: the interrupted turn is closed at once and durable once it heals", async () => {
    const first = await startTestServer()
    const client = await first.connect()
    const created = await client.request({ type: "create_session", provider: "sim", cwd: "/work" })
    const sessionId = (created as { session_id: SessionId }).session_id
    expect((await client.request({ type: "send_message", session_id: sessionId, content: "/sleep 600000" })).type).toBe("ack")
    await first.close()

    const locker = new Database(first.config.dbPath)
    cleanups.push(() => locker.close())
    locker.exec("BEGIN IMMEDIATE")
    const started = Date.now()
    server = await startTestServer({ dataDir: first.dataDir })
    // Up within the recovery's bounded wait, not blocked until the log can commit.
    expect(Date.now() - started).toBeLessThan(15_000)
    expect((await server.request("/health")).body).toMatchObject({ status: "degraded" })
    const recovered = (await server.request(`/api/sessions/${sessionId}`)).body
    expect(recovered.status).toBe("waiting")
    expect(recovered.messages.at(-1)).toMatchObject({ role: "system", content: "interrupted: server restarted" })

    const aborted = () => {
      const db = new Database(first.config.dbPath, { readonly: true })
      try {
        return (db.prepare("SELECT count(*) AS n FROM events WHERE session_id = ? AND type = 'turn_aborted'").get(sessionId) as { n: number }).n
      } finally {
        db.close()
      }
    }
    expect(aborted()).toBe(0)
    locker.exec("COMMIT")
    await until(() => aborted() === 1)
    expect((await server.request("/health")).body).toMatchObject({ status: "ok" })
  }, 30_000)
})
