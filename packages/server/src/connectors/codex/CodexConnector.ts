/**
 * The Codex connector: OrbitDock sessions driven through one shared `codex app-server` process (one
 * Codex thread per session), plus watch-only sessions from rollout files (`CodexRollouts`). Owns the
 * process lifecycle (started on first need, its death noticed and turned into visible errors,
 * restarted and the thread resumed on the next command), the routing of the server's messages to
 * each thread's worker fiber, and the commands. What the messages mean is `CodexTranslate`'s.
 *
 * Ordering: each thread has one worker that translates its messages in arrival order under the
 * thread's lock; a command holds the same lock while it talks to Codex and commits its own events,
 * so the notifications that echo a command (turn/started, the user message) arrive after the
 * command's events and are dropped by their source keys.
 */
import {
  internal,
  type MessageId,
  ProtocolError,
  type SessionId,
  type SessionState,
  unsupported
} from "@orbitdock/domain"
import { Deferred, Effect, Either, ExecutionStrategy, Exit, FiberSet, Option, Queue, Schema, Scope } from "effect"
import type { ApproveParams, Connector, ConnectorFactory, ConnectorHost, CreateParams, EventInput } from "../Connector.js"
import * as CodexProcess from "./CodexProcess.js"
import type { CodexRpcError } from "./CodexRpc.js"
import * as S from "./CodexSchemas.js"
import * as T from "./CodexTranslate.js"
import { watchRollouts } from "./CodexRollouts.js"

export interface CodexConnectorOptions {
  /** `--codex-bin` (ServerConfig.codexBin); else `ORBITDOCK_CODEX_BIN`, else `codex` on PATH. */
  readonly bin?: string | null
  /** The child's environment; default: the server's own (`process.env`), so CODEX_HOME etc. apply. */
  readonly env?: Readonly<Record<string, string | undefined>>
  /** Follow `$CODEX_HOME/sessions` rollouts as watch-only sessions (default: on unless ORBITDOCK_CODEX_WATCH=0). */
  readonly watchRollouts?: boolean
  /** Rollout files last written longer ago than this at startup are not imported (default 24 h). */
  readonly rolloutLookbackMs?: number
  /** JSON-RPC request timeout (default 60 s). */
  readonly requestTimeoutMs?: number
  /** `clientInfo.name` sent to Codex (its "originator"); rollouts with it are ours and not watched. */
  readonly clientName?: string
}

export const DEFAULT_CLIENT_NAME = "orbitdock"

type Work =
  | { readonly kind: "notification"; readonly notification: S.Notification }
  | { readonly kind: "request"; readonly request: S.ServerRequest }
  | { readonly kind: "exited"; readonly detail: string }

interface Policy {
  readonly approval_policy: CreateParams["approval_policy"]
  readonly sandbox?: CreateParams["sandbox"]
}

interface Binding {
  readonly sessionId: SessionId
  readonly threadId: string
  readonly policy: Policy
  readonly lock: Effect.Semaphore
  readonly queue: Queue.Queue<Work>
  state: T.ThreadState
  /** The generation of the process the thread is loaded in; null: resume before use. */
  generation: number | null
  /** A command waiting for the running turn to end (interrupt). */
  turnEnded: Deferred.Deferred<void> | null
}

interface Proc {
  readonly generation: number
  readonly server: CodexProcess.AppServer
  readonly scope: Scope.CloseableScope
}

const checkpointKey = (sessionId: SessionId) => `codex:thread:${sessionId}`
const PolicyJson = Schema.parseJson(
  Schema.Struct({
    thread_id: Schema.String,
    approval_policy: Schema.Literal("untrusted", "on-request", "never"),
    sandbox: Schema.optional(Schema.Literal("read-only", "workspace-write", "danger-full-access"))
  })
)

const toProtocol = (error: CodexRpcError): ProtocolError =>
  new ProtocolError({ code: error.operation.endsWith(":timeout") ? "timeout" : "internal", message: `codex: ${error.message}` })

const decodeNotification = Schema.decodeUnknownEither(S.Notification)
const decodeServerRequest = Schema.decodeUnknownEither(S.ServerRequest)

