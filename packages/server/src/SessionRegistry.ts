/**
 * The registry of session actors and the `Sessions` service built on it. Owns: one actor per session
 * (created on a connector's `session_created`, or hydrated from the log on first use), the session
 * list, the `ConnectorHost` connectors emit through, command dispatch (validated, run one at a time
 * per session by its actor, acked once what it emitted is durable: `CommandEmits`) and startup
 * recovery of turns whose agent did not survive.
 */
import { Rules } from "./rules/Rules.js"
import {
  type ApproveRequests,
  internal,
  notFound,
  ProtocolError,
  type RequestResult,
  type Provider,
  type SessionId,
  type SessionState,
  timeoutError,
  toRecord,
  unsupported,
  type EventsPage
} from "@orbitdock/domain"
import { SessionMirror, SessionProjection } from "@orbitdock/projections"
import { Context, Duration, Effect, Layer, Metric, Option, Schedule, Scope } from "effect"
import { idsFrom, isoNow } from "./Clock.js"
import * as CommandEmits from "./CommandEmits.js"
import * as Commands from "./Commands.js"
import {
  type Connector,
  type ConnectorFactory,
  type ConnectorHost,
  Connectors,
  DEFAULT_APPROVAL_POLICY,
  type EmitOptions,
  type EventInput,
  type Receipt
} from "./connectors/Connector.js"
import { EventLog, EventLogError } from "./eventlog/EventLog.js"
import * as Hydration from "./Hydration.js"
import * as InboxHub from "./InboxHub.js"
import * as LoadedMap from "./internal/loadedMap.js"
import * as ListHub from "./ListHub.js"
import * as Metrics from "./Metrics.js"
import { NotifyQueue } from "./notify/Notifier.js"
import * as Recovery from "./Recovery.js"
import * as SessionActor from "./SessionActor.js"
import { type Command, Sessions, type SessionsShape } from "./Sessions.js"

/** How long a connector may take to carry out a command before the client gets `timeout`. */
export const COMMAND_TIMEOUT = Duration.seconds(60)

/**
 * An event log failure as clients see it: what failed, never the driver's text (paths, SQL,
 * SQLite's messages), which goes to the server log.
 */
const failLogged =
  (operation: string) =>
  <A, R>(self: Effect.Effect<A, EventLogError, R>): Effect.Effect<A, ProtocolError, R> =>
    self.pipe(
      Effect.tapError((e) => Effect.logError(e.message).pipe(Effect.annotateLogs({ module: "Sessions", operation }))),
      Effect.mapError(() => internal(`${operation}: the event log failed (the server log has the cause)`))
    )

export interface RegistryOptions {
  /**
   * A session nobody has used for this long (no subscriber, no activity, not working) is dropped
   * from memory; its summary stays listed and it is rehydrated from the log on first use.
   */
  readonly evictIdleMs?: number
  /** A working session silent this long gets `session_stalled` (0 or absent: never). */
  readonly stallAfterMs?: number
}

/** How often idle sessions are looked for (at most). */
const EVICTION_SWEEP_MS = 10_000
/** How often silent turns and snoozes that ran out are looked for. */
const ATTENTION_SWEEP_MS = 1_000

