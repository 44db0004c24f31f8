/**
 * Subscribing to a session whose older messages are paged out: the snapshot is taken at once and
 * its pages are read from the log afterwards; what the actor publishes meanwhile reaches the new
 * subscriber after the snapshot, none of it lost or sent twice.
 */
import type { DomainEvent, SessionId, SessionMessage, SessionSnapshot, StoredEvent } from "@orbitdock/domain"
import { SessionProjection } from "@orbitdock/projections"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import * as EventLogMemory from "../src/eventlog/EventLogMemory.js"
import * as SessionActor from "../src/SessionActor.js"

const id = "paged-session" as SessionId
const at = "2026-12-06T12:00:00.000Z"
const said = (n: number): DomainEvent => ({
  type: "message_appended",
  message: { id: `m${n}` as never, role: "assistant", content: `message ${n}`, created_at: at }
})

describe("subscribing to a paged session", () => {
  it.scoped("pushes the snapshot, then what was published while its pages were read", () =>
    Effect.gen(function* () {
      const history: Array<DomainEvent> = [{ type: "session_created", provider: "sim", cwd: "/w", status: "waiting" }, said(1), said(2)]
      const whole = SessionProjection.replay(
        id,
        history.map((event, i): StoredEvent => ({ session_id: id, revision: i + 1, occurred_at: at, event }))
      )
      const [paged, ...recent] = whole.state.messages
      const memory = yield* EventLogMemory.make
      const gate = yield* Deferred.make<void>()
      const asked: Array<number> = []
      const log = {
        ...memory,
        // The first message is in a page, which the log hands over when the test opens the gate.
        readPages: (_: SessionId, count: number) => {
          asked.push(count)
          return Effect.as(Deferred.await(gate), [JSON.stringify([paged])])
        }
      }
      const actor = yield* SessionActor.make(
        { projection: { ...whole, state: { ...whole.state, messages: recent } }, paged: 1, pagedRevision: 3, pagedUpdates: [] },
        { log, onChange: () => {} }
      )
      const got: Array<SessionMessage | SessionSnapshot> = []
      const subscribing = yield* Effect.fork(actor.subscribe({ push: (message) => void got.push(message) }))
      yield* Effect.yieldNow()
      expect(asked).toStrictEqual([1])

      // Published while the page is being read.
      const receipt = actor.offer([{ event: said(3) }], undefined)
      if (typeof receipt === "string") throw new Error(`not queued: ${receipt}`)
      expect(yield* receipt.folded).toStrictEqual([4])
      expect(got).toStrictEqual([])

      yield* Deferred.succeed(gate, undefined)
      expect(yield* Fiber.join(subscribing)).toBe(3)
      expect(got.map((m) => [m.type, m.revision])).toStrictEqual([
        ["session_snapshot", 3],
        ["message_appended", 4]
      ])
      const snapshot = got[0] as SessionSnapshot
      expect(snapshot.session.messages.map((m) => m.id)).toStrictEqual(["m1", "m2"])

      // Registered for good: the next message comes straight through.
      const next = actor.offer([{ event: said(4) }], undefined)
      if (typeof next === "string") throw new Error(`not queued: ${next}`)
      yield* next.folded
      expect(got.map((m) => m.revision)).toStrictEqual([3, 4, 5])
    })
  )
})
