/**
 * Message pages: how a session's older messages leave memory. The writer worker, when it writes a
 * session's projection snapshot, moves all but the last `KEEP_MESSAGES` messages into the
 * `message_pages` table, `PAGE_MESSAGES` per row as JSON array text; the snapshot keeps the rest and
 * says how many are paged. A live actor learns that (`EventLog.pagedProgress`) and drops those
 * messages from memory. Whoever needs the whole state (a subscriber's snapshot, a GET) gets it
 * assembled here: the pages as stored, the changes made to paged messages since, then the messages
 * in memory.
 *
 * Why: the messages are almost all of a session's memory (~500 MB for 200 sessions × 5,000
 * ~500-byte messages; with pages the server settles at ~130 MB with all of them read). Pages are
 * written off the main thread, from committed events only, and are derived data like snapshots.
 * They are stored and read as text: read as BLOBs, the ~28 KB `Buffer` per page fragmented
 * glibc's heap (RSS settled anywhere from 203 to 269 MB instead; bench/FINDINGS.md, finding 5).
 */
import type { Message, MessageChanges, SessionState, StoredEvent } from "@orbitdock/domain"
import { SessionMirror, SessionProjection } from "@orbitdock/projections"
import { evolveInPlace } from "@orbitdock/projections/in-place"
import type BetterSqlite3 from "better-sqlite3"
import * as SerializedStates from "../internal/serializedStates.js"

/** Messages per page row (~32 KB of JSON with the bench's ~500-byte messages). */
export const PAGE_MESSAGES = 64

/**
 * The most recent messages a snapshot keeps in its state (and so a live session in memory, plus
 * what arrived since its last snapshot): what connectors look tool calls up in, and where
 * streaming updates land, so that updating a paged message (a page rewrite) stays rare.
 */
export const KEEP_MESSAGES = 128

/** How many whole pages to move out of `inMemory` messages, keeping at least `KEEP_MESSAGES`. */
export const pagesDue = (inMemory: number): number => Math.max(0, Math.floor((inMemory - KEEP_MESSAGES) / PAGE_MESSAGES))

/** A `message_updated` whose message may be paged: kept by the actor until a page has it. */
export interface PagedUpdate {
  readonly revision: number
  readonly messageId: string
  readonly changes: MessageChanges
}

const lastIndexOf = (messages: ReadonlyArray<Message>, id: string): number => {
  for (let i = messages.length - 1; i >= 0; i--) if (messages[i]!.id === id) return i
  return -1
}

/** `stored` if it updates a message that `inMemory` does not hold (a paged one, if any), as kept for the pages. */
export const pagedUpdateOf = (inMemory: ReadonlyArray<Message>, stored: StoredEvent): PagedUpdate | undefined => {
  const event = stored.event
  return event.type === "message_updated" && lastIndexOf(inMemory, event.message_id) < 0
    ? { revision: stored.revision, messageId: event.message_id, changes: event.changes }
    : undefined
}

/**
 * Folds `events` onto `base` (like `SessionProjection.fold`, on a copy of its message list), first
 * handing each update of a message not in memory to `onPagedUpdate`: hydration keeps them for the
 * actor, the snapshot writer applies them to the pages.
 */
export const foldRecent = (
  base: SessionProjection.SessionProjection,
  events: Iterable<StoredEvent>,
  onPagedUpdate: ((update: PagedUpdate) => void) | undefined
): SessionProjection.SessionProjection => {
  let projection: SessionProjection.SessionProjection = { ...base, state: { ...base.state, messages: base.state.messages.slice() } }
  for (const stored of events) {
    if (onPagedUpdate !== undefined) {
      const update = pagedUpdateOf(projection.state.messages, stored)
      if (update !== undefined) onPagedUpdate(update)
    }
    projection = evolveInPlace(projection, stored)[0]
  }
  return projection
}

// ---- worker side ----------------------------------------------------------------------------

/** A stored page: its first message's position and its JSON array text. */
type Row = [number, string]

