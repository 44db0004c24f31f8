/**
 * The inbox end to end on a real server (sim sessions, real sockets, a real SQLite log): attention
 * with a reason, `GET /api/inbox`, `subscribe_inbox`, seen and snoozed as events every device
 * shares, batch approvals resolved exactly once, stalls, and all of it after a restart.
 */
import type { InboxItem, ServerMessage } from "@orbitdock/domain"
import Database from "better-sqlite3"
import { afterEach, describe, expect, it } from "vitest"
import { startTestServer, type TestClient, type TestServer } from "./helpers/testServer.js"

let server: TestServer | undefined
afterEach(async () => {
  await server?.cleanup()
  server = undefined
})

const inboxOf = async (s: TestServer, query = ""): Promise<ReadonlyArray<InboxItem>> => {
  const answer = await s.request(`/api/inbox${query}`)
  expect(answer.status).toBe(200)
  return answer.body.items
}

const create = async (client: TestClient, prompt?: string): Promise<string> => {
  const ack = await client.request({ type: "create_session", provider: "sim", cwd: "/repo", ...(prompt ? { prompt } : {}) })
  expect(ack.type).toBe("ack")
  return (ack as { session_id: string }).session_id
}

const isInboxChange = (sessionId: string, test: (item: InboxItem | null) => boolean) => (m: ServerMessage) =>
  m.type === "inbox_changed" && m.session_id === sessionId && test(m.item)

