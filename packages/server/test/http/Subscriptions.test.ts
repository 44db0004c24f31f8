/**
 * Every client message type through the whole server (sim sessions, SQLite log, transport) over
 * both subprotocols; acks in request order after the data they caused; two clients seeing the same
 * messages in the same order; `since_revision` resume; re-subscribing replaces; a client that stops
 * reading is resynced with a snapshot (and one stuck for too long is dropped).
 */
import type { ServerMessage, SessionState } from "@orbitdock/domain"
import { SessionMirror } from "@orbitdock/projections"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startTestServer, type TestClient, type TestServer } from "../helpers/testServer.js"

const runEffect = <A, E>(effect: Effect.Effect<A, E>): Promise<A> => Effect.runPromise(effect)

type Msg = ServerMessage & Record<string, any>

const isWaiting = (sessionId: string) => (m: Msg) =>
  m.type === "session_delta" && m.session_id === sessionId && m.changes.status === "waiting"

const createSim = async (client: TestClient, extra: object = {}): Promise<string> => {
  const ack = (await client.request({ type: "create_session", provider: "sim", cwd: "/work", ...extra })) as Msg
  expect(ack).toMatchObject({ type: "ack" })
  expect(typeof ack.session_id).toBe("string")
  return ack.session_id
}

/** Folds what a client got for one session into a state, as a client SDK would. */
const mirror = (client: TestClient, sessionId: string): SessionState | undefined => {
  let state: SessionState | undefined
  for (const m of client.messages as Array<Msg>) {
    if (m.session_id !== sessionId) continue
    if (m.type === "session_snapshot") state = m.session
    else if (state !== undefined && typeof m.revision === "number" && m.type !== "ack" && m.type !== "error") {
      state = SessionMirror.applyMessage(state, m as never)
    }
  }
  return state
}

