/**
 * The JSON of session states that is already at hand, so answering with such a state need not
 * stringify it. Owns only that association (state object → its JSON, in chunks).
 *
 * Filled when a whole state is assembled from message pages (`messagePages.ts`): the pages are
 * stored as JSON text, so the state's JSON is the pages' text as read plus a few chunks around
 * them, without parsing the paged messages (~2.5 MB of JSON for 5,000 messages); the answer (a
 * GET, a JSON frame) writes the chunks out.
 *
 * Kept on the state object itself, under a symbol (not enumerable, so neither JSON nor a spread
 * sees it): the chunks live as long as the state object they encode. Safe because such states are
 * never changed in place (their `messages` can only be read). Not a `WeakMap`: its table lives in
 * V8's old generation, and values keyed by short-lived objects then outlive young-generation
 * collections (measured: most of the page text of 200 reads was promoted).
 */
const CHUNKS = Symbol("orbitdock.serializedState")

/** Records that the concatenation of `chunks` is the JSON of `value` (which must never change afterwards). */
export const remember = (value: object, chunks: ReadonlyArray<string>): void => {
  Object.defineProperty(value, CHUNKS, { value: chunks })
}

/** The JSON of `value` in chunks, if it is at hand. */
export const serialized = (value: unknown): ReadonlyArray<string> | undefined =>
  typeof value === "object" && value !== null ? (value as { readonly [CHUNKS]?: ReadonlyArray<string> })[CHUNKS] : undefined
