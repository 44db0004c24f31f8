/**
 * How a session actor takes its steps: one that waits for nothing is folded in a microtask of the
 * emit, without its fiber; one that must wait (here: for room in the log) is handed to the fiber,
 * and what is queued meanwhile follows it in order, with gapless revisions either way.
 */
import type { DomainEvent, SessionId, SessionMessage, SessionSnapshot } from "@orbitdock/domain"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect } from "effect"
import type { EventInput, Receipt } from "../src/connectors/Connector.js"
import * as EventLogMemory from "../src/eventlog/EventLogMemory.js"
import * as SessionActor from "../src/SessionActor.js"

const id = "stepping-session" as SessionId
const said = (n: number): DomainEvent => ({
  type: "message_appended",
  message: { id: `m${n}` as never, role: "assistant", content: `message ${n}`, created_at: "2026-12-07T12:00:00.000Z" }
})
const created: EventInput = { event: { type: "session_created", provider: "sim", cwd: "/w", status: "waiting" } }

const queued = (offered: Receipt | SessionActor.Refused): Receipt => {
  if (typeof offered === "string") throw new Error(`not queued: ${offered}`)
  return offered
}

/** Resolves after the microtasks queued before it. */
const microtasksRun = Effect.promise(() => new Promise<void>((resolve) => queueMicrotask(resolve)))

describe("a session actor's steps", () => {
  it.scoped("that wait for nothing are folded within the emit's microtasks", () =>
    Effect.gen(function* () {
      const log = yield* EventLogMemory.make
      const actor = yield* SessionActor.make(SessionActor.fresh(id), { log, onChange: () => {} })
      // The subscription starts with the fresh session's snapshot (revision 0).
      const got: Array<SessionMessage | SessionSnapshot> = []
      yield* actor.subscribe({ push: (message) => void got.push(message) })
      yield* queued(actor.offer([created], undefined)).folded

      const receipt = queued(actor.offer([{ event: said(1) }], undefined))
      expect(got.map((m) => m.revision)).toStrictEqual([0, 1])
      yield* microtasksRun
      expect(got.map((m) => m.revision)).toStrictEqual([0, 1, 2])
      expect(yield* receipt.folded).toStrictEqual([2])
      expect(actor.settled()).toBe(true)
    })
  )

  it.scoped("that must wait for room in the log go on in the fiber, with what was queued meanwhile after them", () =>
    Effect.gen(function* () {
      const memory = yield* EventLogMemory.make
      const gate = yield* Deferred.make<void>()
      let open = true
      const released: Array<number> = []
      const log = {
        ...memory,
        // The writer's backlog is full until the test opens the gate.
        tryRoom: () => open,
        room: () => (open ? Effect.void : Deferred.await(gate)),
        release: (events: number) => void released.push(events)
      }
      const actor = yield* SessionActor.make(SessionActor.fresh(id), { log, onChange: () => {} })
      const got: Array<SessionMessage | SessionSnapshot> = []
      yield* actor.subscribe({ push: (message) => void got.push(message) })
      yield* queued(actor.offer([created], undefined)).folded

      // Given a full log, when events come, then none is shown while it stays full.
      open = false
      const first = queued(actor.offer([{ event: said(1) }], undefined))
      yield* microtasksRun
      const second = queued(actor.offer([{ event: said(2) }, { event: said(3) }], undefined))
      yield* Effect.yieldNow()
      expect(got.map((m) => m.revision)).toStrictEqual([0, 1])
      expect(actor.settled()).toBe(false)

      // Once there is room: the waiting step, then what queued behind it, in order.
      open = true
      yield* Deferred.succeed(gate, undefined)
      expect(yield* first.folded).toStrictEqual([2])
      expect(yield* second.folded).toStrictEqual([3, 4])
      // And the steps after it are the microtasks' again.
      queued(actor.offer([{ event: said(4) }], undefined))
      yield* microtasksRun
      expect(got.map((m) => m.revision)).toStrictEqual([0, 1, 2, 3, 4, 5])
      expect(actor.settled()).toBe(true)
      // Every reservation made was released.
      expect(released.reduce((a, b) => a + b, 0)).toBe(5)
      const stored = yield* memory.readSession(id, 0)
      expect(stored.map((e) => e.revision)).toStrictEqual([1, 2, 3, 4, 5])
    })
  )
})