describe("subscriptions and commands", () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer()
  })
  afterAll(() => server.cleanup())

  for (const protocol of ["json", "msgpack"] as const) {
    it(`${protocol}: every client message type`, async () => {
      const client = await server.connect({ protocol })
      // subscribe_list: sessions_list first, then the ack.
      const listAck = await client.request({ type: "subscribe_list" })
      expect(listAck).toEqual({ type: "ack", id: expect.any(String) })
      const listAt = client.messages.findIndex((m) => m.type === "sessions_list")
      expect(listAt).toBeGreaterThan(0)
      expect(listAt).toBeLessThan(client.messages.indexOf(listAck))

      const id = await createSim(client)
      // The list subscriber's session_created came before the create_session ack.
      const createdAt = client.messages.findIndex((m: Msg) => m.type === "session_created" && m.session.id === id)
      expect(createdAt).toBeGreaterThan(listAt)
      expect(createdAt).toBeLessThan(client.messages.findIndex((m: Msg) => m.type === "ack" && m.session_id === id))

      // subscribe_session: the snapshot, then the ack with the revision.
      const subAck = (await client.request({ type: "subscribe_session", session_id: id })) as Msg
      expect(subAck).toMatchObject({ type: "ack", session_id: id, revision: 1 })
      const snapshot = client.messages.find((m: Msg) => m.type === "session_snapshot" && m.session_id === id) as Msg
      expect(snapshot).toMatchObject({ revision: 1, session: { id, status: "waiting", provider: "sim" } })

      // send_message: its data precedes its ack.
      const sendAck = await client.request({ type: "send_message", session_id: id, content: "hello" })
      expect(sendAck).toEqual({ type: "ack", id: expect.any(String) })
      const ackAt = client.messages.indexOf(sendAck)
      const userAt = client.messages.findIndex((m: Msg) => m.type === "message_appended" && m.message.role === "user")
      expect(userAt).toBeGreaterThan(-1)
      expect(userAt).toBeLessThan(ackAt)
      await client.next(isWaiting(id))

      // approve_tool
      await client.request({ type: "send_message", session_id: id, content: "/exec ls" })
      const approval = (await client.next((m) => m.type === "approval_requested")) as Msg
      expect(approval.request).toMatchObject({ kind: "exec", command: "ls" })
      const approveAck = await client.request({ type: "approve_tool", session_id: id, request_id: approval.request.id, approved: true })
      expect(approveAck.type).toBe("ack")
      await client.next((m: Msg) => m.type === "message_appended" && m.message.role === "tool")
      await client.next(isWaiting(id))
      const again = (await client.request({ type: "approve_tool", session_id: id, request_id: approval.request.id, approved: true })) as Msg
      expect(again).toMatchObject({ type: "error", code: "conflict" })

      // answer_question
      await client.request({ type: "send_message", session_id: id, content: "/ask color?" })
      const question = (await client.next((m) => m.type === "question_asked")) as Msg
      expect((await client.request({ type: "answer_question", session_id: id, request_id: question.request.id, answer: "blue" })).type).toBe("ack")
      await client.next((m: Msg) => m.type === "message_appended" && m.message.content === "answer: blue")
      await client.next(isWaiting(id))

      // interrupt_session
      await client.request({ type: "send_message", session_id: id, content: "/sleep 60000" })
      expect((await client.request({ type: "interrupt_session", session_id: id })).type).toBe("ack")
      await client.next((m: Msg) => m.type === "message_appended" && m.message.content === "interrupted")
      await client.next(isWaiting(id))

      // unknown session
      expect(await client.request({ type: "send_message", session_id: "nope", content: "x" })).toMatchObject({ type: "error", code: "not_found" })

      // end_session: session_ended to session and list subscribers.
      expect((await client.request({ type: "end_session", session_id: id })).type).toBe("ack")
      const ended = client.messages.filter((m: Msg) => m.type === "session_ended" && m.session_id === id)
      expect(ended.length).toBeGreaterThanOrEqual(1)
      expect(ended[0]).toMatchObject({ reason: "ended_by_user" })

      // The mirror of what the client got equals the server's state.
      expect(mirror(client, id)).toEqual(await server.sessions.get(id as never).pipe(runEffect))

      // unsubscribe_session / unsubscribe_list: nothing more about it afterwards.
      const other = await createSim(client)
      await client.request({ type: "subscribe_session", session_id: other })
      await client.request({ type: "unsubscribe_session", session_id: other })
      expect((await client.request({ type: "unsubscribe_list" })).type).toBe("ack")
      const mark = client.messages.length
      await client.request({ type: "send_message", session_id: other, content: "quiet" })
      const later = await server.connect({ protocol })
      await later.request({ type: "subscribe_session", session_id: other })
      await later.next(turnDone(other, 2))
      await createSim(client)
      await client.request({ type: "subscribe_list" })
      expect(client.messages.slice(mark).filter((m: Msg) => m.session_id === other && m.type !== "sessions_list")).toEqual([])
      await later.close()
      await client.close()
    })
  }

  it("subscribe_session to an unknown session: not_found; unsubscribing what was never subscribed: ack", async () => {
    const client = await server.connect({ protocol: "msgpack" })
    expect(await client.request({ type: "subscribe_session", id: "s1", session_id: "ses_none" })).toMatchObject({ type: "error", id: "s1", code: "not_found" })
    expect(await client.request({ type: "unsubscribe_session", id: "s2", session_id: "ses_none" })).toEqual({ type: "ack", id: "s2" })
    const metrics = (await server.request("/metrics")).text
    expect(metrics).toMatch(/^orbitdock_subscribers \d+/m)
    await client.close()
  })

  it("a connection's subscriptions end with it: once its socket closes, the sessions and the list forget it", async () => {
    const subscribers = async () => Number(/^orbitdock_subscribers (\d+)/m.exec((await server.request("/metrics")).text)?.[1])
    const before = await subscribers()
    const client = await server.connect()
    const ids = [await createSim(client), await createSim(client), await createSim(client)]
    await client.request({ type: "subscribe_list" })
    for (const id of ids) await client.request({ type: "subscribe_session", session_id: id })
    expect(await subscribers()).toBeGreaterThanOrEqual(before + 4)
    await client.close()
    await waitUntilAsync(async () => (await subscribers()) === before)
  })

  it("acks about one session, and the list's, leave in request order, even when an earlier command takes longer", async () => {
    const client = await server.connect()
    const id = await createSim(client)
    await client.request({ type: "subscribe_session", session_id: id })
    // Pipelined: the send waits for durability, the subscriptions would be instant.
    client.send({ type: "send_message", id: "first", session_id: id, content: "hi" })
    client.send({ type: "subscribe_list", id: "second" })
    client.send({ type: "unsubscribe_session", id: "third", session_id: id })
    client.send({ type: "unsubscribe_list", id: "fourth" })
    await client.waitFor((m: Msg) => m.type === "ack" && m.id === "third")
    await client.waitFor((m: Msg) => m.type === "ack" && m.id === "fourth")
    const acks = (client.messages as Array<Msg>).filter((m) => m.type === "ack").map((m) => m.id)
    expect(acks.filter((ack) => ack === "first" || ack === "third")).toEqual(["first", "third"])
    expect(acks.filter((ack) => ack === "second" || ack === "fourth")).toEqual(["second", "fourth"])
    await client.close()
  })

  it("two clients see the same session messages in the same order (JSON and msgpack alike)", async () => {
    const a = await server.connect()
    const b = await server.connect({ protocol: "msgpack" })
    const id = await createSim(a)
    await a.request({ type: "subscribe_session", session_id: id })
    await b.request({ type: "subscribe_session", session_id: id })
    await a.request({ type: "send_message", session_id: id, content: "/burst 300" })
    await a.next(isWaiting(id), 10_000)
    await b.next(isWaiting(id), 10_000)
    const of = (client: TestClient) =>
      (client.messages as Array<Msg>).filter((m) => m.session_id === id && m.type !== "ack" && m.type !== "session_snapshot")
    expect(of(a).length).toBeGreaterThan(300)
    expect(of(b)).toEqual(of(a))
    const revisions = of(a).map((m) => m.revision)
    expect(revisions).toEqual(Array.from({ length: revisions.length }, (_, i) => revisions[0] + i))
    await a.close()
    await b.close()
  })

  it("resumes with since_revision, answers the current revision with the ack only, replaces a second subscription", async () => {
    const a = await server.connect()
    const id = await createSim(a)
    await a.request({ type: "subscribe_session", session_id: id })
    await a.request({ type: "send_message", session_id: id, content: "one" })
    await a.next(isWaiting(id))
    const seen = (a.messages as Array<Msg>).filter((m) => m.session_id === id && m.type !== "ack" && m.type !== "session_snapshot")
    const current = seen[seen.length - 1].revision

    const b = await server.connect({ protocol: "msgpack" })
    const ack = (await b.request({ type: "subscribe_session", session_id: id, since_revision: 3 })) as Msg
    expect(ack).toMatchObject({ session_id: id, revision: current })
    const resumed = (b.messages as Array<Msg>).filter((m) => m.session_id === id && m.type !== "ack")
    expect(resumed).toEqual(seen.filter((m) => m.revision > 3))

    const c = await server.connect()
    const before = c.messages.length
    await c.request({ type: "subscribe_session", session_id: id, since_revision: current })
    expect(c.messages.slice(before).map((m) => m.type)).toEqual(["ack"])
    // Subscribing again replaces: one copy of each later message.
    await c.request({ type: "subscribe_session", session_id: id, since_revision: current })
    await a.request({ type: "send_message", session_id: id, content: "two" })
    await c.next(isWaiting(id))
    const live = (c.messages as Array<Msg>).filter((m) => m.session_id === id && m.type !== "ack")
    const liveRevisions = live.map((m) => m.revision)
    expect(new Set(liveRevisions).size).toBe(liveRevisions.length)
    expect(liveRevisions[0]).toBe(current + 1)
    for (const client of [a, b, c]) await client.close()
  })
})

