/**
 * One session's actor: a fiber that owns the session's projection (the steps that wait for
 * nothing run in a microtask while it sleeps: `runStep`). It drains a mailbox of
 * connector events (bounded: an emit waits for room when it is full), assigns gapless
 * revisions, folds them, publishes the resulting messages to the session's subscribers at once (UI
 * path) and hands the stored events to the event log (persist path), whose durability it reports
 * back without waiting for it. Before it shows a step it waits for room in the log, so that what
 * subscribers see is durable soon after (bursts included) and the log's pace reaches the producers.
 *
 * Does not validate commands (Commands.ts) or know about sockets (subscribers are plain callbacks).
 */
import type {
  SessionId,
  SessionMessage,
  SessionSnapshot,
  SessionState,
  SessionSummary,
  StoredEvent
} from "@orbitdock/domain"
import { internal } from "@orbitdock/domain"
import { SessionMirror, SessionProjection } from "@orbitdock/projections"
import { evolveInPlace } from "@orbitdock/projections/in-place"
import { Effect, Exit } from "effect"
import { isoNow } from "./Clock.js"
import type { EmitOptions, EventInput, Receipt } from "./connectors/Connector.js"
import type { Checkpoint, EventLogError, EventLogShape, PagedProgress, PendingEvent } from "./eventlog/EventLog.js"
import type { Hydrated } from "./Hydration.js"
import { inTurn, inTurnNow, TURN_MS, TurnCost } from "./internal/eventLoopSlice.js"
import * as AssembledState from "./eventlog/assembledState.js"
import { LivePaging } from "./eventlog/livePaging.js"
import { PendingReceipt } from "./internal/pendingReceipt.js"
import { RecentEvents } from "./internal/recentEvents.js"
import { digest } from "./eventlog/sourceKeyDigest.js"
import * as Metrics from "./Metrics.js"
import * as Notification from "./notify/Notification.js"
import { type DecideContext, decide, duplicate } from "./SessionDecider.js"
import type { SessionSubscriber } from "./Sessions.js"

/** How many recent events an actor keeps in memory to serve `since_revision` and the log's unflushed tail. */
export const RECENT_EVENTS = 1024
/** Of those, committed ones older than this leave memory (`internal/recentEvents.ts`)… */
export const RECENT_MAX_AGE_MS = 60_000
/** …but never the last this many. */
export const RECENT_MIN = 64

/** Mailbox capacity in events: connectors wait (backpressure) when an actor is this far behind. */
export const MAILBOX_EVENTS = 4096
/**
 * Events folded in one actor step at most (an emit is never split): one step is one turn on the
 * event loop and one log entry, so a deep mailbox is folded in bounded slices. Fewer when the
 * step's cost (its subscribers' frames included, on a busy machine) would not fit in a turn.
 */
export const STEP_EVENTS = 512

interface Ingest {
  readonly events: ReadonlyArray<EventInput>
  readonly options: EmitOptions | undefined
  readonly receipt: PendingReceipt
}

/** `offer`'s answer when nothing was queued. */
export type Refused = "full" | "stopped"


