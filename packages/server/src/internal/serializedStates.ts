/**
 * The JSON of a few session states that is already at hand, so answering with such a state need
 * not stringify it again. Owns only that association (state object → its JSON text) and its bound.
 *
 * Filled by hydration: a session loaded from a projection snapshot with no events after it has, in
 * the snapshot row, the exact text `JSON.stringify(state)` would produce (`snapshotCodec.ts`), and
 * the first thing asked of a freshly hydrated session is usually that state (a GET or a subscribe).
 * Skipping the stringify saves ~2.5 ms of main thread per 5,000-message state (2.2 MB of JSON).
 *
 * Keyed by object identity, which is safe because states are never changed in place once handed
 * out (SessionActor copies on write; any change makes a new state object), so a state object found
 * here always still has the value its text encodes. Bounded by size, oldest first out.
 */

/** At most this many characters of JSON are kept (a few freshly hydrated large sessions). */
export const MAX_CHARS = 32 * 2 ** 20

const entries = new Map<object, string>()
let total = 0

/** Records that `json` is the JSON of `value` (which must never change afterwards). */
export const remember = (value: object, json: string): void => {
  if (json.length > MAX_CHARS || entries.has(value)) return
  entries.set(value, json)
  total += json.length
  for (const [key, bytes] of entries) {
    if (total <= MAX_CHARS) break
    entries.delete(key)
    total -= bytes.length
  }
}

/** The JSON of `value` if it is at hand. */
export const serialized = (value: unknown): string | undefined =>
  typeof value === "object" && value !== null ? entries.get(value) : undefined
