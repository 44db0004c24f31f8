/**
 * The Effect face of the client: a scoped service whose commands are `Effect`s failing with typed
 * errors, whose server messages are a `Stream`, and whose live mirror is a `SubscriptionRef`.
 * Owns the options and URL rules; the connection work is done by the shared core (internal/core).
 */
import type {
  Ack,
  ApprovalPolicy,
  InboxItem,
  RequestRef,
  RequestResult,
  Provider,
  Rule,
  RuleInput,
  RulesDraft,
  SandboxMode,
  SimulationReport,
  ServerMessage,
  SessionId,
  SessionState
} from "@orbitdock/domain"
import { Inbox, type SessionSummaries } from "@orbitdock/projections"
import { Context, Effect, Layer, Option, PubSub, Stream, SubscriptionRef, type Scope } from "effect"
import * as Backoff from "./Backoff.js"
import type { Encoding } from "./Codec.js"
import { type ClientError, ProtocolError, TimeoutError } from "./Errors.js"
import * as Core from "./internal/core.js"
import type { Listener, Notice } from "./internal/notifier.js"
import type { Mirror } from "./Mirror.js"
import * as Transport from "./Transport.js"

export type { CallOptions, Outgoing } from "./internal/core.js"
export type { Notice } from "./internal/notifier.js"

/** How to reach the server and how to behave. Every field is optional. */
export interface Options {
  /** WebSocket URL; default `ws://127.0.0.1:4000/ws` (a bare `ws://host:port` gets `/ws`). */
  readonly url?: string
  /** Node: the server's Unix socket (no token needed); takes precedence over `url`. */
  readonly socketPath?: string
  /** The server's token (TCP only). */
  readonly token?: string
  /** Where the token goes: a `Authorization` header (Node default) or `?token=` (browsers: always). */
  readonly tokenIn?: "header" | "query"
  /** `json` (default) or `msgpack`. */
  readonly encoding?: Encoding
  /** How to open sockets; default: the registered one (Node entry: `ws`), else the native WebSocket. */
  readonly transport?: Transport.Transport
  /** Default time a command waits for its answer (ms, default 15000). */
  readonly commandTimeoutMs?: number
  /** Time a socket has to open and say `hello` (ms, default 10000); also the first-connect wait. */
  readonly connectTimeoutMs?: number
  /**
   * Pings the server this often (ms, default 10000; 0: never) and drops a connection that sent
   * nothing, no frame and no pong, within as long; it is then redone like any other drop. Needs a
   * transport that can ping (the Node one): a browser cannot, and there a silent connection shows
   * only as commands timing out.
   */
  readonly heartbeatMs?: number
  /** Queue commands issued while offline and send them once connected (default false: fail). */
  readonly queueWhileOffline?: boolean
  /** Reconnect delays, or `false` to stay closed after the first drop. */
  readonly reconnect?: Partial<Backoff.BackoffOptions> | false
  /** Wait for the first connection before returning (default true). */
  readonly waitForConnection?: boolean
}

/** The fields of `create_session`. */
export interface CreateSessionParams {
  readonly provider: Provider
  readonly cwd: string
  readonly model?: string
  readonly prompt?: string
  readonly approval_policy?: ApprovalPolicy
  readonly sandbox?: SandboxMode
}

export interface OrbitClientShape {
  /** The live mirror (list, subscribed sessions, connection). */
  readonly mirror: SubscriptionRef.SubscriptionRef<Mirror>
  /** The mirror now and after every change. */
  readonly changes: Stream.Stream<Mirror>
  /** Every server message, in order, from the moment the stream is run. */
  readonly messages: Stream.Stream<ServerMessage>
  /** Like `messages`, but subscribed now: nothing published after this effect is missed. */
  readonly subscribeMessages: Effect.Effect<Stream.Stream<ServerMessage>, never, Scope.Scope>
  /** One session's state now and after every change to it (`undefined` while it is not mirrored). */
  readonly sessionChanges: (sessionId: string) => Stream.Stream<SessionState | undefined>
  /** Gaps, restarts, drops and other events that are not server messages. */
  readonly notices: Stream.Stream<Notice>
  /** The mirror now (synchronous). */
  readonly current: () => Mirror
  /** A subscribed session's current state. */
  readonly session: (sessionId: string) => Option.Option<SessionState>
  /** Waits until the mirror satisfies `predicate` (default timeout: the command timeout). */
  readonly waitFor: (predicate: (mirror: Mirror) => boolean, timeoutMs?: number) => Effect.Effect<Mirror, TimeoutError>
  /** Waits for a working connection. */
  readonly awaitOnline: (timeoutMs?: number) => Effect.Effect<void, ClientError>