/** The page reads and writes of the snapshot writer, over its connection (inside its transaction). */
export const makePageWriter = (db: BetterSqlite3.Database) => {
  const newestFirst = db
    .prepare<[string], Row>("SELECT first_seq, messages FROM message_pages WHERE session_id = ? ORDER BY first_seq DESC")
    .raw(true)
  const upsert = db.prepare<[string, number, string]>(
    `INSERT INTO message_pages (session_id, first_seq, messages) VALUES (?, ?, ?)
     ON CONFLICT (session_id, first_seq) DO UPDATE SET messages = excluded.messages`
  )
  const clear = db.prepare<[string]>("DELETE FROM message_pages WHERE session_id = ?")

  /** The edits of one snapshot of one session; nothing is written before `save`. */
  const edit = (sessionId: string, fromScratch: boolean) => {
    const parsed = new Map<number, Array<Message>>()
    const dirty = new Set<number>()
    // The session's stored pages, newest first, read once on the first update of a paged message
    // and parsed one by one as far as the updates reach back (usually the newest page or two).
    let stored: Array<Row> | undefined
    const pageAt = (i: number): [number, Array<Message>] => {
      const [firstSeq, text] = stored![i]!
      let messages = parsed.get(firstSeq)
      if (messages === undefined) {
        messages = JSON.parse(text) as Array<Message>
        parsed.set(firstSeq, messages)
      }
      return [firstSeq, messages]
    }
    return {
      /**
       * Applies a `message_updated` to the paged message it names (the newest with that id); an id
       * in no page is ignored, as the fold ignores an update of a message it does not have.
       */
      update: (messageId: string, changes: MessageChanges): void => {
        if (fromScratch) return
        stored ??= newestFirst.all(sessionId)
        for (let i = 0; i < stored.length; i++) {
          const [firstSeq, messages] = pageAt(i)
          const index = lastIndexOf(messages, messageId)
          if (index < 0) continue
          messages[index] = SessionMirror.changeMessage(messages[index]!, changes)
          dirty.add(firstSeq)
          return
        }
      },
      /** A new page of `messages`, the first of which is message number `firstSeq` of the session. */
      add: (firstSeq: number, messages: ReadonlyArray<Message>): void => {
        parsed.set(firstSeq, messages as Array<Message>)
        dirty.add(firstSeq)
      },
      /** Writes the changed and new pages (a rebuild from scratch first drops the old ones). */
      save: (): number => {
        if (fromScratch) clear.run(sessionId)
        let chars = 0
        for (const firstSeq of dirty) {
          const page = JSON.stringify(parsed.get(firstSeq))
          upsert.run(sessionId, firstSeq, page)
          chars += page.length
        }
        return chars
      }
    }
  }
  return { edit } as const
}

// ---- main side --------------------------------------------------------------------------------

/** A page as read back is used only if it looks like what `save` writes: a JSON array of objects. */
export const plausiblePage = (page: unknown): page is string =>
  typeof page === "string" && page.startsWith("[{") && page.endsWith("}]")

/**
 * The whole state: `state` (whose `messages` are the ones after the pages) with the paged messages
 * in front. The paged messages are parsed only if someone reads `messages`: an answer that only
 * serializes the state (a GET, a JSON frame) gets the pages' text as stored, found via
 * `SerializedStates`. `updates` are the changes of paged messages the pages may not have yet (each
 * applied to the newest paged message with its id, in order: applying one twice changes nothing);
 * with any, the state is serialized the ordinary way.
 */
export const assemble = (
  state: SessionState,
  pages: ReadonlyArray<string>,
  updates: ReadonlyArray<PagedUpdate>
): SessionState => {
  if (pages.length === 0) return state
  const whole = { ...state }
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
    SerializedStates.remember(whole, chunks)
  }
  return whole
}

interface Paged {
  readonly pages: ReadonlyArray<string>
  readonly updates: ReadonlyArray<PagedUpdate>
  readonly recent: ReadonlyArray<Message>
}

const PAGED = Symbol("orbitdock.pagedMessages")

/**
 * The getter of an assembled state's `messages`: parses the pages once, then leaves the list in
 * place of itself. One function for every state, finding its pages on `this`: a getter closing
 * over them would be referenced from V8's hidden-class metadata, which lives in the old
 * generation, and so keep every read's pages alive through young-generation collections (measured:
 * all ~440 MB of page text read for 200 sessions was promoted, and stayed until a full GC).
 */
function pagedMessages(this: SessionState & { readonly [PAGED]: Paged }): ReadonlyArray<Message> {
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
