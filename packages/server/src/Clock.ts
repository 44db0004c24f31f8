/**
 * Where event times and ids come from: Effect's `Clock` (so a test's `TestClock` moves the server's
 * time), read synchronously where a fold or a step must not yield. Folds never read the clock
 * (they get time on the event); the actor stamps it once, when an event enters the server.
 */
import type { Clock } from "effect"
import * as crypto from "node:crypto"

/** The clock's time as ISO-8601 UTC with milliseconds. */
export const isoNow = (clock: Clock.Clock): string => isoAt(clock.unsafeCurrentTimeMillis())

// Every step stamps its events, many in the same millisecond: the last one is formatted once.
let lastMs = Number.NaN
let lastIso = ""
const isoAt = (ms: number): string => {
  if (ms !== lastMs) {
    lastIso = new Date(ms).toISOString()
    lastMs = ms
  }
  return lastIso
}

// Random bytes drawn in bulk: one `randomBytes` call per id cost ~10 µs (an agent's burst makes
// thousands of ids), one per 4 KiB costs a few µs for 680 ids.
const POOL_BYTES = 4096
const pool = Buffer.alloc(POOL_BYTES)
let poolOffset = POOL_BYTES

/**
 * Ids that stay unique across restarts: a millisecond time prefix from the clock (sortable) and
 * 48 random bits.
 */
export const idsFrom =
  (clock: Clock.Clock) =>
  (prefix: string): string => {
    if (poolOffset + 6 > POOL_BYTES) {
      crypto.randomFillSync(pool)
      poolOffset = 0
    }
    const random = pool.toString("hex", poolOffset, poolOffset + 6)
    poolOffset += 6
    return `${prefix}_${clock.unsafeCurrentTimeMillis().toString(36)}${random}`
  }