  /** Subscribes the list (kept across reconnects); the list once received. */
  readonly subscribeList: (call?: Core.CallOptions) => Effect.Effect<SessionSummaries.SessionList, ClientError>
  readonly unsubscribeList: (call?: Core.CallOptions) => Effect.Effect<void, ClientError>
  /** Subscribes a session (kept across reconnects); its state once synced. */
  readonly subscribeSession: (sessionId: string, call?: Core.CallOptions) => Effect.Effect<SessionState, ClientError>
  readonly unsubscribeSession: (sessionId: string, call?: Core.CallOptions) => Effect.Effect<void, ClientError>
  /** Subscribes the inbox (kept across reconnects); its entries, longest waiting first, once received. */
  readonly subscribeInbox: (call?: Core.CallOptions) => Effect.Effect<ReadonlyArray<InboxItem>, ClientError>
  readonly unsubscribeInbox: (call?: Core.CallOptions) => Effect.Effect<void, ClientError>
  /**
   * Marks a session's attention seen and/or snoozed until a time (`null`: awake again), for every
   * device. `since` names the attention meant (a replaced one is a `conflict`).
   */
  readonly markAttention: (
    sessionId: string,
    mark: { readonly seen?: boolean; readonly snoozed_until?: string | null; readonly since?: string },
    call?: Core.CallOptions
  ) => Effect.Effect<void, ClientError>
  /** Approves or denies several pending approvals at once; how each went, in order. */
  readonly approveRequests: (
    requests: ReadonlyArray<{ readonly session_id: string; readonly request_id: string }>,
    approved: boolean,
    call?: Core.CallOptions & { readonly scope?: "once" | "session" }
  ) => Effect.Effect<ReadonlyArray<RequestResult>, ClientError>
  /** The approval rules in force (or at a past time, ISO). */
  readonly listRules: (at?: string, call?: Core.CallOptions) => Effect.Effect<ReadonlyArray<Rule>, ClientError>
  /** Adds an approval rule; the rule as the server recorded it. */
  readonly addRule: (rule: RuleInput, call?: Core.CallOptions) => Effect.Effect<Rule, ClientError>
  /** Removes an approval rule; the rule removed. */
  readonly removeRule: (ruleId: string, call?: Core.CallOptions) => Effect.Effect<Rule, ClientError>
  /** Judges every past request by a draft (a whole set, or changes to the rules in force). */
  readonly simulateRules: (draft: RulesDraft, call?: Core.CallOptions) => Effect.Effect<SimulationReport, ClientError>

  /** Starts a session; its id. */
  readonly createSession: (params: CreateSessionParams, call?: Core.CallOptions) => Effect.Effect<SessionId, ClientError>
  readonly sendMessage: (sessionId: string, content: string, call?: Core.CallOptions) => Effect.Effect<void, ClientError>
  readonly approveTool: (
    sessionId: string,
    requestId: string,
    approved: boolean,
    call?: Core.CallOptions & { readonly scope?: "once" | "session" }
  ) => Effect.Effect<void, ClientError>
  readonly answerQuestion: (sessionId: string, requestId: string, answer: string, call?: Core.CallOptions) => Effect.Effect<void, ClientError>
  readonly interruptSession: (sessionId: string, call?: Core.CallOptions) => Effect.Effect<void, ClientError>
  readonly endSession: (sessionId: string, call?: Core.CallOptions) => Effect.Effect<void, ClientError>
  /** Any client message (an `id` is added); its `ack`. */
  readonly send: (message: Core.Outgoing, call?: Core.CallOptions) => Effect.Effect<Ack, ClientError>

