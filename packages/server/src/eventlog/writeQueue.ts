/**
 * The main-thread half of the writer: an in-memory queue of append entries and the one fiber that
 * drains it in batches (group commit). Owns batching (size, time, urgency), ordering, the room
 * producers wait for before they show what they append, retries of failed commits (forever: a
 * batch is never dropped while the process lives), the writer's health, and settling each entry's
 * durability receipt. Does not touch SQLite: `commit` ships a batch to the writer worker.
 *
 * Ordering: a session's entries commit in the order they were queued. Across sessions they may
 * not: an urgent entry (someone waits for its ack) commits ahead of other sessions' queued entries,
 * with its own session's earlier entries, so a command to an idle session never waits behind
 * another session's backlog, nor for this thread to take the reply of the batch in flight (the
 * express lane, `takeExpress`). Checkpoint keys belong to one session, so this never reorders a key.
 *
 * Time bounds: the backlog (queued, in flight and reserved) is kept to what the writer commits in
 * about `ROOM_MS`, and a batch to about `BATCH_MS`, both measured from recent commits: what a
 * producer showed is durable within a few hundred milliseconds, bursts included.
 */
import type { WorkerError } from "@effect/platform/WorkerError"
import { Clock, Deferred, Duration, Effect, Effectable, Either, Exit, Fiber, FiberId, Metric, type Stream, SubscriptionRef } from "effect"
import * as crypto from "node:crypto"
import { performance } from "node:perf_hooks"
import { type AppendEntry, EventLogError, type WriterStatus } from "./EventLog.js"
import { encodeEvents, packEntry } from "./payloadCodec.js"
import * as Metrics from "../Metrics.js"
import type { CommitLane, CommitMessage, CommitResult } from "./writerProtocol.js"

export interface WriteQueueOptions {
  readonly batchSize: number
  readonly flushMs: number
  /** Ships one batch to the worker; `Failed` results and worker errors are retried here. */
  readonly commit: (message: CommitMessage) => Effect.Effect<CommitResult, WorkerError>
  /** Told how many urgent entries are queued or in flight whenever that changes (`writerDemand.ts`). */
  readonly onUrgentQueued?: (urgent: number) => void
  /** Once closing, how long a failing commit is still retried before its entries fail. Default 5 s. */
  readonly closeRetryMs?: number
}

/**
 * An entry, and its durability receipt: itself an Effect (`Effectable.Class`, whose machinery is
 * on the prototype) that waits for the entry's commit. Not a `Deferred`: `Deferred.unsafeMake`
 * copies the Effect prototype into every instance (measured ~2.4 µs, the largest main-thread cost
 * per append). Nor a receipt Effect made per entry: it is held until the commit's reply, and at
 * 20,000 events/s those objects were ~15 % of what the young-generation GC copied. Most appends
 * are never awaited (agent activity); waiters are registered only when awaited.
 */
class Queued extends Effectable.Class<void, EventLogError> {
  exit: Exit.Exit<void, EventLogError> | undefined = undefined
  waiters: Array<(exit: Exit.Exit<void, EventLogError>) => void> | undefined = undefined
  /** How many events the entry has. */
  readonly count: number
  /**
   * The entry and its events encoded (`payloadCodec.encodeEvents`), until they are in their batch's
   * text: dropped then, so they are not kept (and copied by the young-generation GC) until the
   * commit's reply.
   */
  unsent: { readonly entry: AppendEntry; readonly events: string } | undefined
  constructor(
    entry: AppendEntry,
    events: string,
    readonly urgent: boolean,
    /** The session the entry belongs to; null for one that belongs to none (a `flush` marker). */
    readonly session: string | null,
    readonly enqueuedAt: number
  ) {
    super()
    this.count = entry.events.length
    this.unsent = { entry, events }
  }
  settle(exit: Exit.Exit<void, EventLogError>) {
    this.exit = exit
    if (this.waiters !== undefined) for (const resume of this.waiters) resume(exit)
    this.waiters = undefined
  }
  commit(): Effect.Effect<void, EventLogError> {
    return this.exit !== undefined
      ? this.exit
      : Effect.async<void, EventLogError>((resume) => {
          ;(this.waiters ??= []).push(resume)
        })
  }
}

