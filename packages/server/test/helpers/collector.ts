/**
 * A subscriber that records what it is pushed and lets a test wait for a message (no sleeps).
 */
import { Effect, Queue } from "effect"

export interface Collector<M> {
  readonly push: (message: M) => void
  /** Everything received so far. */
  readonly received: ReadonlyArray<M>
  /** Waits until a message matching `predicate` arrives (or was already received), up to `timeoutMs`. */
  readonly until: (predicate: (m: M) => boolean, timeoutMs?: number) => Effect.Effect<M, Error>
}

export const makeCollector = <M>(): Effect.Effect<Collector<M>> =>
  Effect.gen(function* () {
    const received: Array<M> = []
    const queue = yield* Queue.unbounded<M>()
    let cursor = 0
    return {
      push: (m: M) => {
        received.push(m)
        queue.unsafeOffer(m)
      },
      received,
      until: (predicate, timeoutMs = 5000) =>
        Effect.gen(function* () {
          while (true) {
            const m = yield* Queue.take(queue)
            cursor++
            if (predicate(m)) return m
          }
        }).pipe(
          Effect.timeoutFail({
            duration: timeoutMs,
            onTimeout: () => new Error(`timed out after ${cursor} messages waiting for a match`)
          })
        )
    }
  })
