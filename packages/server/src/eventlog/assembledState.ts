/**
 * A session's whole state assembled from its message pages (`messagePages.ts`) and the state in
 * memory, and the two representations that make such a state cheap to hand out. Both ride on the
 * state object itself under symbols (not enumerable: neither JSON nor a spread sees them), and
 * both are safe because an assembled state is never changed in place:
 *
 * - its `messages` are a getter that parses the pages only when someone reads them, then puts the
 *   list in place of itself;
 * - its JSON, in chunks: the pages' text as read plus a few chunks around it, so an answer that only
 *   serializes the state (a GET, a JSON frame) writes the chunks out without parsing the paged
 *   messages (~2.5 MB of JSON for 5,000 messages).
 *
 * Not a `WeakMap` or a closure: both would be referenced from V8's old generation, and keep every
 * read's pages alive through young-generation collections (bench/FINDINGS.md, findings 5 and 9).
 */
import type { Message, SessionState } from "@orbitdock/domain"
import { SessionMirror } from "@orbitdock/projections"
import { lastIndexOf, type PagedUpdate } from "./messagePages.js"

/** What an assembled state's `messages` are made of (read by `pagedMessages`). */
interface Paged {
  readonly pages: ReadonlyArray<string>
  readonly updates: ReadonlyArray<PagedUpdate>
  readonly recent: ReadonlyArray<Message>
}

const PAGED = Symbol("orbitdock.pagedMessages")
const CHUNKS = Symbol("orbitdock.assembledJson")

/** A whole state assembled from pages: a `SessionState` whose messages and JSON come from the pages. */
export interface AssembledState extends SessionState {
  readonly [PAGED]: Paged
}

/** The JSON of `value` in chunks, if it is an assembled state whose JSON is at hand. */
export const jsonChunksOf = (value: unknown): ReadonlyArray<string> | undefined =>
  typeof value === "object" && value !== null ? (value as { readonly [CHUNKS]?: ReadonlyArray<string> })[CHUNKS] : undefined

/**
 * The whole state: `state` (whose `messages` are the ones after the pages) with the paged messages
 * in front. The paged messages are parsed only if someone reads `messages`: an answer that only
 * serializes the state (a GET, a JSON frame) gets the pages' text as stored, found via
 * `jsonChunksOf`. `updates` are the changes of paged messages the pages may not have yet (each
 * applied to the newest paged message with its id, in order: applying one twice changes nothing);
 * with any, the state is serialized the ordinary way.
 */
export const assemble = (
  state: SessionState,
  pages: ReadonlyArray<string>,
  updates: ReadonlyArray<PagedUpdate>
): SessionState | AssembledState => {
  if (pages.length === 0) return state
  const whole = { ...state } as AssembledState
  // What `messages` is made of, on the state itself (not in a closure): see `pagedMessages`.
  Object.defineProperty(whole, PAGED, { value: { pages, updates, recent: state.messages } satisfies Paged })
  Object.defineProperty(whole, "messages", { enumerable: true, configurable: true, get: pagedMessages })
  if (updates.length === 0) {
    const { messages: _m, ...scalars } = state
    const chunks: Array<string> = [`${JSON.stringify(scalars).slice(0, -1)},"messages":[`]
    // The separator is a chunk of its own: prefixed to a page's text it would make a cons string,
    // which writing flattens into a copy of the page (~2.2 MB per 5,000-message session).
    pages.forEach((page, i) => (i === 0 ? chunks.push(page.slice(1, -1)) : chunks.push(",", page.slice(1, -1))))
    const tail = state.messages.map((message) => JSON.stringify(message)).join(",")
    chunks.push(`${tail === "" ? "" : ","}${tail}]}`)
    Object.defineProperty(whole, CHUNKS, { value: chunks })
  }
  return whole
}


/**
 * The getter of an assembled state's `messages`: parses the pages once, then leaves the list in
 * place of itself. One function for every state, finding its pages on `this`: a getter closing
 * over them would be referenced from V8's hidden-class metadata, which lives in the old
 * generation, and so keep every read's pages alive through young-generation collections (measured:
 * all ~440 MB of page text read for 200 sessions was promoted, and stayed until a full GC).
 */
function pagedMessages(this: AssembledState): ReadonlyArray<Message> {
  const { pages, updates, recent } = this[PAGED]
  const messages: Array<Message> = []
  for (const page of pages) for (const message of JSON.parse(page) as Array<Message>) messages.push(message)
  for (const update of updates) {
    const index = lastIndexOf(messages, update.messageId)
    if (index >= 0) messages[index] = SessionMirror.changeMessage(messages[index]!, update.changes)
  }
  for (const message of recent) messages.push(message)
  Object.defineProperty(this, "messages", { value: messages, enumerable: true, configurable: false, writable: false })
  return messages
}