const closedExit = Exit.fail(new EventLogError({ operation: "EventLog.append:closed", cause: "the event log is closed" }))

/** Failed commits are retried after 20 ms, doubling up to this: the log heals within a second. */
const RETRY_FIRST_MS = 20
const RETRY_MAX_MS = 1000
/** While degraded, a reminder is logged this often (the change itself is logged at once). */
const DEGRADED_LOG_EVERY_MS = 60_000

/** The writer's backlog is bounded by what it commits in this long (`room`). */
export const ROOM_MS = 100
/** A batch holds at most what the writer commits in this long: an urgent entry waits for it. */
export const BATCH_MS = 25
/**
 * While commands come (an urgent entry of a session queued in the last `INTERACTIVE_MS`), a batch
 * holds at most this long of work instead: a command's own batch commits right after the one in
 * flight (the express lane), so its ack waits for that one. Bursts with nobody commanding keep
 * the larger batches (throughput); scenario 8 measures the difference.
 */
export const INTERACTIVE_BATCH_MS = 10
export const INTERACTIVE_MS = 1000
/** Bounds of the backlog in events, whatever the measured rate says. */
export const MIN_ROOM = 1024
export const MAX_ROOM = 16_384
/**
 * Upper bound of a batch in events: a backlog goes out in few large transactions (one commit of
 * 4,000 rows costs far less than 80 of 50), but never more than about `BATCH_MS` of work.
 */
export const MAX_GROUP_COMMIT = 4096

/**
 * The most events a batch takes: what the writer commits in `BATCH_MS` at its measured `rate`
 * (events per ms), or in `INTERACTIVE_BATCH_MS` when a command was queued `sinceCommandMs` ago,
 * less than `INTERACTIVE_MS`; never fewer than the configured `batchSize`, never more than
 * `MAX_GROUP_COMMIT`.
 */
export const batchLimitFor = (rate: number, batchSize: number, sinceCommandMs: number): number =>
  Math.min(MAX_GROUP_COMMIT, Math.max(batchSize, Math.round(rate * (sinceCommandMs < INTERACTIVE_MS ? INTERACTIVE_BATCH_MS : BATCH_MS))))

/** Commit throughput assumed before one was measured (events per ms; a typical 2-core laptop). */
const INITIAL_RATE = 20
/** Batches smaller than this say more about per-batch overhead than throughput: not measured. */
const RATE_SAMPLE_MIN_EVENTS = 128

/**
 * A batch's text for the worker (`payloadCodec.packEntry`), each session's summary only on its
 * last entry (the store upserts the latest anyway).
 */
const packBatch = (batch: ReadonlyArray<Queued>): string => {
  const unsent = batch.map((queued) => queued.unsent!)
  const latest = new Set<string>()
  const withSummary = new Array<boolean>(batch.length)
  for (let i = batch.length - 1; i >= 0; i--) {
    const summary = unsent[i]!.entry.summary
    withSummary[i] = summary !== undefined && !latest.has(summary.id)
    if (summary !== undefined) latest.add(summary.id)
  }
  const lines: Array<string> = []
  unsent.forEach(({ entry, events }, i) => packEntry(lines, entry, events, withSummary[i]!))
  for (const queued of batch) queued.unsent = undefined
  return lines.join("\n")
}

/** An urgent entry that waited this long goes in the next batch, however costly its session's backlog. */
export const URGENT_WAIT_MS = 4 * BATCH_MS

/** The session an entry belongs to: its summary's, else its first event's; null for neither. */
const sessionOf = (entry: AppendEntry): string | null =>
  entry.summary?.id ?? entry.events[0]?.stored.session_id ?? null

/**
 * The batch that lets urgent entries commit first: the queued entries of sessions with an urgent
 * entry, each session's up to its last urgent one, in queue order. `undefined` when no session has
 * an urgent entry (urgent `flush` markers belong to no session: they need everything before them,
 * i.e. FIFO). The cheapest sessions go first, as many as `limit` events allow: a command whose
 * session has a long backlog ahead of it must not hold up another session's command for the
 * length of that backlog's commit. When none fits, or the oldest urgent entry has waited
 * `URGENT_WAIT_MS`, its session puts in what is left of `limit` (at least one entry); its command
 * may take several batches. (Non-urgent sessions wait while any urgent entry is queued: commands
 * are few.)
 * Exported for the ordering rule's unit test; `entries` is the queue, oldest first.
 */
