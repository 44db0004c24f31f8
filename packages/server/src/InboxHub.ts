/**
 * The inbox as inbox subscribers see it: every session that needs its person, from the summaries
 * the list hub gets, and the `inbox_changed` messages. A change goes out at once (it is what a
 * person waits for); a snoozed entry leaves the inbox and comes back when `wake` finds its time
 * has come. Only summaries whose attention changed cost anything: the rest is one comparison.
 */
import type { AttentionDetail, InboxChanged, InboxItem, InboxMessage, SessionId, SessionSummary } from "@orbitdock/domain"
import { Inbox } from "@orbitdock/projections"

export type InboxHubMessage = InboxMessage | InboxChanged

/** Receives inbox messages; `push` must never block or throw (like a list subscriber). */
export interface InboxSubscriber {
  readonly push: (message: InboxHubMessage) => void
}

export interface InboxHub {
  /** Registers a session known at startup (no announcement). */
  readonly load: (summary: SessionSummary) => void
  /** A session's new summary: announces its entry when it changed. */
  readonly update: (summary: SessionSummary) => void
  /** The entries shown at `now`, longest waiting first. */
  readonly items: () => ReadonlyArray<InboxItem>
  /** Every entry, snoozed ones included, longest waiting first. */
  readonly all: () => ReadonlyArray<InboxItem>
  /** Pushes the inbox now, then its changes. */
  readonly subscribe: (subscriber: InboxSubscriber) => void
  readonly unsubscribe: (subscriber: InboxSubscriber) => void
  readonly subscriberCount: () => number
  /** The inbox as one message (a subscriber's resync). */
  readonly message: () => InboxMessage
  /**
   * `{"items":[…]}` of the entries shown now, as UTF-8 JSON: kept until an entry changes or a
   * snoozed one's time comes, so a fleet that changes less often than it is asked is encoded once.
   */
  readonly itemsJson: () => Buffer
  /** Announces the snoozed entries whose time has come. */
  readonly wake: () => void
}

const ITEMS_OPEN = Buffer.from(`{"items":[`)
const COMMA = Buffer.from(",")
const ITEMS_CLOSE = Buffer.from("]}")

interface Entry {
  readonly detail: AttentionDetail | null | undefined
  readonly title: string | undefined
  readonly ended: boolean
  readonly item: InboxItem | null
  /** The item's JSON (UTF-8), made once with the entry: the encoded answer is these, copied together. */
  readonly json: Buffer | null
  /** Whether subscribers were last told it is in the inbox. */
  shown: boolean
}

/** `now`: the current time as an ISO string (the registry's clock). */
export const make = (now: () => string): InboxHub => {
  const entries = new Map<SessionId, Entry>()
  const subscribers = new Set<InboxSubscriber>()
  /** Bumped on every change of an entry. */
  let version = 0
  let encoded: { readonly version: number; readonly validUntil: string | null; readonly json: Buffer } | null = null

  const broadcast = (message: InboxHubMessage) => {
    for (const subscriber of subscribers) subscriber.push(message)
  }

  const entryOf = (summary: SessionSummary): Entry => {
    const item = Inbox.itemOf(summary)
    return {
      detail: summary.attention_detail,
      title: summary.title,
      ended: summary.status === "ended",
      item,
      json: item === null ? null : Buffer.from(JSON.stringify(item)),
      shown: false
    }
  }

  const unchanged = (entry: Entry | undefined, summary: SessionSummary): boolean =>
    entry !== undefined &&
    entry.detail === summary.attention_detail &&
    entry.title === summary.title &&
    entry.ended === (summary.status === "ended")

  const shownAt = (item: InboxItem | null, at: string): item is InboxItem => item !== null && Inbox.isShown(item, at)

  const ordered = (items: Array<InboxItem>) => items.sort(Inbox.compare)

  const items = () => {
    const at = now()
    const shown: Array<InboxItem> = []
    for (const entry of entries.values()) if (shownAt(entry.item, at)) shown.push(entry.item)
    return ordered(shown)
  }

  /** Entries with an item, in inbox order, sorted again only after a change. */
  let sorted: { readonly version: number; readonly entries: ReadonlyArray<Entry & { readonly item: InboxItem; readonly json: Buffer }> } | null = null
  const sortedEntries = () => {
    if (sorted !== null && sorted.version === version) return sorted.entries
    const withItems: Array<Entry & { readonly item: InboxItem; readonly json: Buffer }> = []
    for (const entry of entries.values()) if (entry.item !== null && entry.json !== null) withItems.push(entry as never)
    withItems.sort((a, b) => Inbox.compare(a.item, b.item))
    sorted = { version, entries: withItems }
    return withItems
  }

  return {
    load: (summary) => {
      const entry = entryOf(summary)
      entry.shown = shownAt(entry.item, now())
      entries.set(summary.id, entry)
      version++
    },
    update: (summary) => {
      const before = entries.get(summary.id)
      if (unchanged(before, summary)) return
      version++
      const entry = entryOf(summary)
      entry.shown = shownAt(entry.item, now())
      entries.set(summary.id, entry)
      if (entry.shown) broadcast({ type: "inbox_changed", session_id: summary.id, item: entry.item })
      else if (before?.shown === true) broadcast({ type: "inbox_changed", session_id: summary.id, item: null })
    },
    items,
    all: () => {
      const all: Array<InboxItem> = []
      for (const entry of entries.values()) if (entry.item !== null) all.push(entry.item)
      return ordered(all)
    },
    subscribe: (subscriber) => {
      subscribers.add(subscriber)
      subscriber.push({ type: "inbox", items: items() })
    },
    unsubscribe: (subscriber) => {
      subscribers.delete(subscriber)
    },
    subscriberCount: () => subscribers.size,
    message: () => ({ type: "inbox", items: items() }),
    itemsJson: () => {
      const at = now()
      if (encoded !== null && encoded.version === version && (encoded.validUntil === null || at < encoded.validUntil)) {
        return encoded.json
      }
      // Valid until the first snoozed entry wakes (ISO times of one clock compare as strings).
      let validUntil: string | null = null
      for (const entry of entries.values()) {
        const until = entry.item?.snoozed_until
        if (until !== undefined && until > at && (validUntil === null || until < validUntil)) validUntil = until
      }
      // Copying the entries' bytes together is several times faster than joining their strings and encoding that.
      const parts: Array<Buffer> = [ITEMS_OPEN]
      for (const entry of sortedEntries()) {
        if (!Inbox.isShown(entry.item, at)) continue
        if (parts.length > 1) parts.push(COMMA)
        parts.push(entry.json)
      }
      parts.push(ITEMS_CLOSE)
      encoded = { version, validUntil, json: Buffer.concat(parts) }
      return encoded.json
    },
    wake: () => {
      const at = now()
      for (const [sessionId, entry] of entries) {
        if (entry.shown || !shownAt(entry.item, at)) continue
        entry.shown = true
        broadcast({ type: "inbox_changed", session_id: sessionId, item: entry.item })
      }
    }
  }
}
