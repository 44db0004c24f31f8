/**
 * effect/Schema definitions of the `codex app-server` JSON-RPC messages OrbitDock uses, as the
 * 0.171.0 binary speaks them (see the recorded transcripts in test/fixtures/codex). Owns only shapes:
 * the frame (request / response / notification told apart by shape), the notifications and server
 * requests we translate, and the results of our own requests. Unknown fields are ignored; nullable
 * fields decode to `undefined` so translation code handles one "absent" case.
 */
import { Schema } from "effect"

const nullable = <S extends Schema.Schema.All>(schema: S) => Schema.optionalWith(schema, { nullable: true })

/** JSON-RPC ids: ours are integers; the server's requests use their own integer sequence from 0. */
export const RpcId = Schema.Union(Schema.Number, Schema.String)
export type RpcId = typeof RpcId.Type

export const RpcError = Schema.Struct({
  code: Schema.Number,
  message: Schema.String,
  data: Schema.optional(Schema.Unknown)
})
export type RpcError = typeof RpcError.Type

/** A line from the server, classified by its shape (`method`+`id`, `id` only, `method` only). */
export const ServerRequestFrame = Schema.Struct({ id: RpcId, method: Schema.String, params: Schema.optional(Schema.Unknown) })
export const ResponseFrame = Schema.Struct({
  id: RpcId,
  result: Schema.optional(Schema.Unknown),
  error: Schema.optional(RpcError)
})
export const NotificationFrame = Schema.Struct({
  method: Schema.String,
  params: Schema.optional(Schema.Unknown),
  /** (observed) Epoch ms next to `params` on every notification. */
  emittedAtMs: Schema.optional(Schema.Number)
})
export type ServerRequestFrame = typeof ServerRequestFrame.Type
export type ResponseFrame = typeof ResponseFrame.Type
export type NotificationFrame = typeof NotificationFrame.Type

export type Frame =
  | { readonly kind: "request"; readonly frame: ServerRequestFrame }
  | { readonly kind: "response"; readonly frame: ResponseFrame }
  | { readonly kind: "notification"; readonly frame: NotificationFrame }

// ---------------------------------------------------------------------------------------------
// Items

const itemTimes = {
  startedAtMs: nullable(Schema.Number),
  completedAtMs: nullable(Schema.Number)
}

export const UserInput = Schema.Struct({ type: Schema.String, text: Schema.optional(Schema.String) })

export const UserMessageItem = Schema.Struct({
  type: Schema.Literal("userMessage"),
  id: Schema.String,
  clientId: nullable(Schema.String),
  content: Schema.Array(UserInput),
  ...itemTimes
})
export const AgentMessageItem = Schema.Struct({
  type: Schema.Literal("agentMessage"),
  id: Schema.String,
  text: Schema.String,
  ...itemTimes
})
export const ReasoningItem = Schema.Struct({
  type: Schema.Literal("reasoning"),
  id: Schema.String,
  summary: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
  content: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
  ...itemTimes
})
export const CommandExecutionItem = Schema.Struct({
  type: Schema.Literal("commandExecution"),
  id: Schema.String,
  /** Already wrapped, e.g. `/bin/bash -lc '…'`. */
  command: Schema.String,
  cwd: nullable(Schema.String),
  status: Schema.String,
  aggregatedOutput: nullable(Schema.String),
  exitCode: nullable(Schema.Number),
  ...itemTimes
})
export const FileChangeKind = Schema.Struct({ type: Schema.String, move_path: nullable(Schema.String) })
export const FileUpdateChange = Schema.Struct({
  path: Schema.String,
  kind: FileChangeKind,
  /** For an added file: the new content; for an update: a unified diff. */
  diff: Schema.optionalWith(Schema.String, { default: () => "" })
})
export type FileUpdateChange = typeof FileUpdateChange.Type
export const FileChangeItem = Schema.Struct({
  type: Schema.Literal("fileChange"),
  id: Schema.String,
  changes: Schema.Array(FileUpdateChange),
  status: Schema.String,
  ...itemTimes
})
export const McpToolCallItem = Schema.Struct({
  type: Schema.Literal("mcpToolCall"),
  id: Schema.String,
  server: Schema.String,
  tool: Schema.String,
  arguments: Schema.optional(Schema.Unknown),
  status: Schema.String,
  result: Schema.optional(Schema.Unknown),
  error: Schema.optional(Schema.Unknown),
  ...itemTimes
})
export const PlanItem = Schema.Struct({ type: Schema.Literal("plan"), id: Schema.String, text: Schema.String, ...itemTimes })
/** Any other item (web search, sub-agents, compaction, …): kept by id and type only. */
export const OtherItem = Schema.Struct({ type: Schema.String, id: Schema.String, ...itemTimes })