describe("the inbox", () => {
  it("lists what needs the person with its reason, live, and follows each change", async () => {
    server = await startTestServer()
    const client = await server.connect()
    const watcher = await server.connect()
    expect(await watcher.request({ type: "subscribe_inbox" })).toMatchObject({ type: "ack" })
    expect(await watcher.waitFor((m) => m.type === "inbox")).toMatchObject({ type: "inbox", items: [] })

    const a = await create(client, "/exec rm -rf build")
    const asked = (await watcher.waitFor(isInboxChange(a, (item) => item?.reason === "approval"))) as Extract<ServerMessage, { type: "inbox_changed" }>
    expect(asked.item).toMatchObject({ session_id: a, reason: "approval", summary: "run: rm -rf build [destructive]", seen: false, provider: "sim", cwd: "/repo" })
    const requestId = asked.item!.request_id!
    expect(await inboxOf(server)).toEqual([asked.item])

    // Answered: the turn runs on (nothing needed), then finishes (the agent waits for its person).
    expect(await client.request({ type: "approve_tool", session_id: a, request_id: requestId, approved: true })).toMatchObject({ type: "ack" })
    await watcher.waitFor(isInboxChange(a, (item) => item === null))
    const finished = (await watcher.waitFor(isInboxChange(a, (item) => item?.reason === "turn_finished"))) as Extract<ServerMessage, { type: "inbox_changed" }>
    expect(finished.item).toMatchObject({ summary: "echo: done", seen: false })

    // A second session asks a question: it waited less, so it comes second.
    const b = await create(client, "/ask Which port?")
    await watcher.waitFor(isInboxChange(b, (item) => item?.reason === "question"))
    expect((await inboxOf(server)).map((item) => [item.session_id, item.reason, item.summary])).toEqual([
      [a, "turn_finished", "echo: done"],
      [b, "question", "Which port?"]
    ])
    // The summary carries it too, for the list.
    const list = (await server.request("/api/sessions")).body as Array<{ id: string; attention_detail: unknown }>
    expect(list.find((s) => s.id === b)?.attention_detail).toMatchObject({ reason: "question" })
  })

  it("seen and snoozed are events: every device sees them, and they survive a restart", async () => {
    server = await startTestServer()
    const laptop = await server.connect()
    const phone = await server.connect()
    await phone.request({ type: "subscribe_inbox" })
    const a = await create(laptop, "hello")
    const item = (await phone.waitFor(isInboxChange(a, (i) => i?.reason === "turn_finished"))) as Extract<ServerMessage, { type: "inbox_changed" }>

    expect(await laptop.request({ type: "mark_attention", session_id: a, seen: true })).toMatchObject({ type: "ack", session_id: a })
    await phone.waitFor(isInboxChange(a, (i) => i?.seen === true))

    // A mark for an attention that was replaced is refused; so is one for a session that needs nobody.
    expect(await laptop.request({ type: "mark_attention", session_id: a, since: "2020-01-01T00:00:00.000Z", seen: true })).toMatchObject({
      type: "error",
      code: "conflict"
    })
    expect(await laptop.request({ type: "mark_attention", session_id: a, snoozed_until: "not a time" })).toMatchObject({
      type: "error",
      code: "invalid_message"
    })

    const until = new Date(Date.now() + 3_600_000).toISOString()
    expect(await laptop.request({ type: "mark_attention", session_id: a, snoozed_until: until })).toMatchObject({ type: "ack" })
    await phone.waitFor(isInboxChange(a, (i) => i === null))
    expect(await inboxOf(server)).toEqual([])
    expect(await inboxOf(server, "?snoozed=true")).toMatchObject([{ session_id: a, seen: true, snoozed_until: until }])

    const events = (await server.request(`/api/sessions/${a}/events`)).body.events as Array<{ type: string }>
    expect(events.filter((e) => e.type === "attention_marked")).toHaveLength(2)

    // Restarted on the same log: the same inbox (the marks are in the log).
    const dataDir = server.dataDir
    await server.close()
    server = await startTestServer({ dataDir })
    expect(await inboxOf(server, "?snoozed=true")).toMatchObject([{ session_id: a, since: item.item!.since, seen: true, snoozed_until: until }])
    const again = await server.connect()
    expect(await again.request({ type: "mark_attention", session_id: a, snoozed_until: null })).toMatchObject({ type: "ack" })
    expect(await inboxOf(server)).toMatchObject([{ session_id: a, seen: true }])
    expect((await inboxOf(server))[0]).not.toHaveProperty("snoozed_until")
  })

  it("approves several requests in one command, each exactly once", async () => {
    server = await startTestServer()
    const client = await server.connect()
    await client.request({ type: "subscribe_inbox" })
    const sessions = [await create(client, "/exec make a"), await create(client, "/exec make b")]
    for (const id of sessions) await client.waitFor(isInboxChange(id, (i) => i?.reason === "approval"))
    const requests = (await inboxOf(server)).map((i) => ({ session_id: i.session_id, request_id: i.request_id }))
    expect(requests).toHaveLength(2)
    const bogus = { session_id: sessions[0], request_id: "req_nope" }

    const first = await client.request({ type: "approve_requests", approved: true, requests: [...requests, requests[0], bogus] })
    expect(first).toMatchObject({
      type: "ack",
      results: [
        { ...requests[0], ok: true },
        { ...requests[1], ok: true },
        { ...requests[0], ok: false, code: "conflict" },
        { ...bogus, ok: false, code: "not_found" }
      ]
    })
    const again = await client.request({ type: "approve_requests", approved: false, requests })
    expect(again).toMatchObject({ type: "ack", results: requests.map((r) => ({ ...r, ok: false, code: "conflict" })) })
    for (const id of sessions) {
      const events = (await server.request(`/api/sessions/${id}/events`)).body.events as Array<{ type: string; data: { outcome?: string } }>
      expect(events.filter((e) => e.type === "approval_resolved").map((e) => e.data.outcome)).toEqual(["approved"])
    }
    expect(await client.request({ type: "approve_requests", approved: true, requests: [] })).toMatchObject({ type: "error", code: "invalid_message" })
  })

  it("after an upgrade, sessions written without attention details get theirs from their log", async () => {
    server = await startTestServer()
    const client = await server.connect()
    await client.request({ type: "subscribe_inbox" })
    const a = await create(client, "hello")
    await client.waitFor(isInboxChange(a, (i) => i?.reason === "turn_finished"))
    const dataDir = server.dataDir
    await server.close()
    // What an older version left: summaries and snapshots without the attention fields.
    const db = new Database(server.config.dbPath)
    for (const { session_id, summary } of db.prepare("SELECT session_id, summary FROM session_summaries").all() as Array<{ session_id: string; summary: string }>) {
      const { attention_detail: _a, ...older } = JSON.parse(summary)
      db.prepare("UPDATE session_summaries SET summary = ? WHERE session_id = ?").run(JSON.stringify(older), session_id)
    }
    for (const { session_id, projection } of db.prepare("SELECT session_id, projection FROM snapshots").all() as Array<{ session_id: string; projection: string }>) {
      const { turn_attention: _t, state, ...rest } = JSON.parse(projection)
      const { attention_detail: _a, ...olderState } = state
      db.prepare("UPDATE snapshots SET projection = ? WHERE session_id = ?").run(JSON.stringify({ ...rest, state: olderState }), session_id)
    }
    db.close()

    server = await startTestServer({ dataDir })
    const deadline = Date.now() + 10_000
    let items: ReadonlyArray<InboxItem> = []
    while (items.length === 0 && Date.now() < deadline) {
      items = await inboxOf(server)
      if (items.length === 0) await new Promise((resolve) => setTimeout(resolve, 50))
    }
    expect(items).toMatchObject([{ session_id: a, reason: "turn_finished", summary: "echo: hello" }])
  })

  it("a working session that goes silent is stalled until it speaks again", async () => {
    server = await startTestServer({ config: { stallAfterMs: 300 } })
    const client = await server.connect()
    await client.request({ type: "subscribe_inbox" })
    const a = await create(client, "/sleep 2500")
    const stalled = (await client.waitFor(isInboxChange(a, (i) => i?.reason === "stalled"), 10_000)) as Extract<ServerMessage, { type: "inbox_changed" }>
    expect(stalled.item).toMatchObject({ summary: "silent while working" })
    // Once: a stall is recorded once however long the silence lasts.
    await client.waitFor(isInboxChange(a, (i) => i?.reason === "turn_finished"), 10_000)
    const events = (await server.request(`/api/sessions/${a}/events`)).body.events as Array<{ type: string }>
    expect(events.filter((e) => e.type === "session_stalled")).toHaveLength(1)
  })
})
