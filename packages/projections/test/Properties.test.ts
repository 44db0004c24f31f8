/**
 * Properties of the fold over arbitrary event sequences: folding a prefix then the rest equals folding
 * everything, and a mirror that applies the emitted messages to a snapshot equals the fold.
 */
import type { DomainEvent, MessageId, RequestId, SessionMessage } from "@orbitdock/domain"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { evolveInPlace } from "../src/inPlace.js"
import * as Projections from "../src/index.js"
import { SessionMirror, SessionProjection } from "../src/index.js"
import { created, sid, stored } from "./helpers/spec.js"

const at = "2026-01-01T00:00:00.000Z"
const ids = ["a", "b", "c", "d"]
const id = fc.constantFrom(...ids)
const text = fc.string({ maxLength: 12 })
// The times events are stored at (`stored`), so a mark or a stall can name the current attention.
const since = fc.constantFrom(at, ...Array.from({ length: 41 }, (_, i) => new Date(Date.UTC(2026, 0, 1, 0, 0, i + 1)).toISOString()))

const eventArb: fc.Arbitrary<DomainEvent> = fc.oneof(
  fc.constant<DomainEvent>({ type: "turn_started" }),
  fc.constant<DomainEvent>({ type: "turn_completed" }),
  text.map((reason): DomainEvent => ({ type: "turn_aborted", reason })),
  fc.tuple(id, fc.constantFrom("user", "assistant", "tool", "reasoning", "system" as const), text, fc.boolean()).map(
    ([mid, role, content, streaming]): DomainEvent => ({
      type: "message_appended",
      message: { id: mid as MessageId, role, content, created_at: at, ...(streaming ? { streaming } : {}) }
    })
  ),
  fc.tuple(id, text, fc.option(fc.boolean(), { nil: undefined })).map(
    ([mid, content, streaming]): DomainEvent => ({
      type: "message_updated",
      message_id: mid as MessageId,
      changes: streaming === undefined ? { content } : { content, streaming }
    })
  ),
  id.map((rid): DomainEvent => ({ type: "approval_requested", request: { id: rid as RequestId, kind: "exec", created_at: at, command: "ls" } })),
  fc.tuple(id, fc.constantFrom("approved", "denied", "expired", "withdrawn" as const)).map(
    ([rid, outcome]): DomainEvent => ({ type: "approval_resolved", request_id: rid as RequestId, outcome })
  ),
  id.map((rid): DomainEvent => ({ type: "question_asked", request: { id: `q${rid}` as RequestId, created_at: at, question: "?" } })),
  id.map((rid): DomainEvent => ({ type: "question_resolved", request_id: `q${rid}` as RequestId, outcome: "answered", answer: "x" })),
  fc.tuple(fc.nat(1000), fc.nat(1000)).map(
    ([input, output]): DomainEvent => ({ type: "tokens_updated", usage: { input, output, cached_input: 0, total: input + output } })
  ),
  text.map((diff): DomainEvent => ({ type: "diff_updated", diff })),
  fc.constantFrom("starting", "working", "waiting" as const).map((status): DomainEvent => ({ type: "status_changed", status })),
  fc.option(text, { nil: undefined }).map((title): DomainEvent => ({ type: "session_info_changed", ...(title === undefined ? {} : { title }) })),
  fc.constant<DomainEvent>({ type: "session_ended", reason: "done" }),
  fc.constant<DomainEvent>({ type: "session_reopened", reason: "resumed" }),
  since.map((at): DomainEvent => ({ type: "session_stalled", since: at })),
  fc.tuple(since, fc.option(fc.boolean(), { nil: undefined }), fc.option(fc.option(since, { nil: null }), { nil: undefined })).map(
    ([at, seen, snoozed]): DomainEvent => ({
      type: "attention_marked",
      since: at,
      ...(seen === undefined ? {} : { seen }),
      ...(snoozed === undefined ? {} : { snoozed_until: snoozed })
    })
  )
)

const history = fc.array(eventArb, { maxLength: 40 }).map((events) => stored([created, ...events]))

describe("session fold properties", () => {
  it("folding any prefix, then the rest, equals folding all", () =>
    fc.assert(
      fc.property(history, fc.nat(), (events, cut) => {
        const k = cut % (events.length + 1)
        const whole = SessionProjection.replay(sid, events)
        const split = SessionProjection.fold(SessionProjection.replay(sid, events.slice(0, k)), events.slice(k))
        expect(split).toEqual(whole)
      }),
      { numRuns: 300 }
    ))

  it("the linear-time fold equals evolving event by event, and leaves its input untouched", () =>
    fc.assert(
      fc.property(history, fc.nat(), (events, cut) => {
        const k = cut % (events.length + 1)
        const prefix = SessionProjection.replay(sid, events.slice(0, k))
        const frozen = JSON.stringify(prefix)
        const stepwise = events.slice(k).reduce((p, e) => SessionProjection.evolve(p, e)[0], prefix)
        expect(SessionProjection.fold(prefix, events.slice(k))).toEqual(stepwise)
        expect(JSON.stringify(prefix)).toBe(frozen)
      }),
      { numRuns: 300 }
    ))

  it("evolving in place (an owned list) gives the same states and messages as evolving", () =>
    fc.assert(
      fc.property(history, (events) => {
        let pure = SessionProjection.empty(sid)
        let owned = { ...pure, state: { ...pure.state, messages: [...pure.state.messages] } }
        for (const e of events) {
          const [p, pureMessage] = SessionProjection.evolve(pure, e)
          const [o, ownedMessage] = evolveInPlace(owned, e)
          expect(ownedMessage).toEqual(pureMessage)
          expect(o).toEqual(p)
          pure = p
          owned = o
        }
      }),
      { numRuns: 300 }
    ))

  it("the package's API has no mutating fold (the in-place one has an entry point of its own)", () => {
    expect(Object.keys(Projections.SessionMirror)).not.toContain("transient")
    expect(Object.keys(Projections.SessionProjection)).not.toContain("evolveInPlace")
  })

  it("applying the emitted messages to a snapshot gives the fold's state", () =>
    fc.assert(
      fc.property(history, fc.nat(), (events, cut) => {
        const k = 1 + (cut % events.length)
        const snapshot = SessionProjection.replay(sid, events.slice(0, k))
        let p = snapshot
        const messages: Array<SessionMessage> = []
        for (const e of events.slice(k)) {
          const [next, message] = SessionProjection.evolve(p, e)
          p = next
          if (message !== null) messages.push(message)
        }
        // What a client does: start from the snapshot it received, apply messages as they arrive,
        // after a JSON round trip (what crosses the wire).
        const mirror = messages.reduce(
          (state, m) => SessionMirror.applyMessage(state, JSON.parse(JSON.stringify(m))),
          JSON.parse(JSON.stringify(snapshot.state))
        )
        expect(mirror).toEqual(JSON.parse(JSON.stringify(p.state)))
        expect(mirror.revision).toBe(events.at(-1)!.revision)
      }),
      { numRuns: 300 }
    ))

  it("every event yields exactly one message, and revisions are gapless", () =>
    fc.assert(
      fc.property(history, (events) => {
        let p = SessionProjection.empty(sid)
        events.forEach((e, i) => {
          const [next, message] = SessionProjection.evolve(p, e)
          expect(message?.revision ?? -1).toBe(i + 1)
          p = next
        })
      }),
      { numRuns: 200 }
    ))
})
