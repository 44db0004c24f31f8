/**
 * The JSON of session states that is already at hand, so answering with such a state need not
 * stringify it. Owns only that association (state object → its JSON, in chunks).
 *
 * Filled when a whole state is assembled from message pages (`messagePages.ts`): the pages are
 * stored as JSON text, so the state's JSON is the pages' text as read plus a few chunks around
 * them, without parsing the paged messages (~2.5 MB of JSON for 5,000 messages); the answer (a
 * GET, a JSON frame) writes the chunks out.
 *
 * Keyed by object identity, weakly: the chunks live as long as the state object they encode. Safe
 * because such states are never changed in place (their `messages` can only be read).
 */
const entries = new WeakMap<object, ReadonlyArray<string>>()

/** Records that the concatenation of `chunks` is the JSON of `value` (which must never change afterwards). */
export const remember = (value: object, chunks: ReadonlyArray<string>): void => {
  entries.set(value, chunks)
}

/** The JSON of `value` in chunks, if it is at hand. */
export const serialized = (value: unknown): ReadonlyArray<string> | undefined =>
  typeof value === "object" && value !== null ? entries.get(value) : undefined
