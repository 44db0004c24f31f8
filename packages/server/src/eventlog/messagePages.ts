/**
 * Message pages: how a session's older messages leave memory. The writer worker, when it writes a
 * session's projection snapshot, moves all but the last `KEEP_MESSAGES` messages into the
 * `message_pages` table, `PAGE_MESSAGES` per row as JSON array text; the snapshot keeps the rest and
 * says how many are paged. A live actor learns that (`EventLog.pagedProgress`) and drops those
 * messages from memory. Whoever needs the whole state (a subscriber's snapshot, a GET) gets it
 * assembled (`assembledState.ts`): the pages as stored, the changes made to paged messages since,
 * then the messages in memory.
 *
 * Why: the messages are almost all of a session's memory. Pages are written off the main thread,
 * from committed events only, and are derived data like snapshots. They are stored and read as
 * text, not BLOBs, whose `Buffer` per page fragmented the allocator's heap (bench/FINDINGS.md,
 * findings 5 and 6).
 */
import type { Message, MessageChanges, SessionState, StoredEvent } from "@orbitdock/domain"
import { SessionMirror, SessionProjection } from "@orbitdock/projections"
import { evolveInPlace } from "@orbitdock/projections/in-place"
import type BetterSqlite3 from "better-sqlite3"

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

/** The index of the newest message with this id, -1 if none. */
export const lastIndexOf = (messages: ReadonlyArray<Message>, id: string): number => {
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