/** The connector factory the server registers for provider `codex`. */
export const makeCodexConnector = (options: CodexConnectorOptions = {}): ConnectorFactory => (host: ConnectorHost) =>
  Effect.gen(function* () {
    const env = options.env ?? process.env
    const clientName = options.clientName ?? DEFAULT_CLIENT_NAME
    const fibers = yield* FiberSet.make<unknown, unknown>()
    const bindings = new Map<SessionId, Binding>()
    const byThread = new Map<string, Binding>()
    const procLock = yield* Effect.makeSemaphore(1)
    let proc: Proc | null = null
    let generations = 0
    /** Generations we stopped on purpose (no session left): their exit is not an error. */
    const stopped = new Set<number>()
    let shuttingDown = false
    // Stopping the server stops the app-server: that exit is no failure of a turn (the server
    // closes interrupted turns at its next start).
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        shuttingDown = true
        const current = proc
        proc = null
        return current === null ? Effect.void : Scope.close(current.scope, Exit.void)
      })
    )

    const emitFor = (binding: Binding, events: ReadonlyArray<EventInput>, urgent: boolean) =>
      events.length === 0
        ? Effect.void
        : (urgent ? host.commit(binding.sessionId, events) : host.emit(binding.sessionId, events)).pipe(
            Effect.asVoid,
            Effect.catchAll((error) => Effect.logWarning(`codex: events for ${binding.sessionId} refused: ${error.message}`))
          )

    /** One message of a thread, translated and emitted under the thread's lock. */
    const handle = (binding: Binding, work: Work) =>
      binding.lock.withPermits(1)(
        Effect.gen(function* () {
          const before = binding.state
          const translation =
            work.kind === "notification"
              ? T.translateNotification(before, work.notification, host.now())
              : work.kind === "request"
                ? T.translateServerRequest(before, work.request, host.now())
                : T.processExited(before, work.detail, host.now())
          binding.state = translation.state
          const turnEnded =
            work.kind === "exited" || (work.kind === "notification" && work.notification.method === "turn/completed")
          const waiter = turnEnded ? binding.turnEnded : null
          // A command waits for this turn's end: commit so its ack follows durability.
          yield* emitFor(binding, translation.events, waiter !== null || work.kind === "exited")
          if (waiter !== null) {
            binding.turnEnded = null
            yield* Deferred.succeed(waiter, undefined)
          }
        })
      )

    const startWorker = (binding: Binding) =>
      FiberSet.run(
        fibers,
        // Ends when the session ends (its queue is shut down); one bad message never stops it.
        Queue.take(binding.queue).pipe(
          Effect.flatMap((work) =>
            handle(binding, work).pipe(Effect.catchAllCause((cause) => Effect.logError("codex: a thread message failed", cause)))
          ),
          Effect.forever
        )
      )

    const bind = (sessionId: SessionId, threadId: string, policy: Policy, generation: number | null) =>
      Effect.gen(function* () {
        const binding: Binding = {
          sessionId,
          threadId,
          policy,
          lock: yield* Effect.makeSemaphore(1),
          queue: yield* Queue.unbounded<Work>(),
          state: T.initial,
          generation,
          turnEnded: null
        }
        bindings.set(sessionId, binding)
        byThread.set(threadId, binding)
        yield* startWorker(binding)
        return binding
      })

    /** Routes what the server sends to the thread it concerns; unknown methods are ignored. */
    const dispatch = (generation: number, server: CodexProcess.AppServer, procScope: Scope.CloseableScope) =>
      Queue.take(server.rpc.incoming).pipe(
        Effect.flatMap((incoming): Effect.Effect<boolean> => {
          switch (incoming.kind) {
            case "closed":
              return Effect.gen(function* () {
                if (proc?.generation === generation) proc = null
                yield* Scope.close(procScope, Exit.void)
                if (shuttingDown || stopped.has(generation)) return false
                for (const binding of bindings.values()) {
                  if (binding.generation !== generation) continue
                  binding.generation = null
                  yield* Queue.offer(binding.queue, { kind: "exited", detail: incoming.reason })
                }
                yield* Effect.logWarning(`codex: ${incoming.reason}`).pipe(Effect.annotateLogs({ stderr: server.stderrTail() }))
                return false
              })
            case "notification": {
              const { method } = incoming.frame
              if (!S.notificationMethods.has(method)) return Effect.logDebug(`codex: ignored ${method}`).pipe(Effect.as(true))
              const decoded = decodeNotification(incoming.frame)
              if (Either.isLeft(decoded)) {
                return Effect.logWarning(`codex: a ${method} we cannot read was skipped`, decoded.left.message).pipe(Effect.as(true))
              }
              const binding = byThread.get(decoded.right.params.threadId)
              if (binding === undefined) return Effect.succeed(true)
              return Queue.offer(binding.queue, { kind: "notification", notification: decoded.right }).pipe(Effect.as(true))
            }
            case "request": {
              const { id, method } = incoming.frame
              const decoded = S.serverRequestMethods.has(method) ? decodeServerRequest(incoming.frame) : undefined
              const binding = decoded !== undefined && Either.isRight(decoded) ? byThread.get(decoded.right.params.threadId) : undefined
              if (binding === undefined || decoded === undefined || Either.isLeft(decoded)) {
                // Never leave Codex waiting on a request OrbitDock cannot show.
                return server.rpc.respondError(id, -32601, `OrbitDock does not handle ${method} here`).pipe(Effect.ignore, Effect.as(true))
              }
              return Queue.offer(binding.queue, { kind: "request", request: decoded.right }).pipe(Effect.as(true))
            }
          }
        }),
        Effect.repeat({ while: (more) => more }),
        Effect.asVoid
      )

    /** The running app-server, started (and initialized) if there is none. */
    const ensureProcess: Effect.Effect<Proc, ProtocolError> = procLock.withPermits(1)(
      Effect.gen(function* () {
        if (proc !== null) return proc
        const binary = yield* CodexProcess.resolveBinary(options.bin, env).pipe(
          Effect.mapError((error) => unsupported(`codex is not available: ${error.message}`))
        )
        const procScope = yield* Scope.make(ExecutionStrategy.sequential)
        const started = yield* CodexProcess.spawnAppServer({
          binary,
          env,
          ...(options.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: options.requestTimeoutMs })
        }).pipe(
          Scope.extend(procScope),
          Effect.mapError((error) => unsupported(error.message)),
          Effect.tapError(() => Scope.close(procScope, Exit.void))
        )
        const generation = ++generations
        yield* FiberSet.run(fibers, dispatch(generation, started, procScope))
        yield* started.rpc
          .request(
            "initialize",
            {
              clientInfo: { name: clientName, title: "OrbitDock", version: "0.1.0" },
              capabilities: { experimentalApi: false, requestAttestation: false }
            },
            S.InitializeResult
          )
          .pipe(
            Effect.zipRight(started.rpc.notify("initialized")),
            Effect.mapError(toProtocol),
            Effect.tapError(() => Scope.close(procScope, Exit.void))
          )
        proc = { generation, server: started, scope: procScope }
        return proc
      })
    )

    /** The thread loaded in the running process (resumed there if it is not). Call under the lock. */
    const ensureLoaded = (binding: Binding) =>
      Effect.gen(function* () {
        const current = yield* ensureProcess
        if (binding.generation !== current.generation) {
          yield* current.server.rpc
            .request(
              "thread/resume",
              {
                threadId: binding.threadId,
                approvalPolicy: binding.policy.approval_policy,
                ...(binding.policy.sandbox === undefined ? {} : { sandbox: binding.policy.sandbox }),
                excludeTurns: true
              },
              S.ThreadStartResult
            )
            .pipe(Effect.mapError(toProtocol))
          binding.generation = current.generation
          binding.state = T.initial
        }
        return current
      })

    /** The binding of a session, rebuilt from its thread id and checkpoint after a restart. */
    const bindingFor = (session: SessionState) =>
      Effect.gen(function* () {
        const existing = bindings.get(session.id)
        if (existing !== undefined) return existing
        const saved = Option.flatMap(yield* host.checkpoint(checkpointKey(session.id)), (json) =>
          Either.getRight(Schema.decodeUnknownEither(PolicyJson)(json))
        )
        const threadId = Option.isSome(saved) ? saved.value.thread_id : session.external_id
        if (threadId === undefined) return yield* Effect.fail(internal(`session ${session.id} has no codex thread`))
        const policy: Policy = Option.isSome(saved)
          ? { approval_policy: saved.value.approval_policy, ...(saved.value.sandbox === undefined ? {} : { sandbox: saved.value.sandbox }) }
          : { approval_policy: "untrusted" }
        return yield* bind(session.id, threadId, policy, null)
      })

    const userMessage = (id: string, content: string): EventInput => ({
      event: { type: "message_appended", message: { id: id as MessageId, role: "user", content, created_at: host.now() } },
      source_key: T.appendKey(id)
    })

    /** A user message: starts a turn, or steers the running one. */
    const startTurn = (binding: Binding, content: string) =>
      binding.lock.withPermits(1)(
        Effect.gen(function* () {
          const { server } = yield* ensureLoaded(binding)
          const messageId = host.newId("msg")
          const input = [{ type: "text", text: content, text_elements: [] }]
          const running = binding.state.turnId
          if (running !== null) {
            const steered = yield* server.rpc
              .request("turn/steer", { threadId: binding.threadId, input, expectedTurnId: running, clientUserMessageId: messageId }, S.TurnSteerResult)
              .pipe(Effect.either)
            if (Either.isRight(steered)) return yield* host.commit(binding.sessionId, [userMessage(messageId, content)])
            // The turn ended meanwhile (its end not yet translated): start a new one.
          }
          const started = yield* server.rpc
            .request("turn/start", { threadId: binding.threadId, input, clientUserMessageId: messageId }, S.TurnStartResult)
            .pipe(Effect.mapError(toProtocol))
          const turnId = started.turn.id
          binding.state = { ...T.initial, fileChanges: binding.state.fileChanges, turnId }
          yield* host.commit(binding.sessionId, [
            { event: { type: "turn_started", turn_id: turnId }, source_key: `turn:${turnId}:started` },
            userMessage(messageId, content)
          ])
        })
      )

    /** Answers a pending server request and commits its resolution. */
    const resolve = (session: SessionState, requestId: string, kind: "approval" | "question", result: (p: T.PendingRequest) => unknown, resolution: EventInput) =>
      Effect.gen(function* () {
        const binding = yield* bindingFor(session)
        yield* binding.lock.withPermits(1)(
          Effect.gen(function* () {
            const pending = binding.state.pending[requestId]
            if (pending === undefined || pending.kind !== kind || proc === null || binding.generation !== proc.generation) {
              return yield* Effect.fail(new ProtocolError({ code: "conflict", message: `request ${requestId} is not waiting for an answer` }))
            }
            yield* proc.server.rpc.respond(pending.rpcId, result(pending)).pipe(Effect.mapError(toProtocol))
            binding.state = T.answered(binding.state, requestId)
            yield* host.commit(binding.sessionId, [resolution])
          })
        )
      })

    const interrupt = (session: SessionState) =>
      Effect.gen(function* () {
        const binding = bindings.get(session.id)
        if (binding === undefined) return
        const waiter = yield* binding.lock.withPermits(1)(
          Effect.gen(function* () {
            const turnId = binding.state.turnId
            if (turnId === null || proc === null || binding.generation !== proc.generation) return Option.none()
            const ended = yield* Deferred.make<void>()
            binding.turnEnded = ended
            yield* proc.server.rpc
              .request("turn/interrupt", { threadId: binding.threadId, turnId }, Schema.Unknown)
              .pipe(Effect.catchAll((error) => Effect.logWarning(`codex: turn/interrupt failed: ${error.message}`)))
            return Option.some({ ended, turnId })
          })
        )
        if (Option.isNone(waiter)) return
        const ended = yield* Deferred.await(waiter.value.ended).pipe(Effect.timeout("15 seconds"), Effect.option)
        if (Option.isSome(ended)) return
        // Codex never confirmed: close the turn ourselves so the session is not stuck `working`.
        yield* binding.lock.withPermits(1)(
          Effect.gen(function* () {
            if (binding.state.turnId !== waiter.value.turnId) return
            const closing = T.endTurn(binding.state, waiter.value.turnId, { status: "aborted", reason: "interrupted" }, host.now())
            binding.state = closing.state
            binding.turnEnded = null
            yield* host.commit(binding.sessionId, closing.events)
          })
        )
      })

    const stopProcessIfIdle = Effect.gen(function* () {
      const current = proc
      if (current === null) return
      for (const binding of bindings.values()) if (binding.generation === current.generation) return
      proc = null
      stopped.add(current.generation)
      yield* Scope.close(current.scope, Exit.void)
    })

    // Watching is on unless turned off here or with ORBITDOCK_CODEX_WATCH=0.
    if (options.watchRollouts ?? env.ORBITDOCK_CODEX_WATCH !== "0") {
      yield* watchRollouts(host, {
        env,
        clientName,
        lookbackMs: options.rolloutLookbackMs ?? 24 * 60 * 60 * 1000
      })
    }

    /**
     * Sessions from rollouts are only watched: OrbitDock must not start turns in a thread another
     * Codex process owns. (The registry is meant to refuse these first; this is the connector's own
     * guard.)
     */
    const driven = <A>(session: SessionState, command: Effect.Effect<A, ProtocolError>) =>
      session.watch_only === true
        ? Effect.fail(new ProtocolError({ code: "conflict", message: "this Codex session is watch-only (started outside OrbitDock)" }))
        : command

    const connector: Connector = {
      provider: "codex",
      create: (sessionId, params) =>
        Effect.gen(function* () {
          const current = yield* ensureProcess
          const started = yield* current.server.rpc
            .request(
              "thread/start",
              {
                cwd: params.cwd,
                approvalPolicy: params.approval_policy,
                ...(params.model === undefined ? {} : { model: params.model }),
                ...(params.sandbox === undefined ? {} : { sandbox: params.sandbox })
              },
              S.ThreadStartResult
            )
            .pipe(Effect.mapError(toProtocol))
          const threadId = started.thread.id
          const policy: Policy = { approval_policy: params.approval_policy, ...(params.sandbox === undefined ? {} : { sandbox: params.sandbox }) }
          const binding = yield* bind(sessionId, threadId, policy, current.generation)
          const model = started.model ?? params.model
          yield* host.commit(
            sessionId,
            [
              {
                event: {
                  type: "session_created",
                  provider: "codex",
                  cwd: params.cwd,
                  status: "waiting",
                  external_id: threadId,
                  approval_policy: params.approval_policy,
                  ...(model === undefined ? {} : { model }),
                  ...(params.sandbox === undefined ? {} : { sandbox: params.sandbox })
                },
                source_key: `thread:${threadId}:created`
              }
            ],
            { checkpoints: [{ key: checkpointKey(sessionId), value: JSON.stringify({ thread_id: threadId, ...policy }) }] }
          )
          if (params.prompt !== undefined) yield* startTurn(binding, params.prompt)
        }),
      sendMessage: (session, content) => driven(session, bindingFor(session).pipe(Effect.flatMap((binding) => startTurn(binding, content)))),
      approve: (session, params: ApproveParams) =>
        driven(session, resolve(
          session,
          params.request_id,
          "approval",
          () => ({ decision: params.approved ? (params.scope === "session" ? "acceptForSession" : "accept") : "decline" }),
          {
            event: { type: "approval_resolved", request_id: params.request_id, outcome: params.approved ? "approved" : "denied", scope: params.scope },
            source_key: `request:${params.request_id}:resolved`
          }
        )),
      answer: (session, requestId, answer) =>
        driven(session, resolve(
          session,
          requestId,
          "question",
          (pending) => ({ answers: Object.fromEntries(pending.questionIds.map((id) => [id, { answers: [answer] }])) }),
          {
            event: { type: "question_resolved", request_id: requestId, outcome: "answered", answer },
            source_key: `request:${requestId}:resolved`
          }
        )),
      interrupt: (session) => driven(session, interrupt(session)),
      end: (session) =>
        Effect.gen(function* () {
          const binding = bindings.get(session.id)
          if (binding !== undefined) {
            yield* interrupt(session).pipe(Effect.catchAll(() => Effect.void))
            const current = proc
            if (current !== null && binding.generation === current.generation) {
              yield* current.server.rpc.request("thread/unsubscribe", { threadId: binding.threadId }, Schema.Unknown).pipe(Effect.ignore)
            }
            bindings.delete(session.id)
            byThread.delete(binding.threadId)
            yield* Queue.shutdown(binding.queue)
          }
          yield* host.commit(session.id, [{ event: { type: "session_ended", reason: "ended_by_user" } }])
          yield* procLock.withPermits(1)(stopProcessIfIdle)
        }),
      // The app-server is our child: it dies with the server, so no running turn survives a restart.
      survivedRestart: () => Effect.succeed(false)
    }
    return connector
  })
