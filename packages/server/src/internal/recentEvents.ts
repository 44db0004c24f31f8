/**
 * The events a live session folded last, each with the message it published: what a subscriber
 * resuming `since_revision` is sent, what the log may not have committed yet, and what paging
 * looks back into. A ring trimmed in chunks, so the common case is a plain push.
 *
 * It keeps the last `keep` events, and of those only the ones folded in the last `maxAgeMs` (at
 * least the last `minKeep`) once the caller says they are all committed (`trimOld`): a resuming
 * client is one that lost its connection for seconds, and a session's whole ring, kept for every
 * live session, was most of what a server under steady traffic held (bench/FINDINGS.md, finding 25).
 */
import type { SessionMessage, StoredEvent } from "@orbitdock/domain"

export interface Recent {
  readonly stored: StoredEvent
  readonly message: SessionMessage
}

export interface RecentLimits {
  /** The most events kept, whatever their age. */
  readonly keep: number
  /** Committed events older than this go (`trimOld`)… */
  readonly maxAgeMs: number
  /** …except the last this many. */
  readonly minKeep: number
}

// Trimmed only once this many more than the bound are held, or this much older: a push stays a push.
const TRIM_SLACK = 256
const AGE_SLACK_MS = 10_000

export class RecentEvents {
  private readonly entries: Array<Recent> = []
  /** When each entry was folded (ms), in step with `entries`. */
  private readonly folded: Array<number> = []

  constructor(private readonly limits: RecentLimits) {}

  push(entry: Recent, now: number): void {
    this.entries.push(entry)
    this.folded.push(now)
    if (this.entries.length > this.limits.keep + TRIM_SLACK) this.dropFirst(this.entries.length - this.limits.keep)
  }

  /** Drops what is older than `maxAgeMs` (all of it must be committed: the caller knows). */
  trimOld(now: number): void {
    const { maxAgeMs, minKeep } = this.limits
    const removable = this.entries.length - minKeep
    if (removable <= 0 || this.folded[0]! >= now - maxAgeMs - AGE_SLACK_MS) return
    let count = 0
    while (count < removable && this.folded[count]! < now - maxAgeMs) count++
    this.dropFirst(count)
  }

  /** How many events it holds. */
  get size(): number {
    return this.entries.length
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

  private dropFirst(count: number): void {
    this.entries.splice(0, count)
    this.folded.splice(0, count)
  }

  private after(after: number): Array<Recent> {
    // The events after a recent revision are the ring's last ones: search from the end.
    let from = this.entries.length
    while (from > 0 && this.entries[from - 1]!.stored.revision > after) from--
    return this.entries.slice(from)
  }
}