export const ThreadItem = Schema.Union(
  UserMessageItem,
  AgentMessageItem,
  ReasoningItem,
  CommandExecutionItem,
  FileChangeItem,
  McpToolCallItem,
  PlanItem,
  OtherItem
)
export type ThreadItem = typeof ThreadItem.Type

// ---------------------------------------------------------------------------------------------
// Turns, usage, errors

export const TurnError = Schema.Struct({
  message: Schema.String,
  codexErrorInfo: Schema.optional(Schema.Unknown),
  additionalDetails: Schema.optional(Schema.Unknown)
})
export type TurnError = typeof TurnError.Type

export const TurnStatus = Schema.Literal("inProgress", "completed", "interrupted", "failed")
export const Turn = Schema.Struct({ id: Schema.String, status: TurnStatus, error: nullable(TurnError) })

export const TokenBreakdown = Schema.Struct({
  totalTokens: Schema.Number,
  inputTokens: Schema.Number,
  cachedInputTokens: Schema.Number,
  outputTokens: Schema.Number
})
export const ThreadTokenUsage = Schema.Struct({
  total: TokenBreakdown,
  last: Schema.optional(TokenBreakdown),
  modelContextWindow: nullable(Schema.Number)
})

export const PlanStepStatus = Schema.Literal("pending", "inProgress", "completed")

// ---------------------------------------------------------------------------------------------
// Notifications (server → client, no id)

const notification = <const M extends string, F extends Schema.Struct.Fields>(method: M, fields: F) =>
  Schema.Struct({
    method: Schema.Literal(method),
    params: Schema.Struct(fields),
    emittedAtMs: Schema.optional(Schema.Number)
  })

const inTurn = { threadId: Schema.String, turnId: Schema.String }
const itemDelta = { ...inTurn, itemId: Schema.String, delta: Schema.String }

export const TurnStarted = notification("turn/started", { threadId: Schema.String, turn: Turn })
export const TurnCompleted = notification("turn/completed", { threadId: Schema.String, turn: Turn })
export const ItemStarted = notification("item/started", { ...inTurn, item: ThreadItem })
export const ItemCompleted = notification("item/completed", { ...inTurn, item: ThreadItem })
export const AgentMessageDelta = notification("item/agentMessage/delta", itemDelta)
export const ReasoningSummaryTextDelta = notification("item/reasoning/summaryTextDelta", {
  ...itemDelta,
  summaryIndex: Schema.optionalWith(Schema.Number, { default: () => 0 })
})
export const ReasoningSummaryPartAdded = notification("item/reasoning/summaryPartAdded", {
  ...inTurn,
  itemId: Schema.String,
  summaryIndex: Schema.optionalWith(Schema.Number, { default: () => 0 })
})
export const ReasoningTextDelta = notification("item/reasoning/textDelta", itemDelta)
export const CommandOutputDelta = notification("item/commandExecution/outputDelta", itemDelta)
export const TokenUsageUpdated = notification("thread/tokenUsage/updated", {
  threadId: Schema.String,
  turnId: nullable(Schema.String),
  tokenUsage: ThreadTokenUsage
})
export const TurnDiffUpdated = notification("turn/diff/updated", { ...inTurn, diff: Schema.String })
export const TurnPlanUpdated = notification("turn/plan/updated", {
  threadId: Schema.String,
  turnId: nullable(Schema.String),
  explanation: nullable(Schema.String),
  plan: Schema.Array(Schema.Struct({ step: Schema.String, status: PlanStepStatus }))
})
export const ErrorNotification = notification("error", {
  threadId: Schema.String,
  turnId: nullable(Schema.String),
  error: TurnError,
  willRetry: Schema.optionalWith(Schema.Boolean, { default: () => false })
})
export const ServerRequestResolved = notification("serverRequest/resolved", { threadId: Schema.String, requestId: RpcId })

