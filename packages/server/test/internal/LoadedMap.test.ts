/** The registry's map of live actors (`internal/loadedMap.ts`): one load per key, loads that outlive their caller. */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Scope } from "effect"
import * as LoadedMap from "../../src/internal/loadedMap.js"

describe("a loaded map", () => {
  it.scoped("loads a key once, however many callers ask while it loads", () =>
    Effect.gen(function* () {
      const map = yield* LoadedMap.make<string, number, string>(yield* Effect.scope)
      const gate = yield* Deferred.make<void>()
      let loads = 0
      const load = Effect.zipRight(Deferred.await(gate), Effect.sync(() => ++loads))
      const callers = yield* Effect.forEach([1, 2, 3], () => Effect.fork(map.get("a", load)))
      yield* Effect.yieldNow()
      expect([map.peek("a"), map.isLoading("a"), map.isLoading("b")]).toStrictEqual([undefined, true, false])
      yield* Deferred.succeed(gate, undefined)
      expect(yield* Effect.forEach(callers, Fiber.join)).toStrictEqual([1, 1, 1])
      expect(loads).toBe(1)
      expect([map.peek("a"), map.isLoading("a")]).toStrictEqual([1, false])
      expect(yield* map.get("a", load)).toBe(1)
    }))

  it.scoped("finishes a load whose caller was interrupted, for the next caller", () =>
    Effect.gen(function* () {
      const map = yield* LoadedMap.make<string, string, never>(yield* Effect.scope)
      const gate = yield* Deferred.make<void>()
      const load = Effect.as(Deferred.await(gate), "loaded")
      const first = yield* Effect.fork(map.get("k", load))
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(first)
      const second = yield* Effect.fork(map.get("k", Effect.succeed("loaded again")))
      yield* Deferred.succeed(gate, undefined)
      expect(yield* Fiber.join(second)).toBe("loaded")
      expect(map.peek("k")).toBe("loaded")
    }))

  it.scoped("forgets a failed load: the next caller loads again", () =>
    Effect.gen(function* () {
      const map = yield* LoadedMap.make<string, string, string>(yield* Effect.scope)
      expect(yield* Effect.flip(map.get("k", Effect.fail("broken")))).toBe("broken")
      expect(map.peek("k")).toBeUndefined()
      expect(yield* map.get("k", Effect.succeed("fine"))).toBe("fine")
    }))

  it.scoped("evicts at once what the predicate says is idle, and loads it again on use", () =>
    Effect.gen(function* () {
      const map = yield* LoadedMap.make<string, number, never>(yield* Effect.scope)
      for (const [key, value] of [["a", 1], ["b", 2], ["c", 3]] as const) yield* map.get(key, Effect.succeed(value))
      expect(map.evictWhere((v) => v % 2 === 1)).toStrictEqual([1, 3])
      expect([map.peek("a"), map.peek("b"), map.peek("c"), map.size()]).toStrictEqual([undefined, 2, undefined, 1])
      expect(yield* map.get("a", Effect.succeed(10))).toBe(10)
    }))

  it.effect("stops a load under way when its scope closes", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const map = yield* LoadedMap.make<string, number, never>(scope)
      const caller = yield* Effect.fork(map.get("k", Effect.never))
      yield* Effect.yieldNow()
      yield* Scope.close(scope, Exit.void)
      const exit = yield* Fiber.await(caller)
      expect(exit._tag).toBe("Failure")
      expect(map.peek("k")).toBeUndefined()
    }))
})