export const urgentBatch = <
  E extends { readonly urgent: boolean; readonly session: string | null; readonly count: number; readonly enqueuedAt: number }
>(
  entries: ReadonlyArray<E>,
  limit = Infinity,
  now = 0
): { readonly batch: Array<E>; readonly rest: Array<E> } | undefined => {
  const lastUrgent = new Map<string, number>()
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!
    if (entry.urgent && entry.session !== null) lastUrgent.set(entry.session, i)
  }
  if (lastUrgent.size === 0) return undefined
  const upTo = (entry: E, i: number): string | undefined => {
    if (entry.session === null) return undefined
    const last = lastUrgent.get(entry.session)
    return last !== undefined && i <= last ? entry.session : undefined
  }
  const cost = new Map<string, number>()
  entries.forEach((entry, i) => {
    const session = upTo(entry, i)
    if (session !== undefined) cost.set(session, (cost.get(session) ?? 0) + entry.count)
  })
  // Events each chosen session may put in the batch: the cheapest that fit; then the session of
  // the oldest urgent entry, with what is left (at least one entry), when none fits or it has
  // waited `URGENT_WAIT_MS`: cheaper commands arriving all the time must not starve it.
  const budget = new Map<string, number>()
  let total = 0
  for (const [session, events] of [...cost].sort((a, b) => a[1] - b[1])) {
    if (total + events > limit) break
    budget.set(session, events)
    total += events
  }
  const oldest = entries.find((entry) => entry.urgent && entry.session !== null)!
  if (!budget.has(oldest.session!) && (budget.size === 0 || now - oldest.enqueuedAt >= URGENT_WAIT_MS)) {
    budget.set(oldest.session!, Math.max(0, limit - total))
  }
  const batch: Array<E> = []
  const rest: Array<E> = []
  const taken = new Map<string, number>()
  const full = new Set<string>()
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!
    const session = upTo(entry, i)
    const room = session === undefined ? undefined : budget.get(session)
    const so = session === undefined ? 0 : (taken.get(session) ?? 0)
    // Always one entry, however large; once one does not fit, none after it (the session's order).
    if (session !== undefined && room !== undefined && !full.has(session) && (so === 0 || so + entry.count <= room)) {
      taken.set(session, so + entry.count)
      batch.push(entry)
    } else {
      if (session !== undefined && room !== undefined) full.add(session)
      rest.push(entry)
    }
  }
  return { batch, rest }
}

const ok: WriterStatus = { status: "ok", reason: null }

