/**
 * The Codex connector: OrbitDock sessions driven through one shared `codex app-server` process (one
 * Codex thread per session; the process itself is `CodexAppServer`'s), plus watch-only sessions from
 * rollout files (`CodexRollouts`). Owns the session ↔ thread bindings, each thread's worker fiber,
 * the commands, and recovery: a dead process ends its threads' turns visibly, and the next command
 * resumes the thread (`thread/resume`) in a new process. What the messages mean is `CodexTranslate`'s.
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
  type SessionState
} from "@orbitdock/domain"
import { Deferred, Effect, Either, FiberSet, Option, Queue, Schema } from "effect"
import { type ApproveParams, type Connector, type ConnectorFactory, type ConnectorHost, type CreateParams, type EventInput, ruledEvents } from "../Connector.js"
import * as CodexAppServer from "./CodexAppServer.js"
import { toProtocol } from "./CodexAppServer.js"
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

type Work = CodexAppServer.ThreadMessage | { readonly kind: "exited"; readonly detail: string }

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

const checkpointKey = (sessionId: SessionId) => `codex:thread:${sessionId}`
const PolicyJson = Schema.parseJson(
  Schema.Struct({
    thread_id: Schema.String,
    approval_policy: Schema.Literal("untrusted", "on-request", "never"),
    sandbox: Schema.optional(Schema.Literal("read-only", "workspace-write", "danger-full-access"))
  })
)

/** The connector factory the server registers for provider `codex`. */
export const makeCodexConnector = (options: CodexConnectorOptions = {}): ConnectorFactory => (host: ConnectorHost) =>
  Effect.gen(function* () {
    const env = options.env ?? process.env
    const clientName = options.clientName ?? DEFAULT_CLIENT_NAME
    const fibers = yield* FiberSet.make<unknown, unknown>()
    const bindings = new Map<SessionId, Binding>()
    const byThread = new Map<string, Binding>()
    const appServer = yield* CodexAppServer.make(
      { bin: options.bin, env, clientName, requestTimeoutMs: options.requestTimeoutMs },
      {
        route: (threadId, message) => {
          const binding = byThread.get(threadId)
          return binding === undefined ? Effect.succeed(false) : Queue.offer(binding.queue, message).pipe(Effect.as(true))
        },
        // Every thread loaded in the dead process: its turn ends, visibly, after what came before.
        exited: (generation, reason) =>
          Effect.forEach(bindings.values(), (binding) => {
            if (binding.generation !== generation) return Effect.void
            binding.generation = null
            return Queue.offer(binding.queue, { kind: "exited", detail: reason })
          }, { discard: true })
      }
    )

    const emitFor = (binding: Binding, events: ReadonlyArray<EventInput>, urgent: boolean) =>
      events.length === 0
        ? Effect.void
        : (urgent ? host.commit(binding.sessionId, events) : host.emit(binding.sessionId, events)).pipe(
            Effect.asVoid,
            Effect.catchAll((error) => Effect.logWarning(`codex: events for ${binding.sessionId} refused: ${error.message}`))
          )

    /**
     * An approval Codex asks for, screened by the approval rules: with its risk classes, or, when a
     * rule decides, answered to Codex at once and recorded asked-and-answered (under the thread's lock).
     */
    const screened = (binding: Binding, events: ReadonlyArray<EventInput>) =>
      Effect.forEach(events, (input) =>
        Effect.gen(function* () {
          if (input.event.type !== "approval_requested") return [input]
          const requestId = input.event.request.id
          const result = yield* host.screenApproval(binding.sessionId, input.event.request)
          const decision = result.decision
          const pending = binding.state.pending[requestId]
          const proc = appServer.current()
          if (decision === null || pending === undefined || proc === null) {
            return [{ ...input, event: { ...input.event, request: result.request } }]
          }
          yield* proc.rpc.respond(pending.rpcId, { decision: decision.approved ? "accept" : "decline" }).pipe(Effect.mapError(toProtocol))
          binding.state = T.answered(binding.state, requestId)
          return ruledEvents({ ...result, decision }, { requested: input.source_key ?? `request:${requestId}`, resolved: `request:${requestId}:resolved` })
        }).pipe(
          Effect.catchAll((error) =>
            Effect.logWarning(`codex: a rule's answer could not be sent (${error.message}); the person is asked`).pipe(Effect.as([input]))
          )
        )
      ).pipe(Effect.map((lists) => lists.flat()))

    /** One message of a thread, translated and emitted under the thread's lock. */
    const handle = (binding: Binding, work: Work) =>
      binding.lock.withPermits(1)(
        Effect.gen(function* () {
          // Reloaded in a new process since: the command that did so already closed the old turn.
          if (work.kind === "exited" && binding.generation !== null) return
          const before = binding.state
          const translation =
            work.kind === "notification"
              ? T.translateNotification(before, work.notification, host.now())
              : work.kind === "request"
                ? T.translateServerRequest(before, work.request, host.now())
                : T.processExited(before, work.detail, host.now())
          binding.state = translation.state
          const events = work.kind === "request" ? yield* screened(binding, translation.events) : translation.events
          const turnEnded =
            work.kind === "exited" || (work.kind === "notification" && work.notification.method === "turn/completed")
          const waiter = turnEnded ? binding.turnEnded : null
          // A command waits for this turn's end: commit so its ack follows durability.
          yield* emitFor(binding, events, waiter !== null || work.kind === "exited")
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

    /** The thread loaded in the running process (resumed there if it is not). Call under the lock. */
    const ensureLoaded = (binding: Binding) =>
      Effect.gen(function* () {
        if (binding.generation === null && binding.state.turnId !== null) {
          // The process died and this command came before the worker noticed: close that turn
          // first, so it is not left `working` behind the new one.
          const closing = T.processExited(binding.state, "the codex app-server exited", host.now())
          binding.state = closing.state
          yield* host.commit(binding.sessionId, closing.events)
        }
        const current = yield* appServer.ensure
        if (binding.generation !== current.generation) {
          yield* current.rpc
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
          const { rpc } = yield* ensureLoaded(binding)
          const messageId = host.newId("msg")
          const input = [{ type: "text", text: content, text_elements: [] }]
          const running = binding.state.turnId
          if (running !== null) {
            const steered = yield* rpc
              .request("turn/steer", { threadId: binding.threadId, input, expectedTurnId: running, clientUserMessageId: messageId }, S.TurnSteerResult)
              .pipe(Effect.either)
            if (Either.isRight(steered)) return yield* host.commit(binding.sessionId, [userMessage(messageId, content)])
            // The turn ended meanwhile (its end not yet translated): start a new one.
          }
          const started = yield* rpc
            .request("turn/start", { threadId: binding.threadId, input, clientUserMessageId: messageId }, S.TurnStartResult)
            .pipe(Effect.mapError(toProtocol))
          const turnId = started.turn.id
          binding.state = { ...T.initial, turnId }
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
            const proc = appServer.current()
            if (pending === undefined || pending.kind !== kind || proc === null || binding.generation !== proc.generation) {
              return yield* Effect.fail(new ProtocolError({ code: "conflict", message: `request ${requestId} is not waiting for an answer` }))
            }
            yield* proc.rpc.respond(pending.rpcId, result(pending)).pipe(Effect.mapError(toProtocol))
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
            const proc = appServer.current()
            if (turnId === null || proc === null || binding.generation !== proc.generation) return Option.none()
            const ended = yield* Deferred.make<void>()
            binding.turnEnded = ended
            yield* proc.rpc
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
          const current = yield* appServer.ensure
          const started = yield* current.rpc
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
          // Never `acceptForSession`: OrbitDock's session rule allows what follows, and can be revoked.
          () => ({ decision: params.approved ? "accept" : "decline" }),
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
            const current = appServer.current()
            if (current !== null && binding.generation === current.generation) {
              yield* current.rpc.request("thread/unsubscribe", { threadId: binding.threadId }, Schema.Unknown).pipe(Effect.ignore)
            }
            bindings.delete(session.id)
            byThread.delete(binding.threadId)
            yield* Queue.shutdown(binding.queue)
          }
          yield* host.commit(session.id, [{ event: { type: "session_ended", reason: "ended_by_user" } }])
          // The last session gone: the app-server is stopped until the next one.
          yield* appServer.stopUnless((generation) => [...bindings.values()].some((b) => b.generation === generation))
        }),
      // The app-server is our child: it dies with the server, so no driven turn survives a restart.
      // A watched session's Codex runs on its own and goes on writing its rollout.
      survivedRestart: (session) => Effect.succeed(session.watch_only === true)
    }
    return connector
  })