  /** Synchronous listeners; each returns a function that removes it. */
  readonly onChange: (listener: Listener<Mirror>) => () => void
  readonly onMessages: (listener: Listener<ReadonlyArray<ServerMessage>>) => () => void
  readonly onNotice: (listener: Listener<Notice>) => () => void
}

export class OrbitClient extends Context.Tag("@orbitdock/client-sdk/OrbitClient")<OrbitClient, OrbitClientShape>() {}

const DEFAULT_URL = "ws://127.0.0.1:4000/ws"

/** The rule an `add_rule` / `remove_rule` ack carries. */
const ruleOf = (ack: Ack, operation: string): Effect.Effect<Rule, ProtocolError> =>
  ack.rule === undefined ? Effect.fail(new ProtocolError({ code: "internal", message: `${operation} was acked without its rule` })) : Effect.succeed(ack.rule)

/** The URL and headers a connection uses (exported for tests and custom transports). */
export const endpoint = (options: Options, transport: Transport.Transport): { url: string; headers: Record<string, string> } => {
  if (options.socketPath !== undefined) {
    if (!transport.supportsUnixSockets) throw new Error(`transport "${transport.name}" cannot open Unix sockets`)
    return { url: `ws+unix://${options.socketPath}:/ws`, headers: {} }
  }
  const url = new URL(options.url ?? DEFAULT_URL)
  if (url.pathname === "/" || url.pathname === "") url.pathname = "/ws"
  const headers: Record<string, string> = {}
  if (options.token !== undefined) {
    const inHeader = (options.tokenIn ?? "header") === "header" && transport.supportsHeaders
    if (inHeader) headers.authorization = `Bearer ${options.token}`
    else url.searchParams.set("token", options.token)
  }
  return { url: url.toString(), headers }
}

