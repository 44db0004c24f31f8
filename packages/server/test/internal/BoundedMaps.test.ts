/**
 * The maps whose keys come from outside stay bounded: the least recently used cache entry goes once
 * the cache is full, a key's lock goes once nobody holds or waits for it; and the Claude session
 * index, fed by hook bodies, uses them (checked over the real registry's connector host).
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer } from "effect"
import * as SessionIndex from "../../src/connectors/claude/SessionIndex.js"
import type { ConnectorHost } from "../../src/connectors/Connector.js"
import * as Sim from "../../src/connectors/Sim.js"
import * as EventLogMemory from "../../src/eventlog/EventLogMemory.js"
import { BoundedCache } from "../../src/internal/boundedCache.js"
import { KeyedLocks } from "../../src/internal/keyedLocks.js"
import * as SessionRegistry from "../../src/SessionRegistry.js"
import { Sessions } from "../../src/Sessions.js"

describe("BoundedCache", () => {
  it("forgets the least recently used entry once full", () => {
    const cache = new BoundedCache<string, number>(3)
    cache.set("a", 1)
    cache.set("b", 2)
    cache.set("c", 3)
    expect(cache.get("a")).toBe(1) // a is now the most recently used
    cache.set("d", 4)
    expect(cache.size).toBe(3)
    expect(cache.get("b")).toBeUndefined()
    expect([cache.get("a"), cache.get("c"), cache.get("d")]).toEqual([1, 3, 4])
    cache.set("d", 5) // replacing does not evict
    expect(cache.size).toBe(3)
    for (let i = 0; i < 10_000; i++) cache.set(`k${i}`, i)
    expect(cache.size).toBe(3)
  })
})

describe("KeyedLocks", () => {
  it.effect("serializes effects on one key, and keeps no lock nobody holds", () =>
    Effect.gen(function* () {
      const locks = new KeyedLocks()
      const gate = yield* Deferred.make<void>()
      const order: Array<string> = []
      const first = yield* locks.withLock("s", Deferred.await(gate).pipe(Effect.zipRight(Effect.sync(() => order.push("first"))))).pipe(Effect.fork)
      yield* Effect.yieldNow()
      const second = yield* locks.withLock("s", Effect.sync(() => order.push("second"))).pipe(Effect.fork)
      yield* locks.withLock("other", Effect.sync(() => order.push("other")))
      expect(locks.size).toBe(1)
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(first)
      yield* Fiber.join(second)
      expect(order).toEqual(["other", "first", "second"])
      expect(locks.size).toBe(0)
      // Failing and interrupted holders let go too.
      yield* locks.withLock("f", Effect.fail("no")).pipe(Effect.ignore)
      const waiting = yield* locks.withLock("i", Effect.never).pipe(Effect.fork)
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(waiting)
      for (let i = 0; i < 1000; i++) yield* locks.withLock(`k${i}`, Effect.void)
      expect(locks.size).toBe(0)
    })
  )
})

describe("Claude SessionIndex", () => {
  it.effect("remembers a bounded number of hook-named ids that map to themselves", () =>
    Effect.gen(function* () {
      let host: ConnectorHost | undefined
      const capture = (h: ConnectorHost) => {
        host = h
        return Sim.make(h)
      }
      yield* Effect.gen(function* () {
        yield* Sessions
        let lookups = 0
        const counting: ConnectorHost = { ...host!, checkpoint: (key) => Effect.suspend(() => (lookups++, host!.checkpoint(key))) }
        const index = SessionIndex.make(counting)
        expect(yield* index.resolve("first")).toBe("first")
        expect(yield* index.resolve("first")).toBe("first")
        expect(lookups).toBe(1)
        for (let i = 0; i < 10_000; i++) yield* index.resolve(`random-${i}`)
        expect(lookups).toBe(10_001)
        // Forgotten (the cache is full of newer ids): looked up again, with the same answer.
        expect(yield* index.resolve("first")).toBe("first")
        expect(lookups).toBe(10_002)
        // A driven session's mapping is never forgotten.
        index.remember("driven", "s-driven" as never)
        for (let i = 0; i < 10_000; i++) yield* index.resolve(`more-${i}`)
        expect(yield* index.resolve("driven")).toBe("s-driven")
      }).pipe(Effect.provide(SessionRegistry.layer([capture]).pipe(Layer.provide(EventLogMemory.layer))))
    })
  )
})