/** Until `predicate` holds, checking every 20 ms, at most `timeoutMs` (for server-side effects no message announces). */
const waitUntil = async (predicate: () => boolean, timeoutMs = 10_000) => {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error("condition not met in time")
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** `waitUntil` for a condition that must be fetched. */
const waitUntilAsync = async (predicate: () => Promise<boolean>, timeoutMs = 10_000) => {
  const deadline = Date.now() + timeoutMs
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error("condition not met in time")
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** The end of a turn: its `waiting` delta, or a resync snapshot taken after it. */
const turnDone = (sessionId: string, minMessages: number) => (m: Msg) =>
  m.session_id === sessionId &&
  ((m.type === "session_delta" && m.changes.status === "waiting") ||
    (m.type === "session_snapshot" && m.session.status === "waiting" && m.session.message_count >= minMessages))

describe("slow clients", () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer({ transport: { outboxLimit: 200, stuckTimeoutMs: 300 } })
  })
  afterAll(() => server.cleanup())

  const resyncCount = async () =>
    Number(/^orbitdock_subscribers_resynced_total (\d+)/m.exec((await server.request("/metrics")).text)?.[1] ?? 0)

  it("a client that falls behind is resynced with a snapshot and ends with the server's state", async () => {
    const driver = await server.connect()
    const slow = await server.connect({ protocol: "msgpack" })
    const id = await createSim(driver)
    await driver.request({ type: "subscribe_session", session_id: id })
    await slow.request({ type: "subscribe_session", session_id: id })
    await slow.request({ type: "subscribe_list" })
    const resyncedBefore = await resyncCount()
    // 2000 messages at once overflow a 200-message outbox.
    slow.ws.pause()
    await driver.request({ type: "send_message", session_id: id, content: "/burst 2000" }, 20_000)
    await driver.next(turnDone(id, 2001), 20_000)
    const state = await server.sessions.get(id as never).pipe(runEffect)
    slow.ws.resume()
    await slow.next((m: Msg) => m.session_id === id && m.revision === state.revision, 20_000)
    expect((slow.messages as Array<Msg>).some((m) => m.type === "session_snapshot" && m.revision > 1)).toBe(true)
    expect(mirror(slow, id)).toEqual(state)
    expect(mirror(driver, id)).toEqual(state)
    expect(await resyncCount()).toBeGreaterThan(resyncedBefore)
    for (const frame of slow.frames) if (Array.isArray(frame)) expect(frame.length).toBeLessThanOrEqual(256)
    // Still live afterwards.
    await driver.request({ type: "send_message", session_id: id, content: "after" })
    await slow.next((m: Msg) => m.type === "message_appended" && m.message.content === "echo: after" || (m.type === "message_updated" && m.changes.content === "echo: after"))
    expect(slow.ws.readyState).toBe(slow.ws.OPEN)
    await driver.close()
    await slow.close()
  })

  it("a client whose socket stays stuck is dropped", async () => {
    const driver = await server.connect()
    const stuck = await server.connect()
    const id = await createSim(driver)
    await stuck.request({ type: "subscribe_session", session_id: id })
    const connections = server.transport.connectionCount()
    stuck.ws.pause()
    // ~4.5 MB per turn (the content, then three full-content updates): more than socket buffers hold.
    const content = "q".repeat(900 * 1024)
    for (let i = 0; i < 5; i++) {
      await driver.request({ type: "send_message", session_id: id, content }, 20_000)
      await driver.request({ type: "subscribe_session", session_id: id }, 20_000)
    }
    await waitUntil(() => server.transport.connectionCount() < connections)
    stuck.ws.resume()
    const { code } = await stuck.closed
    expect([4000, 1006]).toContain(code)
    expect((await server.request("/metrics")).text).toMatch(/^orbitdock_subscribers_dropped_total [1-9]/m)
    await driver.close()
  })
})
