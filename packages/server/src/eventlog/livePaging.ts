/**
 * What a live session knows of its paging (`messagePages.ts`): the first `paged` messages of the
 * session are in the log's pages, as of its snapshot at `revision`; the state in memory holds the
 * messages after them. `updates` are the changes of paged messages since that snapshot, which the
 * pages may not have yet: a whole state applies them over the pages. Owned by the session's actor,
 * which folds, asks the log (`due`), and drops what the answer says is paged (`drop`).
 */
import type { Message, StoredEvent } from "@orbitdock/domain"
import type { PagedProgress } from "./EventLog.js"
import { KEEP_MESSAGES, PAGE_MESSAGES, type PagedUpdate, pagedUpdateOf } from "./messagePages.js"

/** How often at most a live actor asks the log whether its older messages were paged out. */
export const PAGING_CHECK_MS = 1000

export interface PagingStart {
  readonly paged: number
  readonly pagedRevision: number
  readonly pagedUpdates: ReadonlyArray<PagedUpdate>
}

export class LivePaging {
  paged: number
  revision: number
  updates: Array<PagedUpdate>
  private checkedAt = 0
  /** The in-memory message count at which `due` next looks (below it there is no page to drop). */
  private checkAtLength = KEEP_MESSAGES + PAGE_MESSAGES

  constructor(start: PagingStart) {
    this.paged = start.paged
    this.revision = start.pagedRevision
    this.updates = [...start.pagedUpdates]
  }

  /** Before `stored` is folded onto `inMemory`: an update of a paged message is kept for whole states. */
  folding(inMemory: ReadonlyArray<Message>, stored: StoredEvent): void {
    if (this.paged === 0) return
    const update = pagedUpdateOf(inMemory, stored)
    if (update !== undefined) this.updates.push(update)
  }

  /**
   * Whether to ask the log now. Cheap for the common step: only a page's worth of new messages
   * since the last drop (or pending updates of paged ones) makes it look at the clock, and only a
   * second since the last look makes it ask. A look that finds the log not paged yet keeps looking
   * (each second, on later steps): raising the bar then would leave a session that stops growing
   * unpaged for good.
   */
  due(inMemory: number, now: number): boolean {
    if (inMemory < this.checkAtLength && this.updates.length === 0) return false
    if (now - this.checkedAt < PAGING_CHECK_MS) return false
    this.checkedAt = now
    return true
  }

  /**
   * Takes in the log's answer; returns how many of the oldest messages in memory to drop (0: none).
   * An update after the snapshot of a message dropped now was applied in memory only: it is taken
   * from `eventsAfter` (the events after a revision that are still in memory; undefined when they
   * no longer reach back to it) and kept with the other updates of paged messages; when they do
   * not reach back, nothing is dropped this time (a later snapshot will do).
   */
  drop(
    progress: PagedProgress | null,
    inMemory: ReadonlyArray<Message>,
    eventsAfter: (revision: number) => ReadonlyArray<StoredEvent> | undefined
  ): number {
    if (progress === null || progress.revision <= this.revision || progress.paged < this.paged) return 0
    const drop = progress.paged - this.paged
    if (drop > inMemory.length) return 0
    const since = drop > 0 ? eventsAfter(progress.revision) : []
    if (since === undefined) return 0
    // The pages have every update up to the snapshot.
    const kept = this.updates.filter((u) => u.revision > progress.revision)
    if (drop > 0) {
      const dropped = new Set<string>()
      for (let i = 0; i < drop; i++) dropped.add(inMemory[i]!.id)
      for (const stored of since) {
        const event = stored.event
        if (event.type === "message_updated" && dropped.has(event.message_id)) {
          kept.push({ revision: stored.revision, messageId: event.message_id, changes: event.changes })
        }
      }
    }
    this.updates = kept
    this.paged = progress.paged
    this.revision = progress.revision
    this.checkAtLength = Math.max(inMemory.length - drop, KEEP_MESSAGES) + PAGE_MESSAGES
    return drop
  }

  /** The updates a whole state applies over the pages: those of messages no longer in memory. */
  updatesFor(inMemory: ReadonlyArray<Message>): Array<PagedUpdate> {
    const ids = new Set<string>(inMemory.map((m) => m.id))
    return this.updates.filter((u) => !ids.has(u.messageId))
  }
}
