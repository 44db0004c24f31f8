/**
 * The connector interface: how an agent (sim, Codex, Claude Code, …) plugs into OrbitDock without
 * touching actors or the log. A connector turns what its agent does into domain events (through the
 * `ConnectorHost`) and carries the user's decisions back to the agent.
 *
 * Validation that needs only the session's state (ended session, watch-only session, unknown or
 * already-resolved request id) is done before a connector is called; the connector checks what only
 * it knows (e.g. "a turn is already running" for agents that cannot queue).
 */
import type {
  ApprovalPolicy,
  ApprovalRequest,
  DomainEvent,
  ProtocolError,
  Provider,
  RequestId,
  SandboxMode,
  SessionId,
  SessionState
} from "@orbitdock/domain"
import { Context, type Effect, type Option, type Scope } from "effect"
import type { Checkpoint, EventLogError } from "../eventlog/EventLog.js"
import type { Principal } from "../http/Access.js"
import type { Screened } from "../rules/Rules.js"

/** An event as a connector reports it; the actor assigns revision and (by default) time. */
export interface EventInput {
  readonly event: DomainEvent
  /** Stable id at the source (codex item id + kind, claude record uuid, hook id); a repeat is dropped. */
  readonly source_key?: string
  /** When it happened at the source (e.g. a transcript timestamp); defaults to now. */
  readonly occurred_at?: string
}

/** What an emit gives back: events are queued at once; these wait for the actor and the disk. */
export interface Receipt {
  /** Once folded and published (subscribers have them): the revisions of those not dropped as duplicates. */
  readonly folded: Effect.Effect<ReadonlyArray<number>, ProtocolError>
  /** Once those events (and the checkpoints) are committed; implies `folded`. */
  readonly durable: Effect.Effect<void, EventLogError>
}

export interface EmitOptions {
  /** Checkpoints committed in the same transaction as the events. */
  readonly checkpoints?: ReadonlyArray<Checkpoint>
  /** Someone waits for durability (a command): flush at once. */
  readonly urgent?: boolean
}

/** What the server offers connectors. */
export interface ConnectorHost {
  /**
   * Hands events to a session's actor. If the session does not exist, the first event must be
   * `session_created` and creates it. Returns once they are queued in the actor's mailbox: at once,
   * unless the mailbox is full (then it waits: backpressure). Emits of one fiber are folded in
   * order; `state` sees everything emitted before it.
   */
  readonly emit: (
    sessionId: SessionId,
    events: ReadonlyArray<EventInput>,
    options?: EmitOptions
  ) => Effect.Effect<Receipt, ProtocolError>
  /**
   * `emit`, then wait until durable: for when the events must be on disk before the connector goes
   * on (e.g. before it tells the agent, or answers a hook). A command needs no `commit` for its
   * ack: it is acked once everything its fiber emitted is durable (`CommandEmits.ts`), and those
   * emits commit ahead of other sessions' backlogs.
   */
  readonly commit: (
    sessionId: SessionId,
    events: ReadonlyArray<EventInput>,
    options?: EmitOptions
  ) => Effect.Effect<Receipt, ProtocolError>
  /**
   * A session's state after everything emitted to it so far is folded, if it exists. Its
   * `messages` are the recent ones only (at least the last `KEEP_MESSAGES` = 128; the older ones
   * are paged out to the log): what a connector looks up (tool calls, streaming messages) is there.
   */
  readonly state: (sessionId: SessionId) => Effect.Effect<Option.Option<SessionState>>
  /** A committed checkpoint value. */
  readonly checkpoint: (key: string) => Effect.Effect<Option.Option<string>>
  /** A fresh id for a message or request (unique within the server's lifetime and across restarts). */
  readonly newId: (prefix: string) => string
  /** The current time as OrbitDock stamps events. */
  readonly now: () => string
  /**
   * Before an approval is raised: the request with its risk classes, and what the approval rules
   * decided (null: ask the person). A decided request is recorded as `approval_requested` followed,
   * in the same emit, by `approval_resolved` with `decided_by` (`ruledResolution`), and its answer
   * goes to the agent at once: it never waits for anyone.
   */
  readonly screenApproval: (sessionId: SessionId, request: ApprovalRequest) => Effect.Effect<Screened>
}

