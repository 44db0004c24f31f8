/**
 * Hydration from a snapshot through the whole in-process server (registry, actors, HTTP): a session
 * restarted onto its snapshot and message pages answers `GET /api/sessions/:id` and a subscription
 * with its whole state, and once it changes, with its new state.
 */
import { SessionProjection } from "@orbitdock/projections"
import type { SessionId } from "@orbitdock/domain"
import Database from "better-sqlite3"
import { Effect } from "effect"
import * as fs from "node:fs"
import { afterEach, describe, expect, it } from "vitest"
import * as EventLogSqlite from "../src/eventlog/EventLogSqlite.js"
import * as AssembledState from "../src/eventlog/assembledState.js"
import { makeSnapshotStore } from "../src/eventlog/snapshotStore.js"
import { startTestServer, type TestServer } from "./helpers/testServer.js"

let servers: Array<TestServer> = []
let dirs: Array<string> = []
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close()
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
})

const start = async (dataDir?: string) => {
  const server = await startTestServer(dataDir === undefined ? {} : { dataDir })
  servers.push(server)
  dirs.push(server.dataDir)
  return server
}

/** Polls the session over HTTP (every 20 ms, at most 10 s) until its turn is over. */
const settled = async (server: TestServer, id: string, messages: number) => {
  for (let i = 0; i < 500; i++) {
    const answer = await server.request(`/api/sessions/${id}`)
    if (answer.body?.status === "waiting" && answer.body.messages.length >= messages) return answer
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error(`session ${id} did not settle`)
}

/** Every committed event of a session, read through a log opened on the file (the server is stopped). */
const replayFromFile = (dbPath: string, id: SessionId) =>
  Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const log = yield* EventLogSqlite.make({ dbPath, flushMs: 20, batchSize: 50 })
        return SessionProjection.replay(id, yield* log.readSession(id, 0))
      })
    )
  )

describe("hydration from a snapshot, end to end", () => {
  it("a session restarted onto its snapshot and message pages answers with its whole state, then with the state after a change", async () => {
    const first = await start()
    const client = await first.connect()
    const ack = await client.request({ type: "create_session", provider: "sim", cwd: "/snap" })
    const id = (ack as { session_id: string }).session_id
    expect((await client.request({ type: "send_message", session_id: id, content: "/burst 400" })).type).toBe("ack")
    await settled(first, id, 401)
    await first.close()
    servers = []

    // What the writer worker does once a session is due, done now (unless it already did, before
    // it stopped): most of the 402 messages go to pages.
    const dbPath = first.config.dbPath
    const replayed = await replayFromFile(dbPath, id as SessionId)
    const db = new Database(dbPath)
    makeSnapshotStore(db).write(id)
    expect(db.prepare("SELECT revision, paged FROM snapshots WHERE session_id = ?").get(id)).toEqual({
      revision: replayed.state.revision,
      paged: 256
    })
    db.close()

    const second = await start(first.dataDir)
    const cold = await second.request(`/api/sessions/${id}`)
    expect(cold.status).toBe(200)
    expect(cold.body).toEqual(replayed.state)
    // Such answers are copied into pooled buffers (AnswerBuffers), reused once sent: reads at once
    // and in a row each get the whole state, unmixed.
    for (let round = 0; round < 3; round++) {
      const answers = await Promise.all(Array.from({ length: 6 }, () => second.request(`/api/sessions/${id}`)))
      for (const answer of answers) expect(answer.body).toEqual(replayed.state)
    }
    // Written from the pages' text as stored (spliced), not parsed and stringified again.
    const live = await Effect.runPromise(second.sessions.get(id as SessionId))
    expect(JSON.parse(AssembledState.jsonChunksOf(live)!.join(""))).toEqual(replayed.state)
    // A subscriber's snapshot is the same whole state.
    const watcher = await second.connect()
    await watcher.request({ type: "subscribe_session", session_id: id })
    const snapshot = await watcher.next((m) => m.type === "session_snapshot")
    expect(snapshot.type === "session_snapshot" && snapshot.session).toEqual(replayed.state)

    const again = await second.connect()
    expect((await again.request({ type: "send_message", session_id: id, content: "again" })).type).toBe("ack")
    const after = await settled(second, id, replayed.state.messages.length + 2)
    const current = await Effect.runPromise(second.sessions.get(id as SessionId))
    expect(after.body).toEqual(JSON.parse(JSON.stringify(current)))
    expect(after.body.revision).toBeGreaterThan(replayed.state.revision)
    expect(after.body.messages.slice(0, replayed.state.messages.length)).toEqual(replayed.state.messages)
  }, 30_000)
})
