/**
 * The event log: the source of truth. Owns durable, batched appends (one writer, off the main
 * thread), reads by session and globally, connector checkpoints and the per-session summaries that
 * make a cold start fast. Does not fold events or validate commands.
 *
 * Interface only here; the SQLite implementation lives in `EventLogSqlite.ts`.
 */
import type { SessionId, SessionSummary, StoredEvent } from "@orbitdock/domain"
import type { SessionProjection } from "@orbitdock/projections"
import { Context, Data, type Effect, type Option, type Stream } from "effect"
import type { DeliveryRow, NotificationRow, RuleEventRow } from "./writerProtocol.js"

/** A connector's resume point (e.g. a transcript's byte offset), committed with the events it produced. */
export interface Checkpoint {
  readonly key: string
  readonly value: string
}

/** An event whose envelope the session actor assigned, ready to be written. */
export interface PendingEvent {
  readonly stored: StoredEvent
  /** Stable id of the event at its source; unique per session when present. */
  readonly source_key: string | null
}

/** What one actor step hands to the writer. All of it commits in one transaction. */
export interface AppendEntry {
  readonly events: ReadonlyArray<PendingEvent>
  /** Checkpoints advanced by these events (may come with no events, e.g. all were duplicates). */
  readonly checkpoints?: ReadonlyArray<Checkpoint>
  /** The session's summary after these events; the writer keeps the latest per session. */
  readonly summary?: SessionSummary
  /** Notifications these events cause, committed with them (`notify/`). */
  readonly notifications?: ReadonlyArray<NotificationRow>
  /** Deliveries of notifications to record (an entry of its own, no events). */
  readonly deliveries?: ReadonlyArray<DeliveryRow>
  /** Changes of the approval rules (an entry of its own, no events). */
  readonly ruleEvents?: ReadonlyArray<RuleEventRow>
  /**
   * Someone is waiting for this (a command's ack): flush now instead of waiting for the timer, and
   * ahead of other sessions' queued entries (after this session's own).
   */
  readonly urgent?: boolean
}

/**
 * The writer's health, as `/health` and the `server_status` message tell it: `degraded` while
 * commits fail (they are kept and retried; `reason` says why), `ok` otherwise.
 */
export interface WriterStatus {
  readonly status: "ok" | "degraded"
  readonly reason: string | null
}

/** An event with its global position in the log. */
export interface PositionedEvent extends StoredEvent {
  readonly position: number
}

/**
 * What hydrating a session needs: its latest projection snapshot (null when there is none, or it
 * was unreadable and so ignored) and its committed events after the snapshot's revision, in order.
 * Folding `events` onto `snapshot` (or onto the empty projection) gives the same projection as
 * replaying all of the session's events.
 */
export interface LoadedSession {
  readonly snapshot: SessionProjection.SessionProjection | null
  /** How many messages come before `snapshot.state.messages`: they are in message pages. */
  readonly paged: number
  readonly events: ReadonlyArray<StoredEvent>
}

/** How far a session's messages are paged out: as of its latest snapshot (see `messagePages.ts`). */
export interface PagedProgress {
  readonly revision: number
  readonly paged: number
}

/** A queued notification and what became of it on each channel so far. */
export interface OutboxEntry {
  readonly id: string
  readonly sessionId: SessionId
  readonly revision: number
  readonly createdAt: string
  /** The notification as JSON (`notify/Notification.ts`). */
  readonly payload: string
  /** By channel id: the latest delivery row. */
  readonly deliveries: ReadonlyMap<string, DeliveryRecord>
}

/** One notification's delivery to one channel. */
export interface DeliveryRecord {
  readonly notificationId: string
  readonly channelId: string
  /** `sent`, `failed` (after its retries), `skipped` (not needed any more, or quiet), `retrying`. */
  readonly status: string
  readonly attempts: number
  readonly updatedAt: string
  readonly detail: string
}

export class EventLogError extends Data.TaggedError("EventLogError")<{
  /** e.g. "EventLog.append:commit", which tests and logs can match on. */
  readonly operation: string
  readonly cause: unknown
}> {
  override get message() {
    return `${this.operation} failed: ${this.cause instanceof Error ? this.cause.message : String(this.cause)}`
  }
}

