/**
 * The shapes of PROTOCOL.md "Shapes": what a session looks like to a client. Every field name is the
 * wire name. Encoded and decoded forms are identical (times are ISO-8601 strings), so a value of these
 * types can be written to JSON or msgpack as it is.
 */
import { Schema } from "effect"
import { MessageId, RequestId, SessionId } from "./ids.js"

/** The agents OrbitDock drives or watches. */
export const Provider = Schema.Literal("claude", "codex", "sim")
export type Provider = typeof Provider.Type

/** working: a turn is running; waiting: the agent waits for the user. */
export const SessionStatus = Schema.Literal("starting", "working", "waiting", "ended")
export type SessionStatus = typeof SessionStatus.Type

export const ApprovalPolicy = Schema.Literal("untrusted", "on-request", "never")
export type ApprovalPolicy = typeof ApprovalPolicy.Type

export const SandboxMode = Schema.Literal("read-only", "workspace-write", "danger-full-access")
export type SandboxMode = typeof SandboxMode.Type

/** ISO-8601 UTC time, kept as a string end to end. */
export const Timestamp = Schema.String.annotations({ description: "ISO-8601 UTC time" })

const Count = Schema.Number.pipe(Schema.nonNegative())

export const TokenUsage = Schema.Struct({
  input: Count,
  output: Count,
  cached_input: Count,
  total: Count,
  context_window: Schema.optional(Count)
})
export type TokenUsage = typeof TokenUsage.Type

export const PlanStepStatus = Schema.Literal("pending", "in_progress", "completed")
export const PlanStep = Schema.Struct({ step: Schema.String, status: PlanStepStatus })
export type PlanStep = typeof PlanStep.Type

export const MessageRole = Schema.Literal("user", "assistant", "tool", "reasoning", "system")
export type MessageRole = typeof MessageRole.Type

export const ToolStatus = Schema.Literal("running", "ok", "error")
export type ToolStatus = typeof ToolStatus.Type

export const ToolCall = Schema.Struct({
  name: Schema.String,
  input: Schema.optional(Schema.Unknown),
  output: Schema.optional(Schema.String),
  status: Schema.optional(ToolStatus),
  exit_code: Schema.optional(Schema.Number)
})
export type ToolCall = typeof ToolCall.Type

export const Message = Schema.Struct({
  id: MessageId,
  role: MessageRole,
  content: Schema.String,
  created_at: Timestamp,
  tool: Schema.optional(ToolCall),
  streaming: Schema.optional(Schema.Boolean)
})
export type Message = typeof Message.Type

/** What `message_updated` may change: any message field but its id. */
export const MessageChanges = Schema.partial(Message.pipe(Schema.omit("id")))
export type MessageChanges = typeof MessageChanges.Type

export const ApprovalKind = Schema.Literal("exec", "patch", "tool")
export type ApprovalKind = typeof ApprovalKind.Type

/**
 * What a request could do, from its parsed command (or the files it touches): only reads, writes
 * inside the session's project, writes outside it, reaches the network, destroys something (rm,
 * a forced push, a hard reset, code piped into a shell), or acts with more privilege (sudo).
 */
export const RiskClass = Schema.Literal("read_only", "writes_project", "writes_outside", "network", "destructive", "privilege")
export type RiskClass = typeof RiskClass.Type

export const ApprovalRequest = Schema.Struct({
  id: RequestId,
  kind: ApprovalKind,
  created_at: Timestamp,
  command: Schema.optional(Schema.String),
  cwd: Schema.optional(Schema.String),
  diff: Schema.optional(Schema.String),
  tool_name: Schema.optional(Schema.String),
  input: Schema.optional(Schema.Unknown),
  reason: Schema.optional(Schema.String),
  /** Computed by the server when the request is raised (minor 3). */
  risk: Schema.optional(Schema.Array(RiskClass)),
  /**
   * Minor 3: what the server read from it when it was raised: each simple command of its command
   * line with its risk classes, and the files it would write (resolved; `?` when not known).
   */
  analysis: Schema.optional(
    Schema.Struct({
      commands: Schema.Array(Schema.Struct({ text: Schema.String, risk: Schema.Array(RiskClass) })),
      paths: Schema.Array(Schema.String)
    })
  )
})
export type ApprovalRequest = typeof ApprovalRequest.Type

export const Question = Schema.Struct({
  id: RequestId,
  created_at: Timestamp,
  question: Schema.String,
  options: Schema.optional(Schema.Array(Schema.String))
})
export type Question = typeof Question.Type

/**
 * Why a session needs its person: a request to answer (`approval`, `question`), an agent idle after
 * its turn (`turn_finished`), a failed turn or a dead agent (`error`), or a turn that went silent
 * (`stalled`). The first two outrank the others: a request is what the person must act on.
 */
export const AttentionReason = Schema.Literal("approval", "question", "turn_finished", "error", "stalled")
export type AttentionReason = typeof AttentionReason.Type

/**
 * A session's current attention: why, since when, what is asked (one line for people: the command,
 * the files of a patch, the question, the agent's last words), and whether a person saw or snoozed
 * it. Seen and snoozed belong to this attention: the next one starts unseen.
 */
export const AttentionDetail = Schema.Struct({
  reason: AttentionReason,
  since: Timestamp,
  summary: Schema.String,
  /** The request to answer (`approval`, `question`). */
  request_id: Schema.optional(RequestId),
  seen: Schema.Boolean,
  /** Hidden from the inbox and not notified until then. */
  snoozed_until: Schema.optional(Timestamp)
})
export type AttentionDetail = typeof AttentionDetail.Type

const summaryFields = {
  id: SessionId,
  provider: Provider,
  status: SessionStatus,
  title: Schema.optional(Schema.String),
  cwd: Schema.String,
  model: Schema.optional(Schema.String),
  created_at: Timestamp,
  last_activity_at: Timestamp,
  ended_at: Schema.optional(Timestamp),
  message_count: Count,
  /** A request is pending (protocol 1.0's meaning, kept); `attention_detail` says more. */
  attention: Schema.Boolean,
  /** Minor 2: why the session needs its person, or null. Absent from older servers. */
  attention_detail: Schema.optional(Schema.NullOr(AttentionDetail)),
  token_usage: TokenUsage,
  revision: Count,
  /** Codex thread id / Claude session id. */
  external_id: Schema.optional(Schema.String),
  /** Sessions OrbitDock only watches (started in a terminal) refuse driving commands. */
  watch_only: Schema.optional(Schema.Boolean)
}

/** One row of the session list. `external_id` and `watch_only` are OrbitDock additions. */
export const SessionSummary = Schema.Struct(summaryFields)
export type SessionSummary = typeof SessionSummary.Type

/** A whole session as a subscriber mirrors it. */
export const SessionState = Schema.Struct({
  ...summaryFields,
  messages: Schema.Array(Message),
  pending_approval: Schema.NullOr(ApprovalRequest),
  pending_question: Schema.NullOr(Question),
  diff: Schema.optional(Schema.String),
  plan: Schema.optional(Schema.Array(PlanStep))
})
export type SessionState = typeof SessionState.Type

/**
 * The scalar fields a `session_delta` may carry (everything but `messages`). `ended_at: null` removes
 * it (a watched session that its agent resumed after it had ended).
 */
export const SessionChanges = Schema.extend(
  Schema.partial(SessionState.pipe(Schema.omit("messages", "id", "ended_at"))),
  Schema.Struct({ ended_at: Schema.optional(Schema.NullOr(Timestamp)) })
)
export type SessionChanges = typeof SessionChanges.Type
