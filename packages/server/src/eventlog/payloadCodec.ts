/**
 * How an event and a summary are stored: JSON text. Owns encoding (for the writer worker) and
 * decoding (on reads).
 *
 * JSON rather than msgpack: decoding (replay) is the main-thread cost that matters and JSON.parse
 * is as fast there, without persisted msgpack structures that could tear, and the log stays
 * readable with the `sqlite3` shell. Encoded on the main thread (`encodeEvents`, on append): a
 * batch's text crosses to the worker as one string, where a structured clone of its events held
 * the main thread for milliseconds. Measurements: bench/FINDINGS.md, finding 18.
 */
import type { DomainEvent, SessionSummary, StoredEvent } from "@orbitdock/domain"
import type { AppendEntry, PendingEvent, PositionedEvent } from "./EventLog.js"
import type { CheckpointRow, DeliveryRow, EventRow, NotificationRow, RuleEventRow, SummaryRow, WriterEntry } from "./writerProtocol.js"

export const encodeEvent = (event: DomainEvent): string => JSON.stringify(event)

export const encodeSummary = (summary: SessionSummary): string => JSON.stringify(summary)

/**
 * A batch crosses to the worker as one text of lines (`JSON.stringify` never writes a raw newline,
 * so lines cannot be confused). Per entry: a header line `[checkpoint rows, [session_id, revision,
 * created_at] of the summary | null, [session_id, revision, type, occurred_at, source_key] of each
 * event]`, the summary's JSON if any, then each event's JSON.
 *
 * Why text: a batch is held from its departure to its commit's reply, as are its entries' events
 * from their append. As rows of strings they were ~1.3 KB of small objects per event that every
 * young-generation scavenge in that time copied; an entry's events as one flat string copy as one
 * block, and a batch of hundreds of events is one string in the large-object space, never copied.
 * Measured at 20,000 events/s: see BENCHMARKS.md.
 */

/**
 * An entry's event lines, encoded when it is appended, so a departing batch is mostly joined (its
 * encoding in one piece held the main thread ~1.5 ms per 500 events). Throws when an event cannot
 * be encoded (e.g. a BigInt).
 */
export const encodeEvents = (events: ReadonlyArray<PendingEvent>): string =>
  events.length === 1 ? encodeEvent(events[0]!.stored.event) : events.map(({ stored }) => encodeEvent(stored.event)).join("\n")

/** Appends an entry to a batch's lines: its header, its summary if `withSummary`, its `encodeEvents`. */
export const packEntry = (lines: Array<string>, entry: AppendEntry, events: string, withSummary: boolean): void => {
  const summary = withSummary ? entry.summary : undefined
  const header: Array<unknown> = [
    (entry.checkpoints ?? []).map(({ key, value }) => [key, value]),
    summary ? [summary.id, summary.revision, summary.created_at] : null,
    entry.events.map(({ source_key, stored }) => [stored.session_id, stored.revision, stored.event.type, stored.occurred_at, source_key])
  ]
  if (entry.notifications !== undefined || entry.deliveries !== undefined || entry.ruleEvents !== undefined) {
    header.push(entry.notifications ?? [], entry.deliveries ?? [], entry.ruleEvents ?? [])
  }
  lines.push(JSON.stringify(header))
  if (summary) lines.push(encodeSummary(summary))
  if (events !== "") lines.push(events)
}

/** A batch's text (`packEntry`'s lines) as the rows the writer inserts, entry by entry. */
export const unpackBatch = (text: string): Array<WriterEntry> => {
  const lines = text.split("\n")
  const entries: Array<WriterEntry> = []
  let at = 0
  while (at < lines.length) {
    const [checkpoints, summary, events, notifications = [], deliveries = [], ruleEvents = []] = JSON.parse(lines[at++]!) as [
      Array<CheckpointRow>,
      [string, number, string] | null,
      Array<[string, number, string, string, string | null]>,
      Array<NotificationRow>?,
      Array<DeliveryRow>?,
      Array<RuleEventRow>?
    ]
    const summaryRow: SummaryRow | null = summary === null ? null : [...summary, lines[at++]!]
    const rows = events.map((meta): EventRow => [...meta, lines[at++]!])
    entries.push({ events: rows, checkpoints, summary: summaryRow, notifications, deliveries, ruleEvents })
  }
  return entries
}

/**
 * Rows are trusted, not decoded with the domain schemas: every event was a schema-valid
 * `StoredEvent` when it was appended and only the writer writes the table. Replay speed is why:
 * on 50k mixed events `readAll` replays ~150k events/s, and `Schema.decodeUnknownSync(StoredEvent)`
 * alone runs at ~380k events/s, so decoding would cost replay about 30%.
 */
export const decodeSessionRow = (sessionId: string, row: ReadonlyArray<unknown>): StoredEvent => ({
  session_id: sessionId as StoredEvent["session_id"],
  revision: row[0] as number,
  occurred_at: row[1] as string,
  event: JSON.parse(row[2] as string) as DomainEvent
})

export const decodeGlobalRow = (row: ReadonlyArray<unknown>): PositionedEvent => ({
  position: row[0] as number,
  session_id: row[1] as StoredEvent["session_id"],
  revision: row[2] as number,
  occurred_at: row[3] as string,
  event: JSON.parse(row[4] as string) as DomainEvent
})

export const decodeSummary = (text: string): SessionSummary => JSON.parse(text) as SessionSummary