/** Connects (waiting for the first `hello` unless told not to); the connection lives as long as the scope. */
export const make = (options: Options = {}): Effect.Effect<OrbitClientShape, ClientError, Scope.Scope> =>
  Effect.gen(function* () {
    const transport = Transport.resolve(options.transport)
    const { url, headers } = yield* Effect.try({
      try: () => endpoint(options, transport),
      catch: (cause) => cause
    }).pipe(Effect.orDie)
    const commandTimeoutMs = options.commandTimeoutMs ?? 15_000
    const connectTimeoutMs = options.connectTimeoutMs ?? 10_000
    const core = yield* Core.make({
      url,
      headers,
      transport,
      encoding: options.encoding ?? "json",
      commandTimeoutMs,
      connectTimeoutMs,
      heartbeatMs: options.heartbeatMs ?? 10_000,
      queueWhileOffline: options.queueWhileOffline ?? false,
      reconnect: options.reconnect === false ? false : { ...Backoff.defaults, ...options.reconnect }
    })
    if (options.waitForConnection ?? true) yield* core.awaitOnline(connectTimeoutMs)

    const asSession = (id: string) => id as SessionId
    const done = (effect: Effect.Effect<Ack, ClientError>) => Effect.asVoid(effect)

    const waitFor = (predicate: (mirror: Mirror) => boolean, timeoutMs = commandTimeoutMs) =>
      core.mirrorRef.changes.pipe(
        Stream.filter(predicate),
        Stream.runHead,
        Effect.flatMap(Effect.orDie),
        Effect.timeoutFail({
          duration: timeoutMs,
          onTimeout: () => new TimeoutError({ operation: "waitFor", timeoutMs, sent: false })
        })
      )

    return OrbitClient.of({
      mirror: core.mirrorRef,
      changes: core.mirrorRef.changes,
      messages: Stream.fromPubSub(core.messages),
      // Session states are immutable values: a new reference is a change.
      sessionChanges: (sessionId) =>
        core.mirrorRef.changes.pipe(
          Stream.map((m) => m.sessions.get(asSession(sessionId))),
          Stream.changesWith((a, b) => a === b)
        ),
      subscribeMessages: Effect.map(PubSub.subscribe(core.messages), (queue) => Stream.fromQueue(queue)),
      notices: Stream.async<Notice>((emit) => {
        const off = core.notifier.onNotice((notice) => void emit.single(notice))
        return Effect.sync(off)
      }),
      current: core.current,
      session: (sessionId) => Option.fromNullable(core.current().sessions.get(asSession(sessionId))),
      waitFor,
      awaitOnline: (timeoutMs = connectTimeoutMs) => core.awaitOnline(timeoutMs),
      subscribeList: core.subscribeList,
      unsubscribeList: core.unsubscribeList,
      subscribeSession: (sessionId, call) => core.subscribeSession(asSession(sessionId), call),
      unsubscribeSession: (sessionId, call) => core.unsubscribeSession(asSession(sessionId), call),
      subscribeInbox: (call) => Effect.map(core.subscribeInbox(call), Inbox.ordered),
      unsubscribeInbox: core.unsubscribeInbox,
      markAttention: (sessionId, mark, call) =>
        done(core.request({ type: "mark_attention", session_id: asSession(sessionId), ...mark }, call)),
      approveRequests: (requests, approved, call) =>
        core
          .request(
            {
              type: "approve_requests",
              requests: requests as ReadonlyArray<RequestRef>,
              approved,
              ...(call?.scope === undefined ? {} : { scope: call.scope })
            },
            call
          )
          .pipe(Effect.map((ack) => ack.results ?? [])),
      listRules: (at, call) =>
        core.request({ type: "list_rules", ...(at === undefined ? {} : { at }) }, call).pipe(Effect.map((ack) => ack.rules ?? [])),
      addRule: (rule, call) => core.request({ type: "add_rule", rule }, call).pipe(Effect.flatMap((ack) => ruleOf(ack, "add_rule"))),
      removeRule: (ruleId, call) =>
        core.request({ type: "remove_rule", rule_id: ruleId }, call).pipe(Effect.flatMap((ack) => ruleOf(ack, "remove_rule"))),
      simulateRules: (draft, call) =>
        core.request({ type: "simulate_rules", ...draft }, call).pipe(
          Effect.flatMap((ack) =>
            ack.report === undefined ? Effect.fail(new ProtocolError({ code: "internal", message: "simulate_rules was acked without a report" })) : Effect.succeed(ack.report)
          )
        ),
      createSession: (params, call) =>
        core.request({ type: "create_session", ...params }, call).pipe(
          Effect.map((ack) => ack.session_id as SessionId)
        ),
      sendMessage: (sessionId, content, call) =>
        done(core.request({ type: "send_message", session_id: asSession(sessionId), content }, call)),
      approveTool: (sessionId, requestId, approved, call) =>
        done(
          core.request(
            {
              type: "approve_tool",
              session_id: asSession(sessionId),
              request_id: requestId as never,
              approved,
              ...(call?.scope === undefined ? {} : { scope: call.scope })
            },
            call
          )
        ),
      answerQuestion: (sessionId, requestId, answer, call) =>
        done(core.request({ type: "answer_question", session_id: asSession(sessionId), request_id: requestId as never, answer }, call)),
      interruptSession: (sessionId, call) =>
        done(core.request({ type: "interrupt_session", session_id: asSession(sessionId) }, call)),
      endSession: (sessionId, call) => done(core.request({ type: "end_session", session_id: asSession(sessionId) }, call)),
      send: core.request,
      onChange: (listener) => core.notifier.onChange(listener),
      onMessages: (listener) => core.notifier.onMessages(listener),
      onNotice: (listener) => core.notifier.onNotice(listener)
    })
  })

/** The client as a layer (the connection closes when the layer's scope does). */
export const layer = (options: Options = {}): Layer.Layer<OrbitClient, ClientError> => Layer.scoped(OrbitClient, make(options))
