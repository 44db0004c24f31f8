/**
 * Turns on the event loop (`internal/eventLoopSlice.ts`): units of work run one at a time, each
 * after what the previous one queued, and the event loop gets its turn once a stretch has lasted
 * `SLICE_MS`; then the real thing: sim sessions bursting at once through real actors.
 */
import type { SessionId, SessionMessage, SessionSnapshot } from "@orbitdock/domain"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer } from "effect"
import { performance } from "node:perf_hooks"
import * as Sim from "../src/connectors/Sim.js"
import * as EventLogMemory from "../src/eventlog/EventLogMemory.js"
import { AT_ONCE_ITEMS, inTurn, inTurnNow, SLICE_MS, TurnCost } from "../src/internal/eventLoopSlice.js"
import * as SessionRegistry from "../src/SessionRegistry.js"
import { Sessions } from "../src/Sessions.js"

const busy = (ms: number) => {
  const until = performance.now() + ms
  while (performance.now() < until) {
    // holding the event loop, as a long fold would
  }
}

/** A unit that spends a whole stretch: the units after it must wait (unless they may not). */
const spendStretch = (log: Array<string>) =>
  inTurn(() => {
    busy(SLICE_MS + 1)
    log.push("long")
  })

/** Resolves in the event loop's next check phase (after it has polled I/O). */
const nextLoopTurn = Effect.async<void>((resume) => {
  setImmediate(() => resume(Effect.void))
})

describe("turns", () => {
  it.live("whose cost is not known run one at a time in the order asked, each after the microtasks the previous one queued", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const unit = (name: string) =>
        inTurn(() => {
          log.push(name)
          // What an outbox does after a fold: its frames go out in a microtask.
          queueMicrotask(() => log.push(`${name} flushed`))
        })
      yield* Effect.all([unit("a"), unit("b"), unit("c")], { concurrency: "unbounded" })
      yield* nextLoopTurn
      expect(log).toEqual(["a", "a flushed", "b", "b flushed", "c", "c flushed"])
    })
  )

  it.live("that are cheap (by their measured cost) do not wait for one another's microtasks", () =>
    Effect.gen(function* () {
      yield* nextLoopTurn
      const cheap = new TurnCost()
      cheap.record(0.01, 1)
      const log: Array<string> = []
      const unit = (name: string) =>
        inTurn(
          () => {
            log.push(name)
            queueMicrotask(() => log.push(`${name} flushed`))
          },
          { cost: cheap }
        )
      yield* Effect.all([unit("a"), unit("b"), unit("c")], { concurrency: "unbounded" })
      yield* nextLoopTurn
      expect(log.slice(0, 3)).toEqual(["a", "b", "c"])
    })
  )

  it.live("give the event loop a turn once a stretch has lasted SLICE_MS", () =>
    Effect.gen(function* () {
      // A fresh stretch: the previous test's is over.
      yield* nextLoopTurn
      const log: Array<string> = []
      const long = inTurn(() => {
        setImmediate(() => log.push("I/O"))
        busy(SLICE_MS + 1)
        log.push("long")
      })
      const short = inTurn(() => log.push("short"))
      yield* Effect.all([long, short], { concurrency: "unbounded" })
      expect(log).toEqual(["long", "I/O", "short"])
    })
  )

  it.live("a small unit (at most AT_ONCE_ITEMS items) runs at once, even when the stretch is spent and others wait", () =>
    Effect.gen(function* () {
      yield* nextLoopTurn
      const log: Array<string> = []
      yield* Effect.all(
        [
          spendStretch(log),
          inTurn(() => log.push("big"), { items: AT_ONCE_ITEMS + 1 }),
          inTurn(() => log.push("small"), { items: AT_ONCE_ITEMS })
        ],
        { concurrency: "unbounded" }
      )
      expect(log).toEqual(["long", "small", "big"])
    })
  )

  it.live("an urgent unit (someone waits for it) goes before those already waiting", () =>
    Effect.gen(function* () {
      yield* nextLoopTurn
      const log: Array<string> = []
      yield* Effect.all(
        [
          spendStretch(log),
          inTurn(() => log.push("a")),
          inTurn(() => log.push("b")),
          inTurn(() => log.push("urgent"), { urgent: true })
        ],
        { concurrency: "unbounded" }
      )
      expect(log).toEqual(["long", "urgent", "a", "b"])
    })
  )

  it.live("outside a fiber: a unit runs at once when its turn may begin now, and not at all when it must wait", () =>
    Effect.gen(function* () {
      yield* nextLoopTurn
      const log: Array<string> = []
      // Given a fresh stretch, a unit of unknown size runs at once and hands back its outcome.
      expect(inTurnNow(() => log.push("now"))).toEqual(Exit.succeed(1))
      // Given a stretch spent, when a unit that is not small asks, then it does not run.
      busy(SLICE_MS + 1)
      expect(inTurnNow(() => log.push("too late"), { items: AT_ONCE_ITEMS + 1 })).toBeUndefined()
      // A small one still runs; a failing one hands back its defect instead of throwing.
      expect(inTurnNow(() => log.push("small"), { items: 1 })).toEqual(Exit.succeed(2))
      const failed = inTurnNow(() => {
        throw new Error("fold failed")
      }, { items: 1 })
      expect(failed !== undefined && Exit.isFailure(failed)).toBe(true)
      yield* nextLoopTurn
      expect(log).toEqual(["now", "small"])
    })
  )

  it.live("a unit interrupted while it waits for its turn does not hold up the others", () =>
    Effect.gen(function* () {
      yield* nextLoopTurn
      const log: Array<string> = []
      const first = yield* Effect.fork(inTurn(() => busy(SLICE_MS + 1)))
      const waiting = yield* Effect.fork(inTurn(() => log.push("interrupted one ran")))
      const last = yield* Effect.fork(inTurn(() => log.push("last")))
      yield* Fiber.interrupt(waiting)
      yield* Fiber.join(first)
      yield* Fiber.join(last)
      yield* inTurn(() => log.push("after"))
      expect(log).toEqual(["last", "after"])
    })
  )
})