export interface SessionActor {
  readonly sessionId: SessionId
  /**
   * The current projection, to keep or hand out (read synchronously; only the actor fiber replaces
   * it). It stays as it is: the actor copies its message list before the next change. Its
   * `state.messages` are the session's recent messages only (at least the last
   * `KEEP_MESSAGES` of `eventlog/messagePages.ts`): the older ones are paged out to the log (`fullState`).
   */
  readonly projection: () => SessionProjection.SessionProjection
  /**
   * The current state with every message: taken at once, with the paged ones then read from the
   * log (a page may carry later updates of its messages: applied again, they change nothing).
   * Fails when the pages cannot be read.
   */
  readonly fullState: Effect.Effect<SessionState, EventLogError>
  /** The current revision and status, without handing the state out. */
  readonly peek: () => { readonly revision: number; readonly status: SessionState["status"] }
  /**
   * Queues events and returns their receipt (settled once they are folded and published), without
   * waiting. `"full"`: the mailbox holds `MAILBOX_EVENTS` events, wait for `room` and offer again;
   * `"stopped"`: the actor was stopped (evicted), resolve the session again.
   */
  readonly offer: (events: ReadonlyArray<EventInput>, options: EmitOptions | undefined) => Receipt | Refused
  /** Completes once the mailbox has room for that many events (or the actor stopped). */
  readonly room: (events: number) => Effect.Effect<void>
  /** Nothing queued and no step under way: the projection reflects every emit so far. */
  readonly settled: () => boolean
  /**
   * Pushes the catch-up to `subscriber` and registers it, with no gap and no duplicate: the recent
   * messages after `sinceRevision` when they are all still in memory, else a snapshot taken now
   * (what is published while its pages are read follows it). Returns the revision the ack carries.
   * Fails like `fullState`: then nothing was pushed and the subscriber is not registered.
   */
  readonly subscribe: (subscriber: SessionSubscriber, sinceRevision?: number) => Effect.Effect<number, EventLogError>
  readonly unsubscribe: (subscriber: SessionSubscriber) => void
  readonly subscriberCount: () => number
  /** A snapshot of the current state, every message included. Fails like `fullState`. */
  readonly snapshot: Effect.Effect<SessionSnapshot, EventLogError>
  /** Recent events with revision > after (those still in memory), or undefined when `after` is older. */
  readonly recentEvents: (after: number) => ReadonlyArray<StoredEvent> | undefined
  /** When it last ingested, was subscribed to or was asked for its state (ms since epoch). */
  readonly lastUsed: () => number
  /** Marks it used (reads count: a session someone looks at stays in memory). */
  readonly touch: () => void
  /**
   * Runs a command to this session once the commands before it are done: one at a time, in the
   * order they came. Not through the mailbox: a command's connector may wait for its agent, whose
   * events go through the mailbox while it waits.
   */
  readonly command: <A, E, R>(run: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** Whether a command is running or waiting (the session is then not idle). */
  readonly commanding: () => boolean
  /** Stops taking events; what is queued is still folded. */
  readonly stop: Effect.Effect<void>
}

export interface ActorOptions {
  readonly log: EventLogShape
  /** Called after each folded step with the new summary (the registry updates the list from it). */
  readonly onChange: (summary: SessionSummary, messages: ReadonlyArray<SessionMessage>) => void
  /** An attention started (its notification is queued in the log with the step): `committed` says when it is durable. */
  readonly onAttention?: (notification: Notification.Notification, committed: Effect.Effect<void, EventLogError>) => void
}

/** A new session's start: nothing folded, nothing paged. */
export const fresh = (sessionId: SessionId): Hydrated => ({
  projection: SessionProjection.empty(sessionId),
  paged: 0,
  pagedRevision: 0,
  pagedUpdates: []
})

const noKeys: ReadonlySet<string> = new Set()

/** Starts an actor over a projection already folded from the log. The fiber lives in the caller's scope. */
export const make = Effect.fn("SessionActor.make")(function* (
  initial: Hydrated,
  options: ActorOptions
) {
  const sessionId = initial.projection.state.id
  // Read synchronously inside steps: a `TestClock` in tests, the system clock otherwise.
  const clock = yield* Effect.clock
  const subscribers = new Set<SessionSubscriber>()
  /**
   * The digests of every source key the session has seen (`eventlog/sourceKeyDigest.ts`), not the
   * keys: a digest seen before makes the step ask the log (`keysSeenBefore`). Loaded from the log
   * when the first keyed event arrives, so a session that is only read never pays for them.
   */
  let keyDigests: Set<number> | undefined = undefined
  const recent = new RecentEvents({ keep: RECENT_EVENTS, maxAgeMs: RECENT_MAX_AGE_MS, minKeep: RECENT_MIN })
  let projection = initial.projection
  const paging = new LivePaging(initial)
  /**
   * Copy-on-write of the message list: folding in place is O(1) per event, copying is O(messages);
   * a 50,000-message burst copied on every append was quadratic. The list is copied only when the
   * state was handed out since the last change (snapshot, HTTP read, command), then owned again.
   * `initial` came from a fold whose list nobody else holds, but it is copied once to be safe.
   */
  let shared = true
  let lastUsed = clock.unsafeCurrentTimeMillis()
  const handOut = () => {
    shared = true
    return projection
  }

  let duplicates = 0

  const publish = (message: SessionMessage) => {
    for (const subscriber of subscribers) subscriber.push(message)
  }

  /**
   * `keysSeenBefore` when the log need not be asked (the common case): the step has no source key,
   * or none whose digest was seen before. `undefined`: ask the log.
   */
  const keysSeenNow = (items: ReadonlyArray<Ingest>): ReadonlySet<string> | undefined => {
    for (const item of items) {
      for (const input of item.events) {
        const key = input.source_key
        if (key === undefined || key === null) continue
        if (keyDigests === undefined || keyDigests.has(digest(key))) return undefined
      }
    }
    return noKeys
  }

  /**
   * The keys of a step's items that the log already has, among those whose digest was seen before
   * (a duplicate, or, about once in 4 billion, another key with the same digest): what a step asks
   * when `keysSeenNow` could not answer, loading the digests first if they are not. Asked once
   * everything appended before is committed, so the answer covers this session's own recent events.
   * A key the log cannot be asked about counts as seen: a replayed event must not be recorded twice.
   */
  const keysSeenBefore = (items: ReadonlyArray<Ingest>): Effect.Effect<ReadonlySet<string>> => {
    const keys: Array<string> = []
    for (const item of items) {
      for (const input of item.events) {
        if (input.source_key !== undefined && input.source_key !== null) keys.push(input.source_key)
      }
    }
    const digestsLoaded =
      keyDigests !== undefined
        ? flushLog
        : flushLog.pipe(
            Effect.zipRight(options.log.sourceKeyDigests(sessionId)),
            Effect.tapError((error) => Effect.logWarning("source keys not loaded; each is checked in the log", error)),
            Effect.orElseSucceed(() => undefined),
            Effect.map((loaded) => {
              keyDigests = loaded
            })
          )
    return Effect.flatMap(digestsLoaded, () => inLog(suspectsAmong(keys)))
  }

  /** The keys whose digest was seen before (all of them while the digests are not loaded). */
  const suspectsAmong = (keys: Array<string>): Array<string> => {
    const digests = keyDigests
    return digests === undefined ? keys : keys.filter((key) => digests.has(digest(key)))
  }

  /** Which of these keys the log has (asked after `flushLog`); one it cannot be asked about counts as there. */
  const inLog = (keys: ReadonlyArray<string>): Effect.Effect<ReadonlySet<string>> =>
    keys.length === 0
      ? Effect.succeed(noKeys)
      : Effect.reduce(keys, new Set<string>(), (seen, key) =>
          options.log.hasSourceKey(sessionId, key).pipe(
            Effect.orElseSucceed(() => true),
            Effect.map((has) => (has ? seen.add(key) : seen))
          )
        )

  /**
   * Waits until everything this session appended before is committed, so the log's answers cover
   * it too. Nothing of it uncommitted (a new session, a quiet one): no wait, whatever the backlog of
   * other sessions (or a log that cannot commit right now).
   */
  const flushLog = Effect.suspend(() =>
    options.log.uncommitted(sessionId)
      ? options.log.flush.pipe(
          Effect.catchAll((error) => Effect.logWarning("event log flush failed; checking source keys anyway", error))
        )
      : Effect.void
  )

  /**
   * Folds one mailbox item into the step's lists; returns the revisions it was given. `seen`: the
   * step's keys the log already has (`keysSeenBefore`); `stepKeys`: the keys met so far in this step.
   */
  const step = (
    item: Ingest,
    now: string,
    nowMs: number,
    pending: Array<PendingEvent>,
    messages: Array<SessionMessage>,
    seen: ReadonlySet<string>,
    stepKeys: Set<string>
  ): Array<number> => {
    const revisions: Array<number> = []
    const context: DecideContext = { sessionId, now, seen: (key) => stepKeys.has(key) || seen.has(key) }
    for (const input of item.events) {
      const verdict = decide(projection.state, input, context)
      if (verdict === duplicate) {
        duplicates++
        continue
      }
      // A new key is taken, whether or not its event is recorded: a repeat of it is a duplicate.
      const key = input.source_key ?? null
      if (key !== null) {
        stepKeys.add(key)
        keyDigests?.add(digest(key))
      }
      if (verdict._tag === "Drop") continue
      const stored = verdict.stored
      paging.folding(projection.state.messages, stored)
      // Copy-on-write: the list is copied once after it was handed out, then appended to in place.
      const [next, message] = shared ? SessionProjection.evolve(projection, stored) : evolveInPlace(projection, stored)
      if (message === null) continue
      projection = next
      shared = false
      recent.push({ stored, message }, nowMs)
      publish(message)
      pending.push({ stored, source_key: key })
      revisions.push(stored.revision)
      messages.push(message)
    }
    return revisions
  }

  /**
   * The mailbox: a plain array the emitting fibers push to and the actor fiber takes in steps.
   * Not an Effect `Mailbox`: its offer/take machinery was most of the ~16 KB allocated per emit,
   * and those short-lived allocations are what the young-generation GC spends its pauses on.
   * An emit does not wait for its fold (the receipt does): a connector streaming events pays one
   * push per emit, and the actor folds whatever queued up meanwhile in one step.
   */
  let inbox: Array<Ingest> = []
  let queuedEvents = 0
  let stopped = false
  /** The items of the step under way (taken from the inbox, not settled yet). */
  let stepping: Array<Ingest> = []
  let wake: (() => void) | undefined = undefined
  let waitingForRoom: Array<() => void> = []
  const signal = () => {
    const resume = wake
    wake = undefined
    resume?.()
  }
  const releaseWaitingForRoom = () => {
    if (waitingForRoom.length === 0) return
    const waiting = waitingForRoom
    waitingForRoom = []
    for (const resume of waiting) resume()
  }
  // An emit bigger than the whole mailbox still goes in, alone.
  const fits = (events: number) => queuedEvents === 0 || queuedEvents + events <= MAILBOX_EVENTS
  const room = (events: number): Effect.Effect<void> =>
    Effect.async<void>((resume) => {
      if (fits(events) || stopped) return resume(Effect.void)
      waitingForRoom.push(() => resume(Effect.void))
    })
  /** What a step has cost per event lately: sizes the next one to fit in a turn. */
  const stepCost = new TurnCost()
  /** The next step's items: everything queued when it fits in `limit` events, else a slice. */
  const takeStep = (limit: number): Array<Ingest> => {
    let count = 0
    let events = 0
    while (count < inbox.length && (count === 0 || events + inbox[count]!.events.length <= limit)) {
      events += inbox[count]!.events.length
      count++
    }
    queuedEvents -= events
    if (count === inbox.length) {
      const items = inbox
      inbox = []
      return items
    }
    return inbox.splice(0, count)
  }

  // Only awaited when the inbox is empty: under load the actor finds its next items without yielding.
  const itemsArrive: Effect.Effect<void> = Effect.async<void>((resume) => {
    if (inbox.length > 0 || stopped || handoff !== undefined) return resume(Effect.void)
    wake = () => resume(Effect.void)
  })

  /** Drops the messages the log has paged out since we last looked (`LivePaging`); `undefined`: not due. */
  const dropPaged = (): Effect.Effect<void> | undefined => {
    if (!paging.due(projection.state.messages.length, clock.unsafeCurrentTimeMillis())) return undefined
    return options.log.pagedProgress(sessionId).pipe(
      // An optimisation: asked again later.
      Effect.match({ onFailure: () => {}, onSuccess: dropPagedAsOf })
    )
  }

  /** Drops what the log says is paged (the actor fiber waited for the answer: nothing changed meanwhile). */
  const dropPagedAsOf = (progress: PagedProgress | null): void => {
    const messages = projection.state.messages
    const drop = paging.drop(progress, messages, (revision) => (recent.covers(revision) ? recent.eventsAfter(revision) : undefined))
    if (drop === 0) return
    projection = { ...projection, state: { ...projection.state, messages: messages.slice(drop) } }
    shared = false
  }

  /** The events a step reserves room for in the log: none when it carries a command's (urgent) events. */
  const roomFor = (items: ReadonlyArray<Ingest>): number => {
    let events = 0
    for (const item of items) {
      if (item.options?.urgent === true) return 0
      events += item.events.length
    }
    return events
  }

  /** What a step's fold produced, for its log entry and its receipts. */
  interface Folded {
    readonly summary: SessionSummary
    readonly pending: ReadonlyArray<PendingEvent>
    readonly checkpoints: ReadonlyArray<Checkpoint>
    readonly revisions: ReadonlyArray<ReadonlyArray<number>>
    readonly urgent: boolean
  }

  /** Folds and publishes a step's items (the work of its turn). */
  const fold = (items: ReadonlyArray<Ingest>, seen: ReadonlySet<string>): Folded => {
    const pending: Array<PendingEvent> = []
    const messages: Array<SessionMessage> = []
    const checkpoints: Array<Checkpoint> = []
    const revisions: Array<Array<number>> = []
    let urgent = false
    // `now`, which stamps the events, is when the turn came.
    const nowMs = clock.unsafeCurrentTimeMillis()
    const now = isoNow(clock)
    // Old recent events go only once all of them are in the log (reads take the rest from there).
    if (!options.log.uncommitted(sessionId)) recent.trimOld(nowMs)
    const stepKeys = new Set<string>()
    for (const item of items) {
      revisions.push(step(item, now, nowMs, pending, messages, seen, stepKeys))
      if (item.options?.checkpoints !== undefined) checkpoints.push(...item.options.checkpoints)
      urgent ||= item.options?.urgent === true
    }
    const summary = SessionMirror.summarize(projection.state)
    if (messages.length > 0) options.onChange(summary, messages)
    return { summary, pending, checkpoints, revisions, urgent }
  }

  /**
   * One step: everything queued (up to `STEP_EVENTS`) is folded, published and handed to the writer
   * as ONE entry (one summary, one durability receipt shared by its items): under load the per-item
   * costs (entries, summaries, list updates) are paid once per step, not per emit.
   *
   * Runs synchronously as far as it can and returns `undefined` once done. Where it must wait (the
   * log asked about source keys, room in the log, its turn on the event loop) it returns what is left
   * as an Effect, for the actor's fiber. At a steady load a step waits for nothing: it then costs no
   * fiber resumption and no chain of Effects.
   */
  const runStep = (items: Array<Ingest>): Effect.Effect<void> | undefined => {
    stepping = items
    // First: it may wait for the log (a source key seen before).
    const seen = keysSeenNow(items)
    return seen === undefined
      ? Effect.flatMap(keysSeenBefore(items), (seen) => withRoom(items, seen) ?? Effect.void)
      : withRoom(items, seen)
  }

  /**
   * Room in the log BEFORE the step is shown, so what subscribers see is durable soon after (the
   * writer's room is ~100 ms of its commits). A command's step does not wait: it is small, and its
   * ack must not wait behind the backlog.
   */
  const withRoom = (items: Array<Ingest>, seen: ReadonlySet<string>): Effect.Effect<void> | undefined => {
    const reserved = roomFor(items)
    if (reserved > 0 && !options.log.tryRoom(reserved)) {
      return Effect.flatMap(options.log.room(reserved), () => inItsTurn(items, seen, reserved) ?? Effect.void)
    }
    return inItsTurn(items, seen, reserved)
  }

  /** The fold and its publishing take turns with the other actors' (`eventLoopSlice.ts`). */
  const inItsTurn = (items: Array<Ingest>, seen: ReadonlySet<string>, reserved: number): Effect.Effect<void> | undefined => {
    let events = 0
    let urgent = false
    for (const item of items) {
      events += item.events.length
      urgent ||= item.options?.urgent === true
    }
    const attentionBefore = projection.state.attention_detail
    const work = () => fold(items, seen)
    const turn = { cost: stepCost, items: events, urgent }
    const now = inTurnNow(work, turn)
    if (now === undefined) {
      return Effect.flatMap(inTurn(work, turn), (folded) => afterFold(items, folded, attentionBefore, reserved) ?? Effect.void)
    }
    // A defect in the fold ends the fiber, as it would have inside it.
    return Exit.isSuccess(now) ? afterFold(items, now.value, attentionBefore, reserved) : Exit.asVoid(now)
  }

  /** Appends the step's entry and settles its receipts. */
  const afterFold = (
    items: ReadonlyArray<Ingest>,
    folded: Folded,
    attentionBefore: SessionState["attention_detail"],
    reserved: number
  ): Effect.Effect<void> | undefined => {
    let durable: Receipt["durable"] = Effect.void
    // An attention that started in this step is notified; its outbox row commits with the events.
    const started = Notification.startedBy(attentionBefore, projection.state)
    const notifications = started === null ? undefined : [Notification.toRow(started, isoNow(clock))]
    // An urgent item whose events were all duplicates still waits for the originals: an empty
    // entry commits after everything queued before it.
    if (folded.pending.length > 0 || folded.checkpoints.length > 0 || folded.urgent) {
      durable = options.log.appendNow({
        events: folded.pending,
        checkpoints: folded.checkpoints,
        summary: folded.summary,
        urgent: folded.urgent,
        ...(notifications === undefined ? {} : { notifications })
      })
    }
    if (started !== null) options.onAttention?.(started, durable)
    if (reserved > 0) options.log.release(reserved)
    let i = 0
    for (const item of items) item.receipt.settle(folded.revisions[i++]!, durable)
    stepping = []
    return dropPaged()
  }

  const countDuplicates = () => {
    if (duplicates === 0) return
    Metrics.eventsDeduplicated.unsafeUpdate(duplicates, [])
    duplicates = 0
  }

  /** The rest of a step that had to wait, handed from `stepQueued` to the fiber. */
  let handoff: Effect.Effect<void> | undefined = undefined

  /** The fiber: steps whatever is queued, and what `stepQueued` handed it; sleeps when nothing is. */
  const drain = Effect.gen(function* () {
    while (true) {
      if (inbox.length === 0 && !stopped && handoff === undefined) yield* itemsArrive
      if (handoff !== undefined) {
        const rest = handoff
        handoff = undefined
        yield* rest
      }
      const items = takeStep(stepCost.itemsWithin(TURN_MS, STEP_EVENTS))
      releaseWaitingForRoom()
      if (items.length > 0) {
        const rest = runStep(items)
        if (rest !== undefined) yield* rest
      }
      countDuplicates()
      if (stopped && inbox.length === 0) return
    }
  })

  /**
   * While the fiber sleeps, what is offered is stepped in a microtask instead of resuming it (a
   * fiber's resumption and its chain of Effects cost more than a small step itself). A step that
   * must wait is handed to the fiber, which then takes over until the inbox is empty again.
   */
  let stepScheduled = false
  const stepSoon = () => {
    if (stepScheduled) return
    stepScheduled = true
    queueMicrotask(stepQueued)
  }
  const stepQueued = () => {
    stepScheduled = false
    // Awake (woken for a handoff, or stopping): the fiber takes what is queued.
    if (wake === undefined) return
    try {
      while (inbox.length > 0) {
        const items = takeStep(stepCost.itemsWithin(TURN_MS, STEP_EVENTS))
        releaseWaitingForRoom()
        const rest = runStep(items)
        if (rest !== undefined) {
          handoff = rest
          break
        }
      }
      countDuplicates()
    } catch (defect) {
      // Not thrown into the microtask queue (that would end the process): the fiber dies of it.
      handoff = Effect.die(defect)
    }
    if (handoff !== undefined) signal()
  }

  const end = Effect.sync(() => {
    stopped = true
    signal()
    releaseWaitingForRoom()
  })
  // Whoever still waits for a receipt when the actor fiber ends early (interrupted at shutdown)
  // gets an error, not a hang.
  const refuseWaiting = Effect.sync(() => {
    stopped = true
    const items = [...stepping, ...inbox]
    stepping = []
    inbox = []
    queuedEvents = 0
    for (const item of items) item.receipt.fail(internal(`session ${sessionId} stopped`))
    releaseWaitingForRoom()
  })
  // Actors hydrated at startup are made while a layer is built (uninterruptibly): keep the fiber interruptible.
  yield* drain.pipe(
    Effect.ensuring(refuseWaiting),
    Effect.annotateLogs({ session_id: sessionId }),
    Effect.interruptible,
    Effect.forkScoped
  )
  yield* Effect.addFinalizer(() => end)

  const commandPermit = yield* Effect.makeSemaphore(1)
  let commands = 0

  const actor: SessionActor = {
    sessionId,
    projection: handOut,
    peek: () => ({ revision: projection.state.revision, status: projection.state.status }),
    offer: (events, opts) => {
      lastUsed = clock.unsafeCurrentTimeMillis()
      if (stopped) return "stopped"
      if (!fits(events.length)) return "full"
      const receipt = new PendingReceipt()
      inbox.push({ events, options: opts, receipt })
      queuedEvents += events.length
      if (inbox.length === 1) stepSoon()
      return receipt
    },
    room,
    settled: () => inbox.length === 0 && stepping.length === 0,
    subscribe: (subscriber, sinceRevision) =>
      Effect.suspend(() => {
        lastUsed = clock.unsafeCurrentTimeMillis()
        const current = projection.state.revision
        const catchUp =
          sinceRevision === current ? [] : sinceRevision !== undefined && sinceRevision < current ? messagesAfter(sinceRevision) : undefined
        if (catchUp !== undefined) {
          subscribers.add(subscriber)
          for (const message of catchUp) subscriber.push(message)
          return Effect.succeed(current)
        }
        const whole = wholeState()
        // Published while the pages are read: pushed after the snapshot.
        const held: Array<SessionMessage | SessionSnapshot> = []
        const holder: SessionSubscriber = { push: (message) => void held.push(message) }
        subscribers.add(holder)
        return whole.pipe(
          Effect.map((session) => {
            subscribers.add(subscriber)
            subscriber.push({ type: "session_snapshot", session_id: sessionId, revision: current, session })
            for (const message of held) subscriber.push(message)
            return current
          }),
          Effect.ensuring(Effect.sync(() => subscribers.delete(holder)))
        )
      }),
    unsubscribe: (subscriber) => {
      subscribers.delete(subscriber)
    },
    subscriberCount: () => subscribers.size,
    fullState: Effect.suspend(() => wholeState()),
    snapshot: Effect.suspend(() => wholeState()).pipe(
      Effect.map((session): SessionSnapshot => ({ type: "session_snapshot", session_id: sessionId, revision: session.revision, session }))
    ),
    lastUsed: () => lastUsed,
    touch: () => {
      lastUsed = clock.unsafeCurrentTimeMillis()
    },
    stop: end,
    command: (run) =>
      Effect.suspend(() => {
        commands++
        return commandPermit.withPermits(1)(run).pipe(Effect.ensuring(Effect.sync(() => commands--)))
      }),
    commanding: () => commands > 0,
    recentEvents: (after) => {
      if (recent.oldestRevision() === undefined) return after >= projection.state.revision ? [] : undefined
      return recent.covers(after) ? recent.eventsAfter(after) : undefined
    }
  }

  /** The state now; its first `paged` messages are read from the log's pages afterwards. */
  const wholeState = (): Effect.Effect<SessionState, EventLogError> => {
    const state = handOut().state
    const paged = paging.paged
    if (paged === 0) return Effect.succeed(state)
    const updates = paging.updatesFor(state.messages)
    return Effect.map(options.log.readPages(sessionId, paged), (pages) => AssembledState.assemble(state, pages, updates))
  }

  const messagesAfter = (after: number): ReadonlyArray<SessionMessage> | undefined =>
    recent.covers(after) ? recent.messagesAfter(after) : undefined

  return actor
})
