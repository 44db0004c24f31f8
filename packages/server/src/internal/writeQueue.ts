/**
 * The main-thread half of the writer: an unbounded in-memory queue of append entries and the one
 * fiber that drains it in batches (group commit). Owns batching (size, time, urgency), ordering,
 * retries of failed commits and settling each entry's durability receipt. Does not touch
 * SQLite: `commit` ships a batch to the writer worker.
 */
import type { WorkerError } from "@effect/platform/WorkerError"
import { Clock, Deferred, Duration, Effect, Effectable, Exit, Fiber, FiberId, Metric, Schedule } from "effect"
import * as crypto from "node:crypto"
import { performance } from "node:perf_hooks"
import { type AppendEntry, EventLogError } from "../EventLog.js"
import { encodeEvents, packEntry } from "./payloadCodec.js"
import * as Metrics from "../Metrics.js"
import type { CommitMessage, CommitResult } from "./writerProtocol.js"

export interface WriteQueueOptions {
  readonly batchSize: number
  readonly flushMs: number
  /** Ships one batch to the worker; `Failed` results and worker errors are retried here. */
  readonly commit: (message: CommitMessage) => Effect.Effect<CommitResult, WorkerError>
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

class CommitFailed {
  readonly _tag = "CommitFailed"
  constructor(readonly code: string, readonly message: string) {}
}

/**
 * Failed commits (busy, I/O, a crashed worker) are retried: 20 ms doubling up to 2 s between
 * attempts, 30 attempts (about 50 s) before the batch's entries fail with `EventLogError`.
 */
const retrySchedule = Schedule.exponential("20 millis").pipe(
  Schedule.either(Schedule.spaced("2 seconds")),
  Schedule.intersect(Schedule.recurs(30))
)

/**
 * Group commit: `batchSize` is when a batch is due; a backlog that built up meanwhile goes out in
 * one transaction of up to this many events (one commit of 4,000 rows costs far less than 80 of 50).
 */
export const MAX_GROUP_COMMIT = 4096

/**
 * Events queued or in flight beyond which `append` waits (backpressure on the producers, i.e. the
 * actors' mailboxes and so the connectors): memory stays bounded, and a command's ack never waits
 * behind more than about a second of backlog.
 */
export const HIGH_WATER_EVENTS = 16_384

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

export const makeWriteQueue = (options: WriteQueueOptions) =>
  Effect.gen(function* () {
    const { batchSize, flushMs } = options
    // A plain array with a moving head: `shift()` would be O(n) per entry under a backlog.
    let queue: Array<Queued> = []
    let head = 0
    let queuedEvents = 0
    let queuedUrgent = 0
    let inFlightEvents = 0
    let inFlight = false
    let closing = false
    let stopped = false
    let wake: Deferred.Deferred<void> | null = null
    const nonce = crypto.randomUUID()
    let batches = 0

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

    let belowHighWater: Array<() => void> = []
    const releaseProducers = () => {
      if ((!stopped && queuedEvents + inFlightEvents >= HIGH_WATER_EVENTS) || belowHighWater.length === 0) return
      const waiting = belowHighWater
      belowHighWater = []
      for (const resume of waiting) resume()
    }
    // Admission past the high-water mark is first come, first served: a producer released once goes
    // in (overshooting the mark by at most one entry per producer that waited), and a newcomer
    // waits behind those already waiting, so a session streaming flat out cannot starve the others.
    const roomInQueue: Effect.Effect<void> = Effect.async<void>((resume) => {
      belowHighWater.push(() => resume(Effect.void))
    })

    // Below the high-water mark (the common case) an append is one synchronous step. An urgent
    // entry (a command's events: someone waits for the ack) never waits for room: it is small, and
    // it still commits after everything queued before it.
    const append = (entry: AppendEntry): Effect.Effect<Effect.Effect<void, EventLogError>> =>
      Effect.suspend(() =>
        entry.urgent || stopped || (queuedEvents + inFlightEvents < HIGH_WATER_EVENTS && belowHighWater.length === 0)
          ? Effect.succeed(enqueue(entry))
          : Effect.zipRight(roomInQueue, Effect.sync(() => enqueue(entry)))
      )

    const enqueue = (entry: AppendEntry): Effect.Effect<void, EventLogError> => {
      if (stopped) return closedExit
      let events: string
      try {
        events = encodeEvents(entry.events)
      } catch (cause) {
        // Not JSON (a BigInt, a cycle): this entry alone is refused, the writer goes on.
        return Exit.fail(new EventLogError({ operation: "EventLog.append:encode", cause }))
      }
      const urgent = entry.urgent === true
      const queued = new Queued(entry, events, urgent, performance.now())
      queue.push(queued)
      queuedEvents += entry.events.length
      if (urgent) queuedUrgent++
      if (size() === 1 || urgent || queuedEvents >= batchSize) signal()
      return queued
    }

    /** Waits until a batch is due: size reached, urgent entry, closing, or `flushMs` after the first entry. */
    const waitUntilDue: Effect.Effect<void> = Effect.suspend(() => {
      if (size() === 0) return closing ? Effect.void : Effect.zipRight(armSignal(), waitUntilDue)
      if (closing || queuedUrgent > 0 || queuedEvents >= batchSize) return Effect.void
      const remaining = queue[head].enqueuedAt + flushMs - performance.now()
      if (remaining <= 0) return Effect.void
      return armSignal().pipe(Effect.timeoutOption(Duration.millis(remaining)), Effect.zipRight(waitUntilDue))
    })

    /** Takes entries up to `batchSize` events; an entry is never split (a large one is a batch alone). */
    const take = (): Array<Queued> => {
      const batch: Array<Queued> = []
      let events = 0
      const limit = Math.max(batchSize, MAX_GROUP_COMMIT)
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

    const fail = (batch: ReadonlyArray<Queued>, error: EventLogError) =>
      Effect.sync(() => {
        const exit = Exit.fail(error)
        for (const queued of batch) queued.settle(exit)
      })

    const commitBatch = (batch: ReadonlyArray<Queued>): Effect.Effect<void> =>
      Effect.gen(function* () {
        const request = { token: `${nonce}:${++batches}`, batch: packBatch(batch), retry: false }
        let attempts = 0
        const attempt = Effect.suspend(() =>
          options.commit(attempts++ === 0 ? request : { ...request, retry: true })
        ).pipe(
          Effect.flatMap((result) =>
            result._tag === "Failed" ? Effect.fail(new CommitFailed(result.code, result.message)) : Effect.succeed(result)
          ),
          Effect.tapError((error) =>
            Effect.logWarning("event log commit failed, retrying").pipe(
              Effect.zipRight(Metric.increment(Metrics.appendRetries)),
              Effect.annotateLogs({
                events: inFlightEvents,
                code: error._tag === "CommitFailed" ? error.code : error.reason,
                error: error.message
              })
            )
          )
        )
        const outcome = yield* Effect.either(Effect.retry(attempt, { schedule: retrySchedule }))
        if (outcome._tag === "Left") {
          yield* Effect.logError("event log commit failed for good; the batch is lost").pipe(
            Effect.annotateLogs({ events: inFlightEvents, attempts, error: outcome.left.message })
          )
          return yield* fail(batch, new EventLogError({ operation: "EventLog.append:commit", cause: outcome.left }))
        }
        const rejected = new Map(outcome.right.rejected.map((r) => [r.index, r]))
        let committed = 0
        for (let index = 0; index < batch.length; index++) {
          const refused = rejected.get(index)
          if (refused === undefined) {
            committed += batch[index].count
            batch[index].settle(Exit.void)
          } else {
            const cause = Object.assign(new Error(refused.message), { code: refused.code })
            batch[index].settle(Exit.fail(new EventLogError({ operation: "EventLog.append:constraint", cause })))
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

    const loop = Effect.gen(function* () {
      while (true) {
        yield* waitUntilDue
        if (size() === 0) {
          stopped = true // closing and drained
          return
        }
        const batch = take()
        inFlight = true
        inFlightEvents = batch.reduce((n, queued) => n + queued.count, 0)
        yield* Metric.set(Metrics.eventLogQueueDepth, queuedEvents + inFlightEvents)
        // A defect here is a bug of ours: the batch's waiters learn of it, the writer goes on.
        yield* commitBatch(batch).pipe(
          Effect.catchAllCause((cause) =>
            Effect.logError("event log writer defect", cause).pipe(
              Effect.zipRight(fail(batch, new EventLogError({ operation: "EventLog.append:writer", cause })))
            )
          )
        )
        inFlight = false
        inFlightEvents = 0
        releaseProducers()
        yield* Metric.set(Metrics.eventLogQueueDepth, queuedEvents)
      }
    }).pipe(
      Effect.ensuring(
        Effect.sync(() => {
          stopped = true
          releaseProducers()
        })
      ),
      Effect.annotateLogs({ module: "EventLog" }),
      // The batching timer is wall-clock time whatever clock the caller runs with: the worker
      // commits in real time, so a TestClock could never fire it.
      Effect.withClock(Clock.make())
    )

    // Explicitly interruptible: a layer may build us in an uninterruptible region, and the child
    // would inherit that, so the batching timer (a race that interrupts its loser) would never fire.
    const fiber = yield* Effect.forkDaemon(Effect.interruptible(loop))

    /** Completes once everything queued before it is committed (an empty urgent entry rides behind it). */
    const flush: Effect.Effect<void, EventLogError> = Effect.suspend(() =>
      size() === 0 && !inFlight ? Effect.void : enqueue({ events: [], urgent: true })
    )

    /** Commits everything queued, then stops the writer fiber; later appends fail with `EventLogError`. */
    const close: Effect.Effect<void> = Effect.suspend(() => {
      closing = true
      signal()
      return Fiber.join(fiber)
    })

    return { append, flush, close } as const
  })