export const makeWriteQueue = (options: WriteQueueOptions) =>
  Effect.gen(function* () {
    const { batchSize, flushMs } = options
    const closeRetryMs = options.closeRetryMs ?? 5000
    // A plain array with a moving head: `shift()` would be O(n) per entry under a backlog.
    let queue: Array<Queued> = []
    let head = 0
    let queuedEvents = 0
    let queuedUrgent = 0
    let inFlightEvents = 0
    let inFlightOldest = Infinity
    let inFlightUrgent = 0
    let inFlight = false
    let closing = false
    let closeDeadline = Infinity
    let stopped = false
    let wake: Deferred.Deferred<void> | null = null
    const nonce = crypto.randomUUID()
    let batches = 0
    /** Uncommitted entries per session (queued or in flight). */
    const uncommittedBySession = new Map<string, number>()
    const status = yield* SubscriptionRef.make<WriterStatus>(ok)
    let current: WriterStatus = ok

    const signal = () => {
      if (wake !== null) {
        Deferred.unsafeDone(wake, Exit.void)
        wake = null
      }
    }
    /**
     * Arms the signal now and returns the wait for it. Armed when the loop decides to wait, not when
     * the wait starts running: under `timeoutOption` it runs in a forked fiber, a tick later, and a
     * signal in between (an urgent entry: a command's ack, a `flush`) was lost until the timeout.
     */
    const armSignal = (): Effect.Effect<void> => {
      const armed = Deferred.unsafeMake<void>(FiberId.none)
      wake = armed
      return Deferred.await(armed)
    }
    const size = () => queue.length - head

    // ── Throughput, and the bounds derived from it ──
    let rate = INITIAL_RATE
    const measure = (events: number, ms: number) => {
      if (events < RATE_SAMPLE_MIN_EVENTS) return
      const sample = events / Math.max(ms, 0.5)
      rate = Math.min(1000, Math.max(1, rate * 0.75 + sample * 0.25))
    }
    const roomLimit = () => Math.min(MAX_ROOM, Math.max(MIN_ROOM, Math.round(rate * ROOM_MS)))
    /** When a session's urgent entry (a command's) was last queued. */
    let commandedAt = -Infinity
    const batchLimit = () => batchLimitFor(rate, batchSize, performance.now() - commandedAt)

    // ── Room: producers wait before they fold and show, not after ──
    /** Room granted by `room` that its producer has not released yet (it is about to append). */
    let reserved = 0
    let roomWaiters: Array<{ readonly events: number; readonly resume: () => void }> = []
    const backlog = () => queuedEvents + inFlightEvents + reserved
    // A step bigger than the whole room still goes in, alone.
    const fits = (events: number) => {
      const used = backlog()
      return used === 0 || used + events <= roomLimit()
    }
    /** Lets waiting producers in, first come first served, as far as the room goes. */
    const admit = () => {
      while (roomWaiters.length > 0) {
        const next = roomWaiters[0]!
        if (!stopped && !fits(next.events)) return
        roomWaiters.shift()
        if (!stopped) reserved += next.events
        next.resume()
      }
    }
    // A newcomer waits behind those already waiting, so a session streaming flat out cannot starve
    // the others.
    /** Reserves room at once when there is some and nobody waits for it. */
    const tryRoom = (events: number): boolean => {
      if (stopped) return true
      if (roomWaiters.length > 0 || !fits(events)) return false
      reserved += events
      return true
    }
    const room = (events: number): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (tryRoom(events)) return Effect.void
        return Effect.async<void>((resume) => {
          const waiter = { events, resume: () => resume(Effect.void) }
          roomWaiters.push(waiter)
          return Effect.sync(() => {
            roomWaiters = roomWaiters.filter((w) => w !== waiter)
          })
        })
      })
    const release = (events: number): void => {
      reserved = Math.max(0, reserved - events)
      admit()
    }

    // ── Appending ──
    // An append never waits (the room was waited for before the events were shown), so it is one
    // synchronous step.
    const append = (entry: AppendEntry): Effect.Effect<Effect.Effect<void, EventLogError>> =>
      Effect.sync(() => appendNow(entry))

    const appendNow = (entry: AppendEntry): Effect.Effect<void, EventLogError> => {
      if (stopped) return closedExit
      let events: string
      try {
        events = encodeEvents(entry.events)
      } catch (cause) {
        // Not JSON (a BigInt, a cycle): this entry alone is refused, the writer goes on.
        return Exit.fail(new EventLogError({ operation: "EventLog.append:encode", cause }))
      }
      const urgent = entry.urgent === true
      const session = sessionOf(entry)
      const queued = new Queued(entry, events, urgent, session, performance.now())
      queue.push(queued)
      queuedEvents += entry.events.length
      if (session !== null) uncommittedBySession.set(session, (uncommittedBySession.get(session) ?? 0) + 1)
      if (urgent) {
        if (session !== null) commandedAt = queued.enqueuedAt
        queuedUrgent++
        options.onUrgentQueued?.(queuedUrgent)
      }
      if (size() === 1 || urgent || queuedEvents >= batchSize) signal()
      return queued
    }

    const settle = (queued: Queued, exit: Exit.Exit<void, EventLogError>) => {
      const session = queued.session
      if (session !== null) {
        const left = (uncommittedBySession.get(session) ?? 1) - 1
        if (left <= 0) uncommittedBySession.delete(session)
        else uncommittedBySession.set(session, left)
      }
      queued.settle(exit)
    }

    /** Waits until a batch is due: size reached, urgent entry, closing, or `flushMs` after the first entry. */
    const waitUntilDue: Effect.Effect<void> = Effect.suspend(() => {
      if (size() === 0) return closing ? Effect.void : Effect.zipRight(armSignal(), waitUntilDue)
      if (closing || queuedUrgent > 0 || queuedEvents >= batchSize) return Effect.void
      const remaining = queue[head].enqueuedAt + flushMs - performance.now()
      if (remaining <= 0) return Effect.void
      return armSignal().pipe(Effect.timeoutOption(Duration.millis(remaining)), Effect.zipRight(waitUntilDue))
    })

    /**
     * The next batch: the urgent entries' sessions' (`urgentBatch`) when there are urgent entries,
     * else entries from the head up to `batchLimit` events (an entry is never split: a large one is
     * a batch alone).
     */
    const take = (): Array<Queued> => {
      if (queuedUrgent > 0) {
        const urgent = urgentBatch(head === 0 ? queue : queue.slice(head), batchLimit(), performance.now())
        if (urgent !== undefined) {
          queue = urgent.rest
          head = 0
          for (const queued of urgent.batch) {
            queuedEvents -= queued.count
            if (queued.urgent) queuedUrgent--
          }
          return urgent.batch
        }
      }
      const batch: Array<Queued> = []
      let events = 0
      const limit = batchLimit()
      while (size() > 0 && (batch.length === 0 || events + queue[head].count <= limit)) {
        const queued = queue[head++]
        batch.push(queued)
        events += queued.count
        if (queued.urgent) queuedUrgent--
      }
      queuedEvents -= events
      if (head === queue.length) {
        queue = []
        head = 0
      } else if (head > 1024 && head * 2 > queue.length) {
        queue = queue.slice(head)
        head = 0
      }
      return batch
    }

    /** Seconds since the oldest uncommitted entry was queued (0: none). */
    const oldestAgeSeconds = () => {
      const oldest = Math.min(inFlightOldest, size() > 0 ? queue[head].enqueuedAt : Infinity)
      return oldest === Infinity ? 0 : Math.round(performance.now() - oldest) / 1000
    }
    const recordDepth = Effect.suspend(() =>
      Effect.zipRight(
        Metric.set(Metrics.eventLogQueueDepth, queuedEvents + inFlightEvents),
        Metric.set(Metrics.eventLogOldestUncommittedSeconds, oldestAgeSeconds())
      )
    )

    const fail = (batch: ReadonlyArray<Queued>, error: EventLogError) =>
      Effect.sync(() => {
        const exit = Exit.fail(error)
        for (const queued of batch) settle(queued, exit)
      })

    /** The lanes whose batch is failing (kept and retried) right now. */
    const failingLanes = new Set<CommitLane>()
    const setStatus = (next: WriterStatus) =>
      Effect.suspend(() => {
        if (next.status === current.status && next.reason === current.reason) return Effect.void
        current = next
        return SubscriptionRef.set(status, next).pipe(
          Effect.zipRight(Metric.set(Metrics.eventLogDegraded, next.status === "degraded" ? 1 : 0))
        )
      })

    /**
     * Commits one batch, retrying failures (busy, I/O, a full disk, a crashed worker) until it
     * commits: the entries after it wait in order and producers are held back by the room, so
     * nothing shown is ever dropped while the live state goes on. Only a closing log gives up,
     * `closeRetryMs` after it was asked to close.
     */
    const commitBatch = (batch: ReadonlyArray<Queued>, lane: CommitLane): Effect.Effect<void> =>
      Effect.gen(function* () {
        const request: CommitMessage = { token: `${nonce}:${++batches}`, batch: packBatch(batch), retry: false, lane }
        const events = batch.reduce((n, queued) => n + queued.count, 0)
        let attempts = 0
        let delay = RETRY_FIRST_MS
        let loggedAt = -Infinity
        let result: CommitResult
        while (true) {
          const sent = performance.now()
          const outcome = yield* Effect.either(options.commit(attempts++ === 0 ? request : { ...request, retry: true }))
          result = asResult(outcome)
          if (result._tag === "Committed") {
            // An express batch waited for the main one in the worker: its time says nothing of the rate.
            if (lane === "main") measure(events, performance.now() - sent)
            break
          }
          yield* Metric.increment(Metrics.appendRetries)
          const reason = `the event log cannot commit (${result.code}: ${result.message}); retrying`
          const changed = current.reason !== reason
          failingLanes.add(lane)
          yield* setStatus({ status: "degraded", reason })
          const now = performance.now()
          if (changed || now - loggedAt >= DEGRADED_LOG_EVERY_MS) {
            loggedAt = now
            yield* Effect.logError("event log commit failed; the batch is kept and retried").pipe(
              Effect.annotateLogs({ events, lane, attempts, code: result.code, error: result.message })
            )
          }
          yield* recordDepth
          if (closing && now >= closeDeadline) {
            yield* Effect.logError("event log closed with a batch it could not commit; its entries are lost").pipe(
              Effect.annotateLogs({ events, lane, attempts, code: result.code, error: result.message })
            )
            return yield* fail(batch, new EventLogError({ operation: "EventLog.append:commit", cause: new Error(reason) }))
          }
          yield* Effect.sleep(Duration.millis(delay))
          delay = Math.min(delay * 2, RETRY_MAX_MS)
        }
        failingLanes.delete(lane)
        // Healthy again once no lane is failing: one lane's commit says nothing of the other's.
        if (current.status === "degraded" && failingLanes.size === 0) {
          yield* setStatus(ok)
          yield* Effect.logInfo("event log commits again").pipe(Effect.annotateLogs({ attempts }))
        }
        const rejected = new Map(result.rejected.map((r) => [r.index, r]))
        let committed = 0
        for (let index = 0; index < batch.length; index++) {
          const refused = rejected.get(index)
          if (refused === undefined) {
            committed += batch[index].count
            settle(batch[index], Exit.void)
          } else {
            const cause = Object.assign(new Error(refused.message), { code: refused.code })
            settle(batch[index], Exit.fail(new EventLogError({ operation: "EventLog.append:constraint", cause })))
          }
        }
        if (rejected.size > 0) {
          // A duplicate revision or source key is a bug upstream: loud, but the writer goes on.
          yield* Effect.logError("event log refused entries").pipe(
            Effect.annotateLogs({ refused: [...rejected.values()].map((r) => `${r.code}: ${r.message}`).join("; ") })
          )
        }
        if (committed > 0) {
          // Batches of checkpoints only (and `flush` markers) are not counted as batches of 0.
          yield* Metric.incrementBy(Metrics.eventsAppended, committed)
          yield* Metric.update(Metrics.batchSize, committed)
          yield* Metric.update(Metrics.appendLatencyMs, performance.now() - batch[0].enqueuedAt)
        }
      })

    /** Counts a batch as in flight: the backlog, the depth metrics and the urgent demand see it. */
    const fly = (batch: ReadonlyArray<Queued>) => {
      inFlight = true
      let urgent = 0
      for (const queued of batch) {
        inFlightEvents += queued.count
        if (queued.enqueuedAt < inFlightOldest) inFlightOldest = queued.enqueuedAt
        if (queued.urgent) urgent++
      }
      if (urgent > 0) {
        inFlightUrgent += urgent
        options.onUrgentQueued?.(queuedUrgent + inFlightUrgent)
      }
    }

    /** An express batch committed while the main one flies on: it no longer counts as in flight. */
    const land = (batch: ReadonlyArray<Queued>, mainOldest: number) => {
      let urgent = 0
      for (const queued of batch) {
        inFlightEvents -= queued.count
        if (queued.urgent) urgent++
      }
      inFlightOldest = mainOldest
      if (urgent > 0) {
        inFlightUrgent -= urgent
        options.onUrgentQueued?.(queuedUrgent + inFlightUrgent)
      }
      admit()
    }

    // A defect here is a bug of ours: the batch's waiters learn of it, the writer goes on.
    const commitGuarded = (batch: ReadonlyArray<Queued>, lane: CommitLane) =>
      commitBatch(batch, lane).pipe(
        Effect.catchAllCause((cause) =>
          Effect.logError("event log writer defect", cause).pipe(
            Effect.zipRight(fail(batch, new EventLogError({ operation: "EventLog.append:writer", cause })))
          )
        )
      )

    /**
     * The express lane's batch while `inFlight` (a main batch's sessions) commits: the urgent entries
     * of sessions with nothing in flight (`urgentBatch` over their entries), taken out of the queue.
     * The worker commits it right after the main batch, without a round trip through this thread's
     * event loop, which a burst keeps busy for tens of milliseconds. Sessions in flight are left out:
     * should the main batch fail and be retried, their later entries must not commit first.
     */
    const takeExpress = (inFlightSessions: ReadonlySet<string | null>): Array<Queued> | undefined => {
      if (queuedUrgent === 0 || closing) return undefined
      const eligible: Array<Queued> = []
      for (let i = head; i < queue.length; i++) {
        const queued = queue[i]
        if (queued.session !== null && !inFlightSessions.has(queued.session)) eligible.push(queued)
      }
      const taken = urgentBatch(eligible, batchLimit(), performance.now())
      if (taken === undefined || taken.batch.length === 0) return undefined
      const chosen = new Set(taken.batch)
      queue = queue.slice(head).filter((queued) => !chosen.has(queued))
      head = 0
      for (const queued of taken.batch) {
        queuedEvents -= queued.count
        if (queued.urgent) queuedUrgent--
      }
      return taken.batch
    }

    const loop = Effect.gen(function* () {
      while (true) {
        yield* waitUntilDue
        if (size() === 0) {
          stopped = true // closing and drained
          return
        }
        const batch = take()
        fly(batch)
        yield* recordDepth
        let mainDone = false
        const main = yield* Effect.fork(
          commitGuarded(batch, "main").pipe(
            Effect.ensuring(
              Effect.sync(() => {
                mainDone = true
                signal()
              })
            )
          )
        )
        // While it commits, express batches one after the other (checked on every signal: an
        // urgent entry, or the express batch before committed, wakes the loop). The next main
        // batch waits for them, so a session never has entries in two batches at once.
        let express: Fiber.RuntimeFiber<void> | undefined
        let expressDone = true
        const inFlightSessions = new Set(batch.map((queued) => queued.session))
        const mainOldest = inFlightOldest
        while (!mainDone) {
          const expressBatch = expressDone ? takeExpress(inFlightSessions) : undefined
          if (expressBatch !== undefined) {
            expressDone = false
            fly(expressBatch)
            yield* recordDepth
            express = yield* Effect.fork(
              commitGuarded(expressBatch, "express").pipe(
                Effect.ensuring(
                  Effect.sync(() => {
                    land(expressBatch, mainOldest)
                    expressDone = true
                    signal()
                  })
                )
              )
            )
          }
          yield* armSignal()
        }
        yield* Fiber.join(main)
        if (express !== undefined) yield* Fiber.join(express)
        inFlight = false
        inFlightEvents = 0
        inFlightOldest = Infinity
        if (inFlightUrgent > 0) {
          inFlightUrgent = 0
          options.onUrgentQueued?.(queuedUrgent)
        }
        admit()
        yield* recordDepth
      }
    }).pipe(
      Effect.ensuring(
        Effect.sync(() => {
          stopped = true
          admit()
        })
      ),
      Effect.annotateLogs({ module: "EventLog" }),
      // The batching timer is wall-clock time whatever clock the caller runs with: the worker
      // commits in real time, so a TestClock could never fire it.
      Effect.withClock(Clock.make())
    )

    // Explicitly interruptible: a layer may build us in an uninterruptible region, and the child
    // would inherit that, so the batching timer (a race that interrupts its loser) would never fire.
    const fiber = yield* Effect.forkScoped(Effect.interruptible(loop))

    /** Completes once everything queued before it is committed (an empty urgent entry rides behind it). */
    const flush: Effect.Effect<void, EventLogError> = Effect.suspend(() =>
      size() === 0 && !inFlight ? Effect.void : appendNow({ events: [], urgent: true })
    )

    /**
     * Commits everything queued, then stops the writer fiber; later appends fail with
     * `EventLogError`. A commit that keeps failing is given up `closeRetryMs` after this was called.
     */
    const close: Effect.Effect<void> = Effect.suspend(() => {
      closing = true
      closeDeadline = performance.now() + closeRetryMs
      signal()
      return Fiber.join(fiber)
    })

    return {
      append,
      appendNow,
      room,
      tryRoom,
      release,
      flush,
      close,
      /** Whether a session has entries not committed yet. */
      uncommitted: (sessionId: string): boolean => uncommittedBySession.has(sessionId),
      /** The current status, then each change. */
      status: status.changes as Stream.Stream<WriterStatus>
    } as const
  })

/** A worker error is a failed commit like any other: retried. */
const asResult = (outcome: Either.Either<CommitResult, WorkerError>): CommitResult =>
  Either.isRight(outcome) ? outcome.right : { _tag: "Failed", code: outcome.left.reason, message: outcome.left.message }