describe("TurnCost", () => {
  it("sizes a unit to fit in a time by what the units cost lately, at least 1 and at most the cap", () => {
    const cost = new TurnCost()
    expect(cost.itemsWithin(4, 512)).toBe(512)
    cost.record(8, 512) // 1/64 ms per item
    expect(cost.itemsWithin(4, 512)).toBe(256)
    cost.record(100, 10)
    expect(cost.itemsWithin(4, 512)).toBe(1)
    cost.record(0, 0)
    expect(cost.itemsWithin(4, 512)).toBe(1)
  })

  it("expects a whole slice of a unit never measured, then what its items cost", () => {
    const cost = new TurnCost()
    expect(cost.expected(100)).toBe(SLICE_MS)
    cost.record(1, 100)
    expect(cost.expected(50)).toBeCloseTo(0.5)
  })
})

type Msg = SessionMessage | SessionSnapshot

describe("sessions bursting at once", () => {
  it.live("never hold the event loop for more than a few steps' worth of events", () =>
    Effect.gen(function* () {
      const sessions = yield* Sessions
      const ids: Array<SessionId> = []
      let delivered = 0
      for (let i = 0; i < 20; i++) {
        const { session_id } = yield* sessions.execute({ type: "create_session", provider: "sim", cwd: "/w" })
        ids.push(session_id as SessionId)
        yield* sessions.subscribe(session_id as SessionId, { push: (_: Msg) => void delivered++ }, 1)
      }
      // The most messages delivered between two ticks of a timer: what one turn of the event loop held.
      let most = 0
      let before = delivered
      const ticks = setInterval(() => {
        most = Math.max(most, delivered - before)
        before = delivered
      }, 1)
      const start = delivered
      yield* Effect.forEach(ids, (id) => sessions.execute({ type: "send_message", session_id: id, content: "/burst 2000" }), {
        concurrency: "unbounded",
        discard: true
      })
      while (delivered - start < 20 * 2000) yield* Effect.sleep("5 millis")
      clearInterval(ticks)
      most = Math.max(most, delivered - before)
      // All 40,000 at once without turns; a turn folds at most 512 events, and a stretch lasts
      // SLICE_MS plus one turn (a few thousand events on a fast machine).
      expect(most).toBeLessThan(10_000)
    }).pipe(Effect.provide(SessionRegistry.layer([Sim.make]).pipe(Layer.provide(EventLogMemory.layer))))
  )
})
