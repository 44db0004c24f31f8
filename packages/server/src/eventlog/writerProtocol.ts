/**
 * The messages between the event log (main thread) and its writer worker. Owns only their shapes:
 * a batch crosses as one text, packed on the main thread and unpacked into rows of primitives in the
 * worker (`payloadCodec.packEntry`/`unpackBatch`; no Schema on this path: both ends are our code,
 * and the events were validated by the domain schemas before they were appended).
 */

/** Given to the worker as `workerData`, so a respawned worker opens the same database. */
export interface WriterWorkerData {
  readonly dbPath: string
  /** The urgent entries the main thread has queued (`writerDemand.ts`); shared, not copied. */
  readonly urgentQueued?: SharedArrayBuffer
}

/** A row of `events`: session_id, revision, type, occurred_at, source_key, payload (JSON). */
export type EventRow = readonly [string, number, string, string, string | null, string]
/** A row of `checkpoints`: key, value. */
export type CheckpointRow = readonly [string, string]
/** A row of `session_summaries`: session_id, revision, created_at, summary (JSON). */
export type SummaryRow = readonly [string, number, string, string]

/**
 * A row of `notification_outbox`: id, session_id, revision, created_at, payload (JSON). Queued with
 * the events that caused it, so it is committed exactly when they are (`notify/`).
 */
export type NotificationRow = readonly [string, string, number, string, string]
/** A row of `notification_deliveries`: notification_id, channel_id, status, attempts, updated_at, detail. */
export type DeliveryRow = readonly [string, string, string, number, string, string]

/** A row of `rule_events`: id, at, type, payload (the whole rule event as JSON). */
export type RuleEventRow = readonly [string, string, string, string]

/** One `AppendEntry` as the worker sees it (no `urgent`: batching is decided on the main side). */
export interface WriterEntry {
  readonly events: ReadonlyArray<EventRow>
  readonly checkpoints: ReadonlyArray<CheckpointRow>
  readonly summary: SummaryRow | null
  readonly notifications: ReadonlyArray<NotificationRow>
  readonly deliveries: ReadonlyArray<DeliveryRow>
  readonly ruleEvents: ReadonlyArray<RuleEventRow>
}

/** What `postMessage` carries: a `CommitRequest` whose entries are packed into one text. */
export interface CommitMessage {
  readonly token: string
  /** `payloadCodec.packEntry`'s lines, joined with "\n". */
  readonly batch: string
  readonly retry: boolean
  /** Which lane of the write queue sent it; each lane keeps its own last token. */
  readonly lane: CommitLane
}

/**
 * The main lane commits the queue batch by batch; the express lane sends a batch of urgent entries
 * while a main batch is in flight (`writeQueue.ts`), so the worker commits it right after.
 */
export type CommitLane = "main" | "express"

/**
 * Commit these entries in one transaction. `token` is unique per batch of this process: the worker
 * stores it in the same transaction, so a batch re-sent after a worker crash is recognised as
 * already committed instead of being rejected as duplicates.
 */
export interface CommitRequest {
  readonly token: string
  readonly entries: ReadonlyArray<WriterEntry>
  /** Sent before: the worker first checks whether it already committed. */
  readonly retry: boolean
  readonly lane: CommitLane
}

/** A session's paging as of a snapshot the worker wrote: session id, snapshot revision, messages paged. */
export type PagedReport = readonly [string, number, number]

/** An entry the database refused (a UNIQUE violation: duplicate revision or source key). */
export interface RejectedEntry {
  readonly index: number
  readonly code: string
  readonly message: string
}

/**
 * The worker's answer. `Committed` lists the entries that were refused (the others committed);
 * `Failed` means nothing of the batch committed and it is worth retrying (busy, I/O, full disk).
 */
export type CommitResult =
  | {
      readonly _tag: "Committed"
      readonly rejected: ReadonlyArray<RejectedEntry>
      /** Sessions paged further by the snapshots written since the last answer (`messagePages.ts`). */
      readonly paged?: ReadonlyArray<PagedReport>
    }
  | { readonly _tag: "Failed"; readonly code: string; readonly message: string }