export interface EventLogShape {
  /**
   * Queues an entry for the writer and returns at once (never waits for the disk). The returned
   * effect completes when the entry is committed. A session's entries commit in the order they
   * were queued; an urgent entry may commit before other sessions' entries queued earlier.
   */
  readonly append: (entry: AppendEntry) => Effect.Effect<Effect.Effect<void, EventLogError>>
  /** `append`, synchronously: queues the entry now and returns the effect that completes on its commit. */
  readonly appendNow: (entry: AppendEntry) => Effect.Effect<void, EventLogError>
  /**
   * Waits until the writer's backlog has room for `events` more and reserves it: what a producer
   * shows after this is durable within about the writer's room (~100 ms of commits). Call it
   * before showing what will be appended, and `release` the same count once appended (or not).
   */
  readonly room: (events: number) => Effect.Effect<void>
  /** `room` without waiting: reserves and returns true when there is room now (and nobody waits for it). */
  readonly tryRoom: (events: number) => boolean
  /** Ends a reservation made with `room`. */
  readonly release: (events: number) => void
  /** Whether some of the session's appended entries are not committed yet (it must stay in memory). */
  readonly uncommitted: (sessionId: SessionId) => boolean
  /** The writer's status now, then each change of it. */
  readonly status: Stream.Stream<WriterStatus>
  /** One session's committed events with `revision > afterRevision`, in order, at most `limit`. */
  readonly readSession: (
    sessionId: SessionId,
    afterRevision: number,
    limit?: number
  ) => Effect.Effect<ReadonlyArray<StoredEvent>, EventLogError>
  /**
   * A session for hydration: its snapshot and the committed events after it. A corrupt snapshot is
   * logged and ignored (all events are returned instead); only a failing read fails.
   */
  readonly loadSession: (sessionId: SessionId) => Effect.Effect<LoadedSession, EventLogError>
  /**
   * The message pages holding the session's first `count` messages, in order (each JSON array
   * text). Fails when a page is missing or unreadable. A page may be newer than the caller's
   * state (the worker applies later updates of paged messages to it); applying an update again
   * changes nothing, so a state assembled from it and the updates after it is still right.
   */
  readonly readPages: (sessionId: SessionId, count: number) => Effect.Effect<ReadonlyArray<string>, EventLogError>
  /**
   * The session's paging as of the latest snapshot the log knows of (null: none): the writer tells
   * as it pages (with its commits' answers), hydration as it loads; otherwise it is read.
   */
  readonly pagedProgress: (sessionId: SessionId) => Effect.Effect<PagedProgress | null, EventLogError>
  /** Committed events of all sessions with `position > afterPosition`, in log order, at most `limit`. */
  readonly readAll: (afterPosition: number, limit: number) => Effect.Effect<ReadonlyArray<PositionedEvent>, EventLogError>
  /** The latest committed summary of every session, oldest session first. */
  readonly summaries: Effect.Effect<ReadonlyArray<SessionSummary>, EventLogError>
  /** The committed value of a checkpoint. */
  readonly checkpoint: (key: string) => Effect.Effect<Option.Option<string>, EventLogError>
  /**
   * The digests (`sourceKeyDigest.ts`) of the source keys a session's committed events
   * carry, in a new set the caller owns: what its actor remembers to de-duplicate after a restart.
   */
  readonly sourceKeyDigests: (sessionId: SessionId) => Effect.Effect<Set<number>, EventLogError>
  /** Whether a committed event of the session carries this source key (an actor checks a digest it has seen before). */
  readonly hasSourceKey: (sessionId: SessionId, key: string) => Effect.Effect<boolean, EventLogError>
  /** Committed notifications queued after `createdAfter` (ISO time), oldest first, with their deliveries. */
  readonly outbox: (createdAfter: string) => Effect.Effect<ReadonlyArray<OutboxEntry>, EventLogError>
  /** The latest committed deliveries, newest first, at most `limit`. */
  readonly deliveries: (limit: number) => Effect.Effect<ReadonlyArray<DeliveryRecord>, EventLogError>
  /** Committed `approval_requested` and `approval_resolved` events after a position, in log order, at most `limit`. */
  readonly readApprovals: (afterPosition: number, limit: number) => Effect.Effect<ReadonlyArray<PositionedEvent>, EventLogError>
  /** Every committed change of the approval rules, in order: each row's payload (JSON). */
  readonly ruleEvents: Effect.Effect<ReadonlyArray<string>, EventLogError>
  /** Completes when everything queued so far is committed. */
  readonly flush: Effect.Effect<void, EventLogError>
}

export class EventLog extends Context.Tag("@orbitdock/server/EventLog")<EventLog, EventLogShape>() {}