export const Notification = Schema.Union(
  TurnStarted,
  TurnCompleted,
  ItemStarted,
  ItemCompleted,
  AgentMessageDelta,
  ReasoningSummaryTextDelta,
  ReasoningSummaryPartAdded,
  ReasoningTextDelta,
  CommandOutputDelta,
  TokenUsageUpdated,
  TurnDiffUpdated,
  TurnPlanUpdated,
  ErrorNotification,
  ServerRequestResolved
)
export type Notification = typeof Notification.Type
export type NotificationMethod = Notification["method"]

/** The notification methods we translate; any other is logged and ignored. */
export const notificationMethods: ReadonlySet<string> = new Set(
  Notification.members.map((member) => member.fields.method.literals[0])
)

// ---------------------------------------------------------------------------------------------
// Requests from the server (approvals and questions)

const serverRequest = <const M extends string, F extends Schema.Struct.Fields>(method: M, fields: F) =>
  Schema.Struct({ id: RpcId, method: Schema.Literal(method), params: Schema.Struct(fields) })

export const CommandApprovalRequest = serverRequest("item/commandExecution/requestApproval", {
  ...inTurn,
  itemId: Schema.String,
  approvalId: nullable(Schema.String),
  command: nullable(Schema.String),
  cwd: nullable(Schema.String),
  reason: nullable(Schema.String),
  startedAtMs: nullable(Schema.Number)
})
export const FileChangeApprovalRequest = serverRequest("item/fileChange/requestApproval", {
  ...inTurn,
  itemId: Schema.String,
  reason: nullable(Schema.String),
  startedAtMs: nullable(Schema.Number)
})
export const UserInputQuestion = Schema.Struct({
  id: Schema.String,
  header: nullable(Schema.String),
  question: Schema.String,
  options: nullable(Schema.Array(Schema.Struct({ label: Schema.String, description: nullable(Schema.String) })))
})
export const UserInputRequest = serverRequest("item/tool/requestUserInput", {
  ...inTurn,
  itemId: Schema.String,
  questions: Schema.Array(UserInputQuestion),
  startedAtMs: nullable(Schema.Number)
})

export const ServerRequest = Schema.Union(CommandApprovalRequest, FileChangeApprovalRequest, UserInputRequest)
export type ServerRequest = typeof ServerRequest.Type

export const serverRequestMethods: ReadonlySet<string> = new Set(
  ServerRequest.members.map((member) => member.fields.method.literals[0])
)

/** Decisions we send back: `{decision}` for approvals, `{answers}` for questions. */
export type ApprovalDecision = "accept" | "acceptForSession" | "decline" | "cancel"

// ---------------------------------------------------------------------------------------------
// Results of our requests

export const InitializeResult = Schema.Struct({ userAgent: Schema.optional(Schema.String), codexHome: Schema.optional(Schema.String) })
export const ThreadInfo = Schema.Struct({ id: Schema.String, path: nullable(Schema.String), cwd: nullable(Schema.String) })
export const ThreadStartResult = Schema.Struct({ thread: ThreadInfo, model: nullable(Schema.String) })
export type ThreadStartResult = typeof ThreadStartResult.Type
export const TurnStartResult = Schema.Struct({ turn: Schema.Struct({ id: Schema.String }) })
export const TurnSteerResult = Schema.Struct({ turnId: Schema.String })
