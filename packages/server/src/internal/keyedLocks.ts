/**
 * One lock per key, kept only while someone holds or waits for it: keys may come from outside (a
 * hook names a session), so a lock per key ever seen would grow without bound.
 */
import { Effect } from "effect"

export class KeyedLocks {
  private readonly locks = new Map<string, { readonly semaphore: Effect.Semaphore; users: number }>()

  /** Keys with a lock right now (held or waited for). */
  get size(): number {
    return this.locks.size
  }

  /** Runs `effect` holding `key`'s lock; effects on the same key run one at a time, in order. */
  withLock<A, E, R>(key: string, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> {
    return Effect.suspend(() => {
      let entry = this.locks.get(key)
      if (entry === undefined) {
        entry = { semaphore: Effect.unsafeMakeSemaphore(1), users: 0 }
        this.locks.set(key, entry)
      }
      const taken = entry
      taken.users++
      return taken.semaphore.withPermits(1)(effect).pipe(
        Effect.ensuring(
          Effect.sync(() => {
            if (--taken.users === 0) this.locks.delete(key)
          })
        )
      )
    })
  }
}
