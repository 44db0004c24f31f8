/**
 * Where event times and ids come from. Folds never read the clock (they get time on the event); the
 * actor stamps it here, once, when an event enters the server.
 */
import * as crypto from "node:crypto"

/** ISO-8601 UTC with milliseconds. */
export const nowIso = (): string => new Date().toISOString()

/**
 * An id that stays unique across restarts: a millisecond time prefix (sortable) and 48 random bits.
 */
export const newId = (prefix: string): string =>
  `${prefix}_${Date.now().toString(36)}${crypto.randomBytes(6).toString("hex")}`
