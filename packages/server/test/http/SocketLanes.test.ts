/**
 * A connection's messages in lanes, against the whole real server and a real `ws` client: a command
 * about one session never waits behind an earlier command about another session on the same
 * connection, while messages about the same session (its commands and subscription) keep their
 * order. The slow command is a `send_message` the agent takes its time to accept: the sim,
 * wrapped so that the content `/hold` waits until the test lets it go.
 */
import type { SessionId } from "@orbitdock/domain"
import { Deferred, Effect } from "effect"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import type { ConnectorFactory } from "../../src/connectors/Connector.js"
import * as Sim from "../../src/connectors/Sim.js"
import { startTestServer, type TestClient, type TestServer } from "../helpers/testServer.js"

let release = Effect.runSync(Deferred.make<void>())

/** The sim, except that `/hold` is accepted once `release` is done (then runs as plain text). */
const holdingSim: ConnectorFactory = (host) =>
  Effect.map(Sim.make(host), (sim) => ({
    ...sim,
    sendMessage: (session, content) =>
      content === "/hold"
        ? Effect.flatMap(Deferred.await(release), () => sim.sendMessage(session, "held"))
        : sim.sendMessage(session, content)
  }))

describe("lanes of one connection", () => {
  let server: TestServer
  let client: TestClient
  let a: SessionId
  let b: SessionId
  beforeAll(async () => {
    server = await startTestServer({ connectors: [holdingSim] })
  })
  afterAll(() => server.cleanup())
  beforeEach(async () => {
    release = Effect.runSync(Deferred.make<void>())
    client = await server.connect()
    await client.next((m) => m.type === "hello")
    const created = await Promise.all([1, 2].map(() => client.request({ type: "create_session", provider: "sim", cwd: "/w" })))
    ;[a, b] = created.map((ack) => (ack as { session_id: SessionId }).session_id)
  })

  const ackIndex = (id: string) => client.messages.findIndex((m) => m.type === "ack" && (m as { id?: string }).id === id)

  it("a command about session B is acked while an earlier command about session A still waits", async () => {
    client.send({ type: "send_message", id: "slow-a", session_id: a, content: "/hold" })
    const fast = await client.request({ type: "send_message", id: "fast-b", session_id: b, content: "hi" })
    expect(fast).toMatchObject({ type: "ack", id: "fast-b" })
    expect(ackIndex("slow-a")).toBe(-1)
    Effect.runSync(Deferred.succeed(release, undefined))
    await client.waitFor((m) => m.type === "ack" && (m as { id?: string }).id === "slow-a")
    expect(ackIndex("fast-b")).toBeLessThan(ackIndex("slow-a"))
  })

  it("messages about the same session keep their order behind a slow one", async () => {
    await client.request({ type: "subscribe_session", session_id: a })
    client.send({ type: "send_message", id: "slow-a", session_id: a, content: "/hold" })
    client.send({ type: "unsubscribe_session", id: "then-a", session_id: a })
    client.send({ type: "subscribe_list", id: "list" })
    // Another session and the list are not held up: their acks come first.
    await client.request({ type: "subscribe_session", id: "sub-b", session_id: b })
    await client.waitFor((m) => m.type === "ack" && (m as { id?: string }).id === "list")
    expect(ackIndex("slow-a")).toBe(-1)
    expect(ackIndex("then-a")).toBe(-1)
    Effect.runSync(Deferred.succeed(release, undefined))
    await client.waitFor((m) => m.type === "ack" && (m as { id?: string }).id === "then-a")
    expect(ackIndex("slow-a")).toBeGreaterThan(-1)
    expect(ackIndex("slow-a")).toBeLessThan(ackIndex("then-a"))
    // Session A's data caused by the held command (its turn started) came before its ack, and
    // nothing of A came after the unsubscription's ack.
    const turnStarted = client.messages.findIndex(
      (m) => m.type === "session_delta" && m.session_id === a && m.changes.status === "working"
    )
    expect(turnStarted).toBeGreaterThan(-1)
    expect(turnStarted).toBeLessThan(ackIndex("slow-a"))
    const afterUnsubscribe = client.messages.slice(ackIndex("then-a") + 1)
    expect(afterUnsubscribe.filter((m) => "session_id" in m && m.session_id === a && m.type !== "ack")).toEqual([])
  })
})
