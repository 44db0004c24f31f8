/**
 * How an event and a summary are stored: JSON text. Owns encoding (for the writer worker) and
 * decoding (on reads).
 *
 * Why JSON, measured here (Node 20, 2 cores; a message_appended of ~600 bytes and a message_updated,
 * µs per event, encode / decode): JSON.stringify/parse 0.62 / 0.51; msgpackr with plain maps
 * 0.50 / 0.67; msgpackr with records 0.39 / 0.33 but its structures must be persisted and shared by
 * every process that ever reads the file, one more thing that can tear. Reads (replay) are the
 * main-thread cost that matters and JSON.parse beats plain msgpackr there, sizes are within 6%,
 * and the log stays readable with the `sqlite3` shell.
 *
 * Why encode on the main thread (`toWriterEntry`, called by the write queue when a batch leaves)
 * and not in the worker: the batch crosses to the worker by `postMessage`, whose structured clone
 * of ~500 event objects took ~5 ms of the main thread in one piece (bench scenario 3); cloning the
 * encoded rows is a copy of strings (~0.3 ms for 500 events), and encoding them ~0.3 ms more.
 */
import type { DomainEvent, SessionSummary, StoredEvent } from "@orbitdock/domain"
import type { AppendEntry, PositionedEvent } from "../EventLog.js"
import type { WriterEntry } from "./writerProtocol.js"

export const encodeEvent = (event: DomainEvent): string => JSON.stringify(event)

export const encodeSummary = (summary: SessionSummary): string => JSON.stringify(summary)

/** An entry as the rows the writer inserts; throws when an event cannot be encoded (e.g. a BigInt). */
export const toWriterEntry = (entry: AppendEntry): WriterEntry => ({
  events: entry.events.map(({ source_key, stored }) => [
    stored.session_id,
    stored.revision,
    stored.event.type,
    stored.occurred_at,
    source_key,
    encodeEvent(stored.event)
  ]),
  checkpoints: (entry.checkpoints ?? []).map(({ key, value }) => [key, value]),
  summary: entry.summary
    ? [entry.summary.id, entry.summary.revision, entry.summary.created_at, encodeSummary(entry.summary)]
    : null
})

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