/** The events of a request the rules decided: asked and answered in one step. */
export const ruledEvents = (
  screened: Screened & { readonly decision: NonNullable<Screened["decision"]> },
  keys: { readonly requested?: string; readonly resolved?: string } = {}
): ReadonlyArray<EventInput> => [
  { event: { type: "approval_requested", request: screened.request }, ...(keys.requested === undefined ? {} : { source_key: keys.requested }) },
  {
    event: {
      type: "approval_resolved",
      request_id: screened.request.id,
      outcome: screened.decision.approved ? "approved" : "denied",
      scope: "once",
      decided_by: screened.decision.decided_by
    },
    ...(keys.resolved === undefined ? {} : { source_key: keys.resolved })
  }
]

export interface CreateParams {
  readonly cwd: string
  readonly model?: string | undefined
  readonly prompt?: string | undefined
  readonly approval_policy: ApprovalPolicy
  readonly sandbox?: SandboxMode | undefined
}

export interface ApproveParams {
  readonly request_id: RequestId
  readonly approved: boolean
  /**
   * What the person chose, as recorded. The agent is only ever told "once": a session's later
   * requests like this one are allowed by the session rule the approval added (`Rules`).
   */
  readonly scope: "once" | "session"
}

/**
 * One agent integration. Its command methods run one at a time per session; the command is acked
 * once they return and everything they emitted is durable.
 */
export interface Connector {
  readonly provider: Provider
  /**
   * Starts a new agent session with this id: emits `session_created` (and, with a prompt, the first
   * turn's start) and commits it.
   */
  readonly create: (sessionId: SessionId, params: CreateParams) => Effect.Effect<void, ProtocolError>
  readonly sendMessage: (session: SessionState, content: string) => Effect.Effect<void, ProtocolError>
  readonly approve: (session: SessionState, params: ApproveParams) => Effect.Effect<void, ProtocolError>
  readonly answer: (session: SessionState, requestId: RequestId, answer: string) => Effect.Effect<void, ProtocolError>
  /** Stops the running turn; on an idle session does nothing. */
  readonly interrupt: (session: SessionState) => Effect.Effect<void, ProtocolError>
  /** Stops the agent and emits `session_ended`. */
  readonly end: (session: SessionState) => Effect.Effect<void, ProtocolError>
  /**
   * At startup, for a session of this provider that was `working` when the server stopped: whether
   * its agent is still alive (a terminal Claude session may be) or was lost with the old process.
   */
  readonly survivedRestart: (session: SessionState) => Effect.Effect<boolean>
  /**
   * Optional. At startup, once the interrupted turns are closed, for each of this provider's
   * sessions that has not ended: takes up watching what the connector watches about it (the Claude
   * connector: the process a terminal session runs in, which may have died while the server was down).
   * `attention`: the session has a pending request (whose asker may not have survived the restart).
   */
  readonly resumeWatching?: (sessionId: SessionId, attention: boolean) => Effect.Effect<void>
  /** HTTP endpoints the connector serves (e.g. Claude's `POST /hook`), after the access checks. */
  readonly routes?: ReadonlyArray<ConnectorRoute>
}

/** An HTTP request as a connector route sees it: the body already read (≤ 1 MiB) and JSON-parsed. */
export interface RouteRequest {
  readonly body: unknown
  readonly headers: Readonly<Record<string, string | undefined>>
  /** Whether it came through the Unix socket or TCP (with a valid token). */
  readonly via: "unix" | "tcp"
  /** Who it speaks for (the Unix socket: the owner); null on a `tokenFree` route, where nobody was identified. */
  readonly principal: Principal | null
  /** For a `/*` route: the path after its prefix (URL-decoded). */
  readonly pathRest?: string
  /** The query string's parameters. */
  readonly query?: URLSearchParams
}

export interface RouteResponse {
  readonly status: number
  readonly body: unknown
}

export interface ConnectorRoute {
  readonly method: "GET" | "POST" | "DELETE"
  /** The exact path; ending with `/*`: every path under it (`RouteRequest.pathRest` is the rest). */
  readonly path: string
  /** The route checks its callers itself (e.g. a signed ticket): no token is asked of them. */
  readonly tokenFree?: boolean
  /** Interrupted when the client's connection closes before the answer (the client stopped waiting). */
  readonly handle: (request: RouteRequest) => Effect.Effect<RouteResponse>
}

/** The connectors the server was started with, by provider. */
export class Connectors extends Context.Tag("@orbitdock/server/Connectors")<
  Connectors,
  ReadonlyMap<Provider, Connector>
>() {}

/** Builds a connector once the host exists (connectors and the registry depend on each other). */
export type ConnectorFactory = (host: ConnectorHost) => Effect.Effect<Connector, never, Scope.Scope>

/** The default approval policy: ask before anything that changes the machine. */
export const DEFAULT_APPROVAL_POLICY: ApprovalPolicy = "untrusted"
