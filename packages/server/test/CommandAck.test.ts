/**
 * A command is acked in one place: once everything its fiber emitted is durable, whatever the
 * connector called (`emit` or `commit`), and commands to one session run one at a time, held by its
 * actor. Against the real SQLite log with batching that never fires by itself (a minute, 100,000
 * events): only urgency commits anything, so an ack that came early would find its events queued.
 */
import { describe, expect, it } from "@effect/vitest"
import type { MessageId, SessionId } from "@orbitdock/domain"
import { Context, Deferred, Effect, Fiber, Layer, Scope } from "effect"
import * as path from "node:path"
import type { Connector, ConnectorFactory, ConnectorHost, EventInput } from "../src/connectors/Connector.js"
import { EventLog } from "../src/eventlog/EventLog.js"
import * as EventLogSqlite from "../src/eventlog/EventLogSqlite.js"
import * as SessionRegistry from "../src/SessionRegistry.js"
import { Sessions } from "../src/Sessions.js"
import { tempDir } from "./helpers/eventLogFixtures.js"

const message = (host: ConnectorHost, role: "user" | "assistant", content: string): EventInput => ({
  event: {
    type: "message_appended",
    message: { id: host.newId("msg") as MessageId, role, content, created_at: host.now() }
  }
})

/**
 * A connector that only ever `emit`s: `create` and `sendMessage` emit their events and return; the
 * agent's reply is emitted by a fiber the command forks (the agent's, not the command's), queued
 * before the command returns. Each
 * `sendMessage` waits for `gate` when one is set, and counts how many run at once.
 */
const emitOnly = (forked: Scope.Scope) => {
  const state = { running: 0, mostAtOnce: 0, gate: undefined as Deferred.Deferred<void> | undefined }
  const factory: ConnectorFactory = (host) =>
    Effect.succeed<Connector>({
      provider: "sim",
      create: (sessionId, params) =>
        Effect.asVoid(host.emit(sessionId, [{ event: { type: "session_created", provider: "sim", cwd: params.cwd, status: "waiting" } }])),
      sendMessage: (session, content) =>
        Effect.gen(function* () {
          state.running++
          state.mostAtOnce = Math.max(state.mostAtOnce, state.running)
          if (state.gate !== undefined) yield* Deferred.await(state.gate)
          yield* host.emit(session.id, [{ event: { type: "turn_started" } }, message(host, "user", content)])
          // The agent's reply, emitted by a fiber the command forks; the command returns once it is queued.
          const replied = yield* Deferred.make<void>()
          yield* host
            .emit(session.id, [message(host, "assistant", `re: ${content}`)])
            .pipe(Effect.zipRight(Deferred.succeed(replied, undefined)), Effect.forkIn(forked))
          yield* Deferred.await(replied)
          state.running--
        }),
      approve: () => Effect.void,
      answer: () => Effect.void,
      interrupt: () => Effect.void,
      end: () => Effect.void,
      survivedRestart: () => Effect.succeed(false)
    })
  return { factory, state }
}

const start = Effect.gen(function* () {
  const dir = yield* tempDir
  const forked = yield* Effect.scope
  const connector = emitOnly(forked)
  const context = yield* Layer.build(
    SessionRegistry.layer([connector.factory]).pipe(
      Layer.provideMerge(EventLogSqlite.layerWith({ dbPath: path.join(dir, "log.db"), flushMs: 60_000, batchSize: 100_000 }))
    )
  )
  return { sessions: Context.get(context, Sessions), log: Context.get(context, EventLog), connector: connector.state }
})

describe("a command's ack", () => {
  it.scopedLive("given a connector that only emits, when a command is acked, then what the command emitted is durable", () =>
    Effect.gen(function* () {
      const { sessions, log } = yield* start
      const { session_id } = (yield* sessions.execute({ type: "create_session", provider: "sim", cwd: "/w" })) as { session_id: SessionId }
      expect(log.uncommitted(session_id)).toBe(false)
      expect((yield* log.readSession(session_id, 0)).map((e) => e.event.type)).toStrictEqual(["session_created"])

      yield* sessions.execute({ type: "send_message", session_id, content: "hello" })
      const durable = (yield* log.readSession(session_id, 0)).map((e) => e.event.type)
      expect(durable).toStrictEqual(["session_created", "turn_started", "message_appended"])
      // The agent's reply came from a fiber the command forked: shown, but not the command's to wait
      // for, so it is still queued (nothing but urgency commits here).
      const live = yield* sessions.get(session_id)
      expect(live.messages.map((m) => m.content)).toStrictEqual(["hello", "re: hello"])
      expect(log.uncommitted(session_id)).toBe(true)
    }))

  it.scopedLive("given two commands to one session at once, then they run one at a time, each acked after its own events", () =>
    Effect.gen(function* () {
      const { sessions, log, connector } = yield* start
      const { session_id } = (yield* sessions.execute({ type: "create_session", provider: "sim", cwd: "/w" })) as { session_id: SessionId }
      connector.gate = yield* Deferred.make<void>()
      const first = yield* Effect.fork(sessions.execute({ type: "send_message", session_id, content: "one" }))
      const second = yield* Effect.fork(sessions.execute({ type: "send_message", session_id, content: "two" }))
      yield* Effect.sleep("100 millis")
      expect(connector.running).toBe(1)
      yield* Deferred.succeed(connector.gate, undefined)
      yield* Fiber.join(first)
      yield* Fiber.join(second)
      expect(connector.mostAtOnce).toBe(1)
      const users = (yield* log.readSession(session_id, 0)).flatMap((e) =>
        e.event.type === "message_appended" && e.event.message.role === "user" ? [e.event.message.content] : []
      )
      expect(users).toStrictEqual(["one", "two"])
    }))
})
