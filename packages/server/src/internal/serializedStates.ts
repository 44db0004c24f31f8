/**
 * The JSON of a few session states that is already at hand, so answering with such a state need
 * not stringify it again. Owns only that association (state object → its JSON text).
 *
 * Filled when a whole state is assembled from message pages (`messagePages.ts`): the pages are
 * stored as JSON, so the state's text is spliced together from them without parsing the paged
 * messages (~2.5 MB of JSON for 5,000 messages), and the answer (a GET, a JSON frame) writes it.
 *
 * Keyed by object identity, weakly: the text lives as long as the state object it encodes. Safe
 * because such states are never changed in place (their `messages` can only be read).
 */
const entries = new WeakMap<object, string>()

/** Records that `json` is the JSON of `value` (which must never change afterwards). */
export const remember = (value: object, json: string): void => {
  entries.set(value, json)
}

/** The JSON of `value` if it is at hand. */
export const serialized = (value: unknown): string | undefined =>
  typeof value === "object" && value !== null ? entries.get(value) : undefined