/** Builds the registry, its connectors (from the factories) and recovers interrupted turns. */
export const make = (factories: ReadonlyArray<ConnectorFactory>, options: RegistryOptions = {}) =>
  Effect.gen(function* () {
    const log = yield* EventLog
    const scope = yield* Effect.scope
    // Time and ids from Effect's clock (a `TestClock` in tests), read synchronously where needed.
    const clock = yield* Effect.clock
    const newId = idsFrom(clock)
    const hub = ListHub.make()
    yield* Effect.addFinalizer(() => Effect.sync(hub.close))
    const inbox = InboxHub.make(() => isoNow(clock))
    // Who shows which sessions to their person (`set_viewing`): notifications skip those.
    const viewing = new Map<object, ReadonlySet<SessionId>>()
    const viewers = new Map<SessionId, number>()
    // The live actors, hydrated on first use (loads run in the registry's scope).
    const actors = yield* LoadedMap.make<SessionId, SessionActor.SessionActor, ProtocolError>(scope)

    for (const summary of yield* log.summaries) {
      hub.load(summary)
      inbox.load(summary)
    }
    yield* Metric.set(Metrics.sessions, hub.all().length)

    const notifications = Option.getOrUndefined(yield* Effect.serviceOption(NotifyQueue))
    const rules = Option.getOrUndefined(yield* Effect.serviceOption(Rules))
    const startActor = (initial: Hydration.Hydrated) =>
      SessionActor.make(initial, {
        log,
        ...(notifications === undefined
          ? {}
          : { onAttention: (notification, committed) => void notifications.unsafeOffer({ notification, committed }) }),
        onChange: (summary, messages) => {
          hub.update(summary, messages)
          inbox.update(summary)
          if (messages[0]?.type === "session_created") Metrics.sessions.unsafeUpdate(hub.count(), [])
        }
      }).pipe(Scope.extend(scope))

    /** The actor of a session, hydrating it from the log, or creating it when `create` allows. */
    const actorFor = (sessionId: SessionId, create: boolean): Effect.Effect<SessionActor.SessionActor, ProtocolError> =>
      Effect.suspend(() => {
        const live = actors.peek(sessionId)
        if (live !== undefined) return Effect.succeed(live)
        const known = hub.get(sessionId) !== undefined
        // A new session whose actor is starting (its `session_created` not folded yet) is known by its load.
        if (!known && !create && !actors.isLoading(sessionId)) return Effect.fail(notFound(`no session ${sessionId}`))
        const start = known
          ? log.loadSession(sessionId).pipe(
              failLogged(`loading session ${sessionId}`),
              // The latest projection snapshot plus the events after it: the same as a full replay.
              Effect.flatMap((loaded) => startActor(Hydration.hydrate(sessionId, loaded)))
            )
          : startActor(SessionActor.fresh(sessionId))
        return actors.get(sessionId, start).pipe(Effect.tap(() => Metric.set(Metrics.sessionsLoaded, actors.size())))
      })

    /**
     * The emit path, the server's hottest: a live actor with room in its mailbox queues the events
     * synchronously and the receipt comes back at once; otherwise the session is hydrated (or
     * created) first, or the emit waits for room.
     */
    const ingest = (
      sessionId: SessionId,
      events: ReadonlyArray<EventInput>,
      emitOptions: EmitOptions | undefined
    ): Effect.Effect<Receipt, ProtocolError> =>
      Effect.withFiberRuntime((fiber) => {
        const command = fiber.getFiberRef(CommandEmits.current)
        if (command !== undefined) {
          // A command's events: someone waits for their ack, so they commit first.
          const options = { ...emitOptions, urgent: true }
          return Effect.tap(offerAny(sessionId, events, options), (receipt) => command.add(receipt))
        }
        return offerAny(sessionId, events, emitOptions)
      })

    const offerAny = (
      sessionId: SessionId,
      events: ReadonlyArray<EventInput>,
      emitOptions: EmitOptions | undefined
    ): Effect.Effect<Receipt, ProtocolError> => {
      const offered = actors.peek(sessionId)?.offer(events, emitOptions)
      return typeof offered === "object" ? Effect.succeed(offered) : ingestResolving(sessionId, events, emitOptions)
    }

    const ingestResolving = (
      sessionId: SessionId,
      events: ReadonlyArray<EventInput>,
      emitOptions: EmitOptions | undefined
    ): Effect.Effect<Receipt, ProtocolError> =>
      actorFor(sessionId, events[0]?.event.type === "session_created").pipe(
        Effect.flatMap((actor) => offerTo(actor, sessionId, events, emitOptions))
      )

    const offerTo = (
      actor: SessionActor.SessionActor,
      sessionId: SessionId,
      events: ReadonlyArray<EventInput>,
      emitOptions: EmitOptions | undefined
    ): Effect.Effect<Receipt, ProtocolError> =>
      Effect.suspend(() => {
        const offered = actor.offer(events, emitOptions)
        if (offered === "full") return Effect.zipRight(actor.room(events.length), offerTo(actor, sessionId, events, emitOptions))
        if (offered === "stopped") {
          // Evicted between lookup and offer: the next lookup rehydrates it. Still registered:
          // the server is shutting down.
          return actors.peek(sessionId) === actor
            ? Effect.fail(internal(`session ${sessionId} is shutting down`))
            : ingestResolving(sessionId, events, emitOptions)
        }
        return Effect.succeed(offered)
      })

    /** The actor once everything emitted to it so far is folded (connectors read their own writes). */
    const settledActor = (sessionId: SessionId): Effect.Effect<SessionActor.SessionActor, ProtocolError> =>
      actorFor(sessionId, false).pipe(
        Effect.flatMap((actor) =>
          actor.settled()
            ? Effect.succeed(actor)
            : // An empty emit: folded once everything queued before it is (later emits need not be).
              offerTo(actor, sessionId, [], undefined).pipe(
                Effect.flatMap((receipt) => receipt.folded),
                Effect.as(actor)
              )
        )
      )

    const host: ConnectorHost = {
      emit: ingest,
      commit: (sessionId, events, options) =>
        host.emit(sessionId, events, { ...options, urgent: true }).pipe(
          Effect.tap((receipt) => receipt.durable.pipe(failLogged("commit")))
        ),
      state: (sessionId) =>
        settledActor(sessionId).pipe(
          Effect.map((actor) => Option.some(actor.projection().state)),
          Effect.orElseSucceed(() => Option.none<SessionState>())
        ),
      checkpoint: (key) => log.checkpoint(key).pipe(Effect.orElseSucceed(() => Option.none<string>())),
      newId,
      now: () => isoNow(clock),
      screenApproval: (sessionId, request) =>
        rules === undefined
          ? Effect.succeed({ request, decision: null })
          : host.state(sessionId).pipe(
              Effect.map((state) =>
                Option.isNone(state)
                  ? { request, decision: null }
                  : rules.screen({ id: sessionId, provider: state.value.provider, cwd: state.value.cwd }, request)
              )
            )
    }

    const connectors = new Map<Provider, Connector>()
    for (const factory of factories) {
      const connector = yield* factory(host).pipe(Scope.extend(scope))
      connectors.set(connector.provider, connector)
    }

    const connectorOf = (provider: Provider) => {
      const connector = connectors.get(provider)
      return connector === undefined
        ? Effect.fail(unsupported(`no ${provider} connector is running on this server`))
        : Effect.succeed(connector)
    }

    const runSessionCommand = (command: Commands.SessionCommand): Effect.Effect<void, ProtocolError> =>
      actorFor(command.session_id, false).pipe(Effect.flatMap((actor) => actor.command(carryOut(actor, command))))

    /** Records that a person saw or snoozed a session's attention (an event: every device sees it). */
    const markAttention = (command: Commands.MarkAttention): Effect.Effect<void, ProtocolError> =>
      actorFor(command.session_id, false).pipe(
        Effect.flatMap((actor) =>
          actor.command(
            Effect.suspend(() => {
              const event = Commands.markAttention(actor.projection().state, command)
              return event instanceof ProtocolError ? Effect.fail(event) : Effect.asVoid(ingest(command.session_id, [{ event }], undefined))
            })
          )
        )
      )

    /** Each request as its own `approve_tool` (resolved once, or refused on its own); never fails as a whole. */
    const approveRequests = (command: ApproveRequests): Effect.Effect<ReadonlyArray<RequestResult>> =>
      Effect.forEach(
        command.requests,
        ({ session_id, request_id }) =>
          execute({
            type: "approve_tool",
            session_id,
            request_id,
            approved: command.approved,
            ...(command.scope === undefined ? {} : { scope: command.scope })
          }).pipe(
            Effect.match({
              onSuccess: (): RequestResult => ({ session_id, request_id, ok: true }),
              onFailure: (error): RequestResult => ({ session_id, request_id, ok: false, code: error.code, message: error.message })
            })
          ),
        // Requests of one session are resolved one at a time by its actor; sessions go side by side.
        { concurrency: 16 }
      )

    /** Validates a command against the session's state, then has its connector carry it out. */
    const carryOut = (actor: SessionActor.SessionActor, command: Commands.SessionCommand): Effect.Effect<void, ProtocolError> =>
      Effect.gen(function* () {
        const projection = actor.projection()
        const refusal = Commands.refusal(projection, command)
        if (refusal !== null) return yield* Effect.fail(refusal)
        const connector = yield* connectorOf(projection.state.provider)
        const state = projection.state
        switch (command.type) {
          case "send_message":
            return yield* connector.sendMessage(state, command.content)
          case "approve_tool": {
            const pending = state.pending_approval
            yield* connector.approve(state, {
              request_id: command.request_id,
              approved: command.approved,
              scope: command.scope ?? "once"
            })
            // "For this session" is a rule of OrbitDock's, seen and revocable, not the agent's memory;
            // added once the approval went through (a rule that could not be saved only means asking again).
            if (command.approved && command.scope === "session" && rules !== undefined && pending !== null && pending.id === command.request_id) {
              yield* rules
                .allowForSession({ id: state.id, provider: state.provider, cwd: state.cwd }, pending)
                .pipe(Effect.catchAll((error) => Effect.logWarning(`the session rule of ${pending.id} was not added: ${error.message}`)))
            }
            return
          }
          case "answer_question":
            return yield* connector.answer(state, command.request_id, command.answer)
          case "interrupt_session":
            return yield* connector.interrupt(state)
          case "end_session":
            return yield* connector.end(state)
        }
      })

    const execute: SessionsShape["execute"] = (command: Command) => {
      if (command.type === "approve_requests") return Effect.map(approveRequests(command), (results) => ({ results }))
      const run =
        command.type === "mark_attention"
          ? markAttention(command).pipe(Effect.as({ session_id: command.session_id }))
          : command.type === "create_session"
          ? Effect.gen(function* () {
              const connector = yield* connectorOf(command.provider)
              const sessionId = newId("ses") as SessionId
              yield* connector.create(sessionId, {
                cwd: command.cwd,
                model: command.model,
                prompt: command.prompt,
                approval_policy: command.approval_policy ?? DEFAULT_APPROVAL_POLICY,
                sandbox: command.sandbox
              })
              return { session_id: sessionId }
            })
          : runSessionCommand(command).pipe(Effect.as({}))
      return CommandEmits.ackedWhenDurable(run, failLogged(command.type)).pipe(
        Effect.timeoutFail({
          duration: COMMAND_TIMEOUT,
          onTimeout: () => timeoutError(`${command.type} took longer than ${Duration.format(COMMAND_TIMEOUT)}`)
        })
      )
    }

    const events = (sessionId: SessionId, after: number, limit: number): Effect.Effect<EventsPage, ProtocolError> =>
      Effect.gen(function* () {
        const actor = yield* actorFor(sessionId, false)
        const current = actor.peek().revision
        let page = actor.recentEvents(after)?.slice(0, limit)
        if (page === undefined) {
          const durable = yield* log.readSession(sessionId, after, limit).pipe(failLogged("events"))
          const last = durable.at(-1)?.revision ?? after
          const tail = durable.length < limit ? (actor.recentEvents(last) ?? []) : []
          page = [...durable, ...tail.slice(0, limit - durable.length)]
        }
        const last = page.at(-1)?.revision
        return {
          events: page.map(toRecord),
          next_after: last !== undefined && last < current ? last : null
        }
      })

    const stateAt = (sessionId: SessionId, revision: number): Effect.Effect<SessionState, ProtocolError> =>
      Effect.gen(function* () {
        const actor = yield* actorFor(sessionId, false)
        const current = actor.projection().state
        if (revision < 1 || revision > current.revision) {
          return yield* Effect.fail(notFound(`session ${sessionId} has no revision ${revision} (current: ${current.revision})`))
        }
        if (revision === current.revision) return yield* failLogged("at_revision")(actor.fullState)
        const durable = yield* log.readSession(sessionId, 0, revision).pipe(failLogged("at_revision"))
        const last = durable.at(-1)?.revision ?? 0
        const tail = last < revision ? (actor.recentEvents(last) ?? []).filter((e) => e.revision <= revision) : []
        return SessionProjection.replay(sessionId, [...durable, ...tail]).state
      })

    const sessions: SessionsShape = {
      list: (filter) =>
        Effect.sync(() =>
          hub
            .all()
            .filter(
              (s) =>
                (filter?.status === undefined || s.status === filter.status) &&
                (filter?.provider === undefined || s.provider === filter.provider)
            )
        ),
      get: (sessionId) =>
        actorFor(sessionId, false).pipe(
          Effect.flatMap((actor) => {
            actor.touch()
            return failLogged("get")(actor.fullState)
          })
        ),
      stateAt,
      events,
      subscribe: (sessionId, subscriber, sinceRevision) =>
        actorFor(sessionId, false).pipe(
          Effect.flatMap((actor) => failLogged("subscribe")(Effect.map(actor.subscribe(subscriber, sinceRevision), (revision) => ({ revision })))),
          Effect.tap(() => Metric.increment(Metrics.subscribers))
        ),
      unsubscribe: (sessionId, subscriber) =>
        Effect.suspend(() => {
          const actor = actors.peek(sessionId)
          if (actor === undefined) return Effect.void
          actor.unsubscribe(subscriber)
          return Metric.incrementBy(Metrics.subscribers, -1)
        }),
      subscribeList: (subscriber) =>
        Effect.sync(() => hub.subscribe(subscriber)).pipe(Effect.zipRight(Metric.increment(Metrics.subscribers))),
      unsubscribeList: (subscriber) =>
        Effect.sync(() => hub.unsubscribe(subscriber)).pipe(Effect.zipRight(Metric.incrementBy(Metrics.subscribers, -1))),
      snapshot: (sessionId) => {
        const actor = actors.peek(sessionId)
        if (actor === undefined) return Effect.succeedNone
        return actor.snapshot.pipe(
          Effect.asSome,
          // The subscriber is left behind: it sees the next revision gap and subscribes again.
          Effect.catchAll((error) => Effect.as(Effect.logError(`snapshot of session ${sessionId} failed`, error), Option.none()))
        )
      },
      listNow: () => hub.list(),
      inbox: (options) => Effect.sync(() => (options?.snoozed === true ? inbox.all() : inbox.items())),
      subscribeInbox: (subscriber) => Effect.sync(() => inbox.subscribe(subscriber)),
      unsubscribeInbox: (subscriber) => Effect.sync(() => inbox.unsubscribe(subscriber)),
      inboxNow: () => inbox.message(),
      inboxJson: () => inbox.itemsJson(),
      summary: (sessionId) => hub.get(sessionId),
      setViewing: (viewer, sessionIds) => {
        for (const id of viewing.get(viewer) ?? []) {
          const left = (viewers.get(id) ?? 1) - 1
          if (left <= 0) viewers.delete(id)
          else viewers.set(id, left)
        }
        if (sessionIds.length === 0) viewing.delete(viewer)
        else viewing.set(viewer, new Set(sessionIds))
        for (const id of viewing.get(viewer) ?? []) viewers.set(id, (viewers.get(id) ?? 0) + 1)
      },
      isViewed: (sessionId) => viewers.has(sessionId),
      execute
    }

    yield* Recovery.recoverInterruptedTurns(hub.all(), actorFor, connectors, host)

    // Sessions last written by a version without attention details: their summaries do not say
    // whether they need their person. Each is folded again from its log once, in the background,
    // and its summary (and inbox entry) updated; it then leaves memory like any idle session.
    const unknownAttention = hub.all().filter((summary) => summary.status !== "ended" && !("attention_detail" in summary))
    if (unknownAttention.length > 0) {
      yield* Effect.forEach(
        unknownAttention,
        (summary) =>
          actorFor(summary.id, false).pipe(
            Effect.map((actor) => {
              const refreshed = SessionMirror.summarize(actor.projection().state)
              hub.update(refreshed, [])
              inbox.update(refreshed)
            }),
            Effect.catchAll((error) => Effect.logWarning(`the attention of session ${summary.id} is unknown: ${error.message}`))
          ),
        { discard: true }
      ).pipe(
        Effect.zipRight(Effect.logInfo(`derived the attention of ${unknownAttention.length} session(s) written by an older version`)),
        Effect.interruptible,
        Effect.forkScoped
      )
    }
    yield* Recovery.resumeWatching(hub.all(), connectors)

    // Snoozes that ran out come back to the inbox; a turn silent for `stallAfterMs` is `stalled`.
    const stallAfterMs = options.stallAfterMs ?? 0
    const attentionSweep = Effect.gen(function* () {
      inbox.wake()
      if (stallAfterMs <= 0) return
      const now = clock.unsafeCurrentTimeMillis()
      for (const summary of hub.all()) {
        // Only a turn nobody is asked about yet: a pending request already has the person's attention.
        if (summary.status !== "working" || (summary.attention_detail ?? null) !== null) continue
        if (now - Date.parse(summary.last_activity_at) < stallAfterMs) continue
        yield* ingest(summary.id, [{ event: { type: "session_stalled", since: summary.last_activity_at } }], undefined).pipe(
          Effect.catchAll((error) => Effect.logWarning(`marking session ${summary.id} stalled failed: ${error.message}`))
        )
      }
    })
    yield* attentionSweep.pipe(
      Effect.repeat(Schedule.spaced(ATTENTION_SWEEP_MS)),
      Effect.interruptible,
      Effect.forkScoped
    )

    if (options.evictIdleMs !== undefined && options.evictIdleMs > 0) {
      const idleMs = options.evictIdleMs
      // Everything a session appended must be committed before it leaves memory: hydrated again, it
      // is what the log has, and an event still uncommitted (a commit failing and being retried)
      // would be served as another event at the same revision.
      const idle = (actor: SessionActor.SessionActor, now: number) => {
        const state = actor.peek()
        return (
          actor.subscriberCount() === 0 &&
          now - actor.lastUsed() >= idleMs &&
          state.status !== "working" &&
          state.status !== "starting" &&
          actor.settled() &&
          !actor.commanding() &&
          !log.uncommitted(actor.sessionId)
        )
      }
      // Checks and removals run without yielding: nothing reaches an actor between the two.
      const sweep = Effect.gen(function* () {
        const now = clock.unsafeCurrentTimeMillis()
        const evicted = actors.evictWhere((actor) => idle(actor, now))
        for (const actor of evicted) yield* actor.stop
        yield* Metric.set(Metrics.sessionsLoaded, actors.size())
        if (evicted.length > 0) yield* Effect.logDebug(`evicted ${evicted.length} idle sessions from memory`)
      })
      // Forked while the layer is built, which runs uninterruptibly: the sweep must stay interruptible.
      yield* sweep.pipe(
        Effect.repeat(Schedule.spaced(Math.min(EVICTION_SWEEP_MS, idleMs))),
        Effect.interruptible,
        Effect.forkScoped
      )
    }
    return { sessions, connectors: connectors as ReadonlyMap<Provider, Connector> }
  })

/** Provides `Sessions` and `Connectors`, given the event log and the connector factories. */
export const layer = (
  factories: ReadonlyArray<ConnectorFactory>,
  options: RegistryOptions = {}
): Layer.Layer<Sessions | Connectors, EventLogError, EventLog> =>
  Layer.scopedContext(
    make(factories, options).pipe(
      Effect.map(({ sessions, connectors }) =>
        Context.make(Sessions, sessions).pipe(Context.add(Connectors, connectors))
      )
    )
  )
