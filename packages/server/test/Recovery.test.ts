/**
 * Crash recovery, for real: a server process killed with SIGKILL in the middle of a burst restarts
 * with a log that replays to a consistent state (gapless revisions, no torn batch), every acked
 * command's event present, the HTTP state equal to the fold of the log, and interrupted turns closed
 * (pending requests expired, `interrupted: server restarted`, status waiting).
 */
import type { SessionState } from "@orbitdock/domain"
import { SessionProjection } from "@orbitdock/projections"
import Database from "better-sqlite3"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { allEvents, serverKeeper } from "./helpers/serverProcess.js"

const keeper = serverKeeper()
afterEach(keeper.stopAll)
const start = (dataDir: string) => keeper.start(dataDir)


describe("recovery after kill -9", () => {
  it("replays to a consistent state with every acked command and closes interrupted turns", async () => {
    const dataDir = keeper.dataDir("orbitdock-recovery-")
    const first = await start(dataDir)
    const client = await first.connect()

    const create = async () => {
      const ack = await client.request({ type: "create_session", provider: "sim", cwd: "/work" })
      expect(ack.type).toBe("ack")
      return (ack as { session_id: string }).session_id
    }
    // One session waits on an approval, one on a question, one streams a long burst, and several
    // take plain-text turns as fast as their acks come back.
    const approving = await create()
    expect((await client.request({ type: "send_message", session_id: approving, content: "/exec make deploy" })).type).toBe("ack")
    const asking = await create()
    expect((await client.request({ type: "send_message", session_id: asking, content: "/ask which branch?" })).type).toBe("ack")
    const sleeping = await create()
    expect((await client.request({ type: "send_message", session_id: sleeping, content: "/sleep 600000" })).type).toBe("ack")
    const bursting = await create()
    const talkers = await Promise.all([create(), create(), create()])

    const acked: Array<{ session: string; content: string }> = []
    let stop = false
    const talk = async (session: string) => {
      for (let i = 0; !stop; i++) {
        const content = `turn ${i} of ${session}`
        const answer = await client.request({ type: "send_message", session_id: session, content }, 10_000).catch(() => null)
        if (answer?.type === "ack") acked.push({ session, content })
        else if (answer?.type === "error" && answer.code === "conflict") continue
        else return
      }
    }
    expect((await client.request({ type: "send_message", session_id: bursting, content: "/burst 100000" })).type).toBe("ack") // the sim's largest
    const talking = talkers.map(talk)
    // Kill it mid-burst, once commands have been acked.
    while (acked.length < 30) await new Promise((r) => setTimeout(r, 10))
    stop = true
    await first.kill("SIGKILL")
    await Promise.allSettled(talking)

    // The log on disk: gapless revisions 1..n per session, and each session's summary (written in
    // the same transaction as its events) at exactly the last revision: no torn batch.
    const db = new Database(path.join(dataDir, "orbitdock.db"), { readonly: true })
    const streams = db
      .prepare("SELECT session_id, COUNT(*) AS n, MIN(revision) AS lo, MAX(revision) AS hi FROM events GROUP BY session_id")
      .all() as Array<{ session_id: string; n: number; lo: number; hi: number }>
    const summaries = new Map(
      (db.prepare("SELECT session_id, revision FROM session_summaries").all() as Array<{ session_id: string; revision: number }>).map(
        (r) => [r.session_id, r.revision]
      )
    )
    db.close()
    expect(streams.length).toBe(7)
    for (const s of streams) {
      expect(s.lo).toBe(1)
      expect(s.n).toBe(s.hi)
      expect(summaries.get(s.session_id)).toBe(s.hi)
    }

    const second = await start(dataDir)
    expect(second.serverId).not.toBe(first.serverId)
    for (const { session_id } of streams) {
      const events = await allEvents(second, session_id)
      expect(events.map((e) => e.revision)).toEqual(events.map((_, i) => i + 1))
      const { body: state } = (await second.http(`/api/sessions/${session_id}`)) as { body: SessionState }
      expect(state).toEqual(JSON.parse(JSON.stringify(SessionProjection.replay(session_id as never, events).state)))
      expect(state.status).not.toBe("working")
    }
    for (const { session, content } of acked) {
      const { body: state } = (await second.http(`/api/sessions/${session}`)) as { body: SessionState }
      expect(state.messages.some((m) => m.role === "user" && m.content === content)).toBe(true)
    }
    for (const id of [approving, asking, sleeping]) {
      const { body: state } = (await second.http(`/api/sessions/${id}`)) as { body: SessionState }
      expect(state).toMatchObject({ status: "waiting", attention: false, pending_approval: null, pending_question: null })
      expect(state.messages.at(-1)).toMatchObject({ role: "system", content: "interrupted: server restarted" })
    }
    const types = (await allEvents(second, approving)).map((e) => e.event)
    expect(types).toContainEqual(expect.objectContaining({ type: "approval_resolved", outcome: "expired" }))

    // The recovered sessions take new turns.
    const again = await second.connect()
    expect((await again.request({ type: "send_message", session_id: approving, content: "still there?" })).type).toBe("ack")
  }, 60_000)
})
