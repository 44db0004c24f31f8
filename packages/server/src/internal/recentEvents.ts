/**
 * The events a live session folded last, each with the message it published: what a subscriber
 * resuming `since_revision` is sent, what the log may not have committed yet, and what paging
 * looks back into. A ring trimmed in chunks, so the common case is a plain push.
 */
import type { SessionMessage, StoredEvent } from "@orbitdock/domain"

export interface Recent {
  readonly stored: StoredEvent
  readonly message: SessionMessage
}

export class RecentEvents {
  private readonly entries: Array<Recent> = []

  constructor(private readonly keep: number) {}

  push(entry: Recent): void {
    this.entries.push(entry)
    if (this.entries.length > this.keep + 256) this.entries.splice(0, this.entries.length - this.keep)
  }

  /** The revision of the oldest event kept, if any. */
  oldestRevision(): number | undefined {
    return this.entries[0]?.stored.revision
  }

  /** Whether every event after `after` is still here (an older `after` is not covered). */
  covers(after: number): boolean {
    const first = this.entries[0]
    return first !== undefined && after >= first.stored.revision - 1
  }

  /** The events with revision > `after`, in order (all kept ones after it; `covers` says whether that is all of them). */
  eventsAfter(after: number): Array<StoredEvent> {
    return this.after(after).map((r) => r.stored)
  }

  /** The messages published for the events with revision > `after`. */
  messagesAfter(after: number): Array<SessionMessage> {
    return this.after(after).map((r) => r.message)
  }

  private after(after: number): Array<Recent> {
    // The events after a recent revision are the ring's last ones: search from the end.
    let from = this.entries.length
    while (from > 0 && this.entries[from - 1]!.stored.revision > after) from--
    return this.entries.slice(from)
  }
}
