/**
 * The connector-facing emit contract (`ConnectorHost`): emits are queued at once and folded in
 * order by the session's actor; receipts wait for the fold and for the disk; `state` reads a
 * connector's own writes; a full mailbox makes emitters wait instead of growing without bound.
 */
import type { SessionId } from "@orbitdock/domain"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import type { ConnectorFactory, ConnectorHost, EventInput } from "../src/connectors/Connector.js"
import * as EventLogMemory from "../src/eventlog/EventLogMemory.js"
import { MAILBOX_EVENTS, STEP_EVENTS } from "../src/SessionActor.js"
import * as SessionRegistry from "../src/SessionRegistry.js"
import { Sessions } from "../src/Sessions.js"

/** A registry whose one connector only hands its host out (the test plays the connector). */
const withHost = <A, E>(f: (host: ConnectorHost) => Effect.Effect<A, E, Sessions>) => {
  let captured: ConnectorHost | undefined
  const capture: ConnectorFactory = (host) =>
    Effect.sync(() => {
      captured = host
      return { provider: "codex" } as never
    })
  return Effect.flatMap(Sessions, () => f(captured!)).pipe(
    Effect.provide(SessionRegistry.layer([capture]).pipe(Layer.provide(EventLogMemory.layer)))
  )
}

const created: EventInput = { event: { type: "session_created", provider: "codex", cwd: "/w", status: "waiting" } }
const message = (i: number): EventInput => ({
  event: { type: "message_appended", message: { id: `m${i}` as never, role: "assistant", content: `message ${i}`, created_at: "2026-01-01T00:00:00.000Z" } }
})
const messages = (from: number, count: number) => Array.from({ length: count }, (_, i) => message(from + i))

describe("ConnectorHost.emit", () => {
  it.live("queues at once; receipts wait for the fold and the disk; state reads the connector's own writes", () =>
    withHost((host) =>
      Effect.gen(function* () {
        const id = "s-1" as SessionId
        yield* host.emit(id, [created])
        const receipts = []
        for (let i = 0; i < 50; i++) receipts.push(yield* host.emit(id, [message(i)]))
        // Everything emitted before `state` is in it, in emit order.
        const state = Option.getOrThrow(yield* host.state(id))
        expect(state.messages.map((m) => m.content)).toEqual(Array.from({ length: 50 }, (_, i) => `message ${i}`))
        expect(state.revision).toBe(51)
        expect(yield* receipts[0]!.folded).toEqual([2])
        expect(yield* receipts[49]!.folded).toEqual([51])
        yield* receipts[49]!.durable
        // A duplicate (same source key) is folded to nothing.
        const first = yield* host.emit(id, [{ ...message(100), source_key: "k" }])
        const again = yield* host.emit(id, [{ ...message(101), source_key: "k" }])
        expect(yield* first.folded).toEqual([52])
        expect(yield* again.folded).toEqual([])
      })
    ))

  it.live("a full mailbox makes the emitter wait; nothing is lost or reordered, big emits go in whole", () =>
    withHost((host) =>
      Effect.gen(function* () {
        const id = "s-2" as SessionId
        yield* host.emit(id, [created])
        // One fiber emitting flat out: far more than the mailbox holds, in chunks of 100 …
        const total = Math.ceil((MAILBOX_EVENTS * 3) / 100) * 100
        let last = yield* host.emit(id, messages(0, 100))
        for (let from = 100; from < total; from += 100) last = yield* host.emit(id, messages(from, 100))
        // The emitter got ahead of the fold by at most the mailbox, the step being folded and its
        // last emit: it waited.
        const sessions = yield* Sessions
        expect((yield* sessions.get(id)).message_count).toBeGreaterThanOrEqual(total - MAILBOX_EVENTS - STEP_EVENTS - 100)
        // … and one emit bigger than the mailbox and than a step, which is never split.
        const big = yield* host.emit(id, messages(total, MAILBOX_EVENTS + STEP_EVENTS))
        expect(yield* last.folded).toHaveLength(100)
        expect(yield* big.folded).toHaveLength(MAILBOX_EVENTS + STEP_EVENTS)
        yield* big.durable
        const state = Option.getOrThrow(yield* host.state(id))
        expect(state.message_count).toBe(total + MAILBOX_EVENTS + STEP_EVENTS)
        expect(state.messages.every((m, i) => m.content === `message ${i}`)).toBe(true)
      })
    ))
})
