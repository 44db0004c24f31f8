/**
 * The messages between the event log (main thread) and its writer worker. Owns only their shapes:
 * plain data, structured-cloned by `postMessage` (no Schema on this path: both ends are our code,
 * and the events were validated by the domain schemas before they were appended).
 */
import type { Checkpoint, PendingEvent } from "../EventLog.js"
import type { SessionSummary } from "@orbitdock/domain"

/** Given to the worker as `workerData`, so a respawned worker opens the same database. */
export interface WriterWorkerData {
  readonly dbPath: string
}

/** One `AppendEntry` as the worker sees it (no `urgent`: batching is decided on the main side). */
export interface WriterEntry {
  readonly events: ReadonlyArray<PendingEvent>
  readonly checkpoints?: ReadonlyArray<Checkpoint> | undefined
  readonly summary?: SessionSummary | undefined
}

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
}

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
  | { readonly _tag: "Committed"; readonly rejected: ReadonlyArray<RejectedEntry> }
  | { readonly _tag: "Failed"; readonly code: string; readonly message: string }
