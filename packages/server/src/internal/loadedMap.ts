/**
 * Values loaded on first use and kept until evicted (the registry's live session actors): what is
 * loaded is looked up synchronously; a key being loaded is loaded once, its other callers wait for
 * that load; eviction checks and removes without yielding, so nothing reaches a value in between.
 * Unlike `RcMap`, a value's lifetime is not counted in references: the owner decides what is idle
 * (an actor with no subscriber may still be working).
 */
import { Deferred, Effect, Fiber, type Scope } from "effect"

export interface LoadedMap<K, V, E> {
  /** The value, loading it with `load` unless it is loaded or being loaded. */
  readonly get: (key: K, load: Effect.Effect<V, E>) => Effect.Effect<V, E>
  /** The loaded value, if any (never waits for a load under way). */
  readonly peek: (key: K) => V | undefined
  /** Whether the key is being loaded now. */
  readonly isLoading: (key: K) => boolean
  readonly size: () => number
  /** Removes, at once, every loaded value `idle` says is idle; returns them (to be stopped). */
  readonly evictWhere: (idle: (value: V) => boolean) => ReadonlyArray<V>
}

/**
 * A map whose loads run in fibers of `scope`: a load goes on (and registers its value) when the
 * caller that started it is interrupted, and no caller's fiber (with its result, e.g. a whole HTTP
 * answer) is kept alive by what the load forks.
 */
export const make = <K, V, E>(scope: Scope.Scope): Effect.Effect<LoadedMap<K, V, E>> =>
  Effect.sync(() => {
    const loaded = new Map<K, V>()
    const loading = new Map<K, Deferred.Deferred<V, E>>()

    // Registering the gate and forking the load cannot be interrupted apart: a gate left behind
    // without its load would hold every later caller of the key for good. Only the join is.
    const startLoad = (key: K, load: Effect.Effect<V, E>): Effect.Effect<V, E> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(Deferred.make<V, E>(), (gate) => {
          // The fiber may have yielded while the gate was made: another caller may have loaded the
          // key, or started loading it, meanwhile.
          const value = loaded.get(key)
          if (value !== undefined) return Effect.succeed(value)
          const started = loading.get(key)
          if (started !== undefined) return restore(Deferred.await(started))
          loading.set(key, gate)
          // The load itself stays interruptible (by its scope), whatever region the caller runs in.
          return Effect.interruptible(load).pipe(
            Effect.onExit((exit) =>
              Effect.suspend(() => {
                loading.delete(key)
                if (exit._tag === "Success") loaded.set(key, exit.value)
                return Deferred.done(gate, exit)
              })
            ),
            Effect.forkIn(scope),
            Effect.flatMap((fiber) => restore(Fiber.join(fiber)))
          )
        })
      )

    return {
      get: (key, load) =>
        Effect.suspend(() => {
          const value = loaded.get(key)
          if (value !== undefined) return Effect.succeed(value)
          const pending = loading.get(key)
          return pending !== undefined ? Deferred.await(pending) : startLoad(key, load)
        }),
      peek: (key) => loaded.get(key),
      isLoading: (key) => loading.has(key),
      size: () => loaded.size,
      evictWhere: (idle) => {
        const evicted: Array<V> = []
        for (const [key, value] of loaded) {
          if (!idle(value)) continue
          loaded.delete(key)
          evicted.push(value)
        }
        return evicted
      }
    }
  })
