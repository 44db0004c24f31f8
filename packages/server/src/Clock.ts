/**
 * Where event times and ids come from. Folds never read the clock (they get time on the event); the
 * actor stamps it here, once, when an event enters the server.
 */
import * as crypto from "node:crypto"

/** ISO-8601 UTC with milliseconds. */
export const nowIso = (): string => new Date().toISOString()

// Random bytes drawn in bulk: one `randomBytes` call per id cost ~10 µs (an agent's burst makes
// thousands of ids), one per 4 KiB costs a few µs for 680 ids.
const POOL_BYTES = 4096
const pool = Buffer.alloc(POOL_BYTES)
let poolOffset = POOL_BYTES

/**
 * An id that stays unique across restarts: a millisecond time prefix (sortable) and 48 random bits.
 */
export const newId = (prefix: string): string => {
  if (poolOffset + 6 > POOL_BYTES) {
    crypto.randomFillSync(pool)
    poolOffset = 0
  }
  const random = pool.toString("hex", poolOffset, poolOffset + 6)
  poolOffset += 6
  return `${prefix}_${Date.now().toString(36)}${random}`
}
