/**
 * Pure translation of one Codex thread's app-server traffic into OrbitDock domain events. Owns the
 * per-thread bookkeeping that translation needs (the running turn, items still open, file changes
 * awaiting approval, pending server requests) as plain immutable data; no Effect, clock or I/O:
 * time arrives on the notification (`emittedAtMs`, `startedAtMs`) or as the `now` argument.
 *
 * Every event carries a source key derived from thread/turn/item ids, so a re-delivered or replayed
 * notification is dropped by the session actor instead of duplicating a message. Message ids are the
 * Codex item ids (a user message we sent carries our own id as its `clientId`).
 */
import type { ApprovalRequest, DomainEvent, MessageId, RequestId, ToolCall } from "@orbitdock/domain"
import type { EventInput } from "../Connector.js"
import { type ItemKind, itemMessage, renderChanges } from "./CodexItems.js"
import type { FileUpdateChange, Notification, RpcId, ServerRequest, ThreadItem } from "./CodexSchemas.js"

export { renderChanges }


/** An item that started and has not completed: what is needed to update or close its message. */
export interface OpenItem {
  readonly kind: ItemKind
  readonly content: string
  readonly deltas: number
  readonly tool?: ToolCall
}

/** A server request shown to the user and not answered yet. */
export interface PendingRequest {
  readonly rpcId: RpcId
  readonly kind: "approval" | "question"
  /** For questions: the ids Codex expects in `answers`. */
  readonly questionIds: ReadonlyArray<string>
}

export interface ThreadState {
  readonly turnId: string | null
  readonly items: Readonly<Record<string, OpenItem>>
  /** `fileChange` items by id, so a patch approval can show its diff (the request carries none). */
  readonly fileChanges: Readonly<Record<string, ReadonlyArray<FileUpdateChange>>>
  readonly pending: Readonly<Record<string, PendingRequest>>
  /** Errors already shown as messages in the running turn. */
  readonly errors: number
  readonly lastDiff: string | null
}

export const initial: ThreadState = { turnId: null, items: {}, fileChanges: {}, pending: {}, errors: 0, lastDiff: null }

export interface Translation {
  readonly state: ThreadState
  readonly events: ReadonlyArray<EventInput>
}

const iso = (ms: number | undefined, now: string): string => (ms === undefined ? now : new Date(ms).toISOString())

const input = (event: DomainEvent, source_key: string | undefined, occurred_at: string): EventInput =>
  source_key === undefined ? { event, occurred_at } : { event, source_key, occurred_at }

const messageIdOf = (item: ThreadItem): string =>
  item.type === "userMessage" ? ((item as Extract<ThreadItem, { type: "userMessage" }>).clientId ?? item.id) : item.id

/** The source key of a message's append; a command that appends a user message uses the same. */
export const appendKey = (messageId: string): string => `msg:${messageId}:appended`

const without = <V>(record: Readonly<Record<string, V>>, key: string): Readonly<Record<string, V>> => {
  const { [key]: _removed, ...rest } = record
  return rest
}

const itemStarted = (state: ThreadState, item: ThreadItem, at: string): Translation => {
  const shown = itemMessage(item)
  const fileChanges = item.type === "fileChange"
    ? { ...state.fileChanges, [item.id]: (item as Extract<ThreadItem, { type: "fileChange" }>).changes }
    : state.fileChanges
  if (shown === null) return { state: { ...state, fileChanges }, events: [] }
  const id = messageIdOf(item)
  const streaming = shown.kind === "agentMessage" || shown.kind === "reasoning"
  const created = iso(item.startedAtMs, at)
  const event: DomainEvent = {
    type: "message_appended",
    message: {
      id: id as MessageId,
      role: shown.role,
      content: shown.content,
      created_at: created,
      ...(shown.tool === undefined ? {} : { tool: shown.tool }),
      ...(streaming ? { streaming: true } : {})
    }
  }
  const items = { ...state.items, [item.id]: { kind: shown.kind, content: shown.content, deltas: 0, ...(shown.tool === undefined ? {} : { tool: shown.tool }) } }
  return { state: { ...state, items, fileChanges }, events: [input(event, appendKey(id), at)] }
}

const itemCompleted = (state: ThreadState, item: ThreadItem, at: string): Translation => {
  const shown = itemMessage(item)
  const fileChanges = item.type === "fileChange"
    ? { ...state.fileChanges, [item.id]: (item as Extract<ThreadItem, { type: "fileChange" }>).changes }
    : state.fileChanges
  if (shown === null) return { state: { ...state, fileChanges }, events: [] }
  if (item.type === "userMessage") {
    // A user message is complete when it starts; append it here only if its start was missed.
    if (state.items[item.id] !== undefined) return { state: { ...state, items: without(state.items, item.id) }, events: [] }
    return { state, events: itemStarted(state, item, at).events }
  }
  const id = messageIdOf(item)
  const events: Array<EventInput> = []
  if (state.items[item.id] === undefined) {
    // Its start was missed (e.g. after a restart): append it; a repeat is dropped by its key.
    events.push(...itemStarted(state, item, at).events)
  }
  const changes = {
    content: shown.content,
    ...(shown.tool === undefined ? {} : { tool: shown.tool }),
    ...(shown.kind === "agentMessage" || shown.kind === "reasoning" ? { streaming: false } : {})
  }
  events.push(input({ type: "message_updated", message_id: id as MessageId, changes }, `msg:${id}:completed`, at))
  return { state: { ...state, items: without(state.items, item.id), fileChanges }, events }
}

/** A streamed chunk: the item's full content so far (content is replaced, never appended). */
const delta = (state: ThreadState, itemId: string, chunk: string, at: string, separator = ""): Translation => {
  const open = state.items[itemId]
  if (open === undefined) return { state, events: [] }
  const deltas = open.deltas + 1
  if (open.kind === "commandExecution" && open.tool !== undefined) {
    const tool: ToolCall = { ...open.tool, output: (open.tool.output ?? "") + chunk }
    return {
      state: { ...state, items: { ...state.items, [itemId]: { ...open, deltas, tool } } },
      events: [input({ type: "message_updated", message_id: itemId as MessageId, changes: { tool } }, `msg:${itemId}:delta:${deltas}`, at)]
    }
  }
  const content = open.content + separator + chunk
  return {
    state: { ...state, items: { ...state.items, [itemId]: { ...open, deltas, content } } },
    events: [input({ type: "message_updated", message_id: itemId as MessageId, changes: { content } }, `msg:${itemId}:delta:${deltas}`, at)]
  }
}

/** Closes what a turn left open: streaming items, running tools, unanswered requests. */
const closeOpen = (
  state: ThreadState,
  at: string,
  outcome: "expired" | "withdrawn",
  reason?: string
): ReadonlyArray<EventInput> => {
  const events: Array<EventInput> = []
  for (const [itemId, open] of Object.entries(state.items)) {
    if (open.kind === "agentMessage" || open.kind === "reasoning") {
      events.push(input({ type: "message_updated", message_id: itemId as MessageId, changes: { streaming: false } }, `msg:${itemId}:closed`, at))
    } else if (open.tool !== undefined && open.tool.status === "running") {
      const tool: ToolCall = { ...open.tool, status: "error" }
      events.push(input({ type: "message_updated", message_id: itemId as MessageId, changes: { tool } }, `msg:${itemId}:closed`, at))
    }
  }
  const why = reason === undefined ? {} : { reason }
  for (const [requestId, pending] of Object.entries(state.pending)) {
    events.push(
      pending.kind === "approval"
        ? input({ type: "approval_resolved", request_id: requestId as RequestId, outcome, ...why }, `request:${requestId}:resolved`, at)
        : input({ type: "question_resolved", request_id: requestId as RequestId, outcome, ...why }, `request:${requestId}:resolved`, at)
    )
  }
  return events
}

const systemMessage = (id: string, content: string, at: string): EventInput =>
  input({ type: "message_appended", message: { id: id as MessageId, role: "system", content, created_at: at } }, appendKey(id), at)

/** The events that end the running turn, and the state after it. */
export const endTurn = (
  state: ThreadState,
  turnId: string,
  outcome: { readonly status: "completed" } | { readonly status: "aborted"; readonly reason: string; readonly error?: string },
  at: string
): Translation => {
  const events: Array<EventInput> = [...closeOpen(state, at, "expired")]
  if (outcome.status === "aborted" && outcome.error !== undefined && state.errors === 0) {
    events.push(systemMessage(`error:${turnId}:${state.errors + 1}`, `error: ${outcome.error}`, at))
  }
  events.push(
    outcome.status === "completed"
      ? input({ type: "turn_completed", turn_id: turnId }, `turn:${turnId}:ended`, at)
      : input({ type: "turn_aborted", turn_id: turnId, reason: outcome.reason }, `turn:${turnId}:ended`, at)
  )
  return { state: { ...initial }, events }
}

/**
 * The app-server process died: its requests are withdrawn (nobody can receive an answer), and the
 * running turn ends as aborted with a visible error.
 */
export const processExited = (state: ThreadState, detail: string, at: string): Translation => {
  const withdrawn = closeOpen({ ...state, items: {} }, at, "withdrawn", detail)
  const rest = { ...state, pending: {} }
  if (state.turnId === null) return { state: initial, events: [...withdrawn, ...closeOpen(rest, at, "expired")] }
  const ended = endTurn(rest, state.turnId, { status: "aborted", reason: "codex process exited", error: `the codex process exited (${detail})` }, at)
  return { state: ended.state, events: [...withdrawn, ...ended.events] }
}

export const translateNotification = (state: ThreadState, n: Notification, now: string): Translation => {
  const at = iso(n.emittedAtMs, now)
  switch (n.method) {
    case "turn/started":
      return {
        state: { ...initial, turnId: n.params.turn.id },
        events: [input({ type: "turn_started", turn_id: n.params.turn.id }, `turn:${n.params.turn.id}:started`, at)]
      }
    case "turn/completed": {
      const turn = n.params.turn
      if (turn.status === "interrupted") return endTurn(state, turn.id, { status: "aborted", reason: "interrupted" }, at)
      if (turn.status === "failed") {
        const error = turn.error?.message ?? "the turn failed"
        return endTurn(state, turn.id, { status: "aborted", reason: "failed", error }, at)
      }
      return endTurn(state, turn.id, { status: "completed" }, at)
    }
    case "item/started":
      return itemStarted(state, n.params.item, at)
    case "item/completed":
      return itemCompleted(state, n.params.item, at)
    case "item/agentMessage/delta":
    case "item/reasoning/textDelta":
    case "item/commandExecution/outputDelta":
      return delta(state, n.params.itemId, n.params.delta, at)
    case "item/reasoning/summaryTextDelta":
      return delta(state, n.params.itemId, n.params.delta, at)
    case "item/reasoning/summaryPartAdded": {
      // A new summary paragraph after the first one: separate it like the completed item does.
      const open = state.items[n.params.itemId]
      if (open === undefined || n.params.summaryIndex === 0 || open.content.length === 0) return { state, events: [] }
      return delta(state, n.params.itemId, "", at, "\n\n")
    }
    case "thread/tokenUsage/updated": {
      const total = n.params.tokenUsage.total
      const window = n.params.tokenUsage.modelContextWindow
      return {
        state,
        events: [
          input(
            {
              type: "tokens_updated",
              usage: {
                input: total.inputTokens,
                output: total.outputTokens,
                cached_input: total.cachedInputTokens,
                total: total.totalTokens,
                ...(window === undefined ? {} : { context_window: window })
              }
            },
            `tokens:${total.totalTokens}:${total.inputTokens}:${total.outputTokens}`,
            at
          )
        ]
      }
    }
    case "turn/diff/updated":
      // (observed) The same diff arrives twice for one patch.
      if (n.params.diff === state.lastDiff) return { state, events: [] }
      return { state: { ...state, lastDiff: n.params.diff }, events: [input({ type: "diff_updated", diff: n.params.diff }, undefined, at)] }
    case "turn/plan/updated":
      return {
        state,
        events: [
          input(
            {
              type: "plan_updated",
              plan: n.params.plan.map((step) => ({
                step: step.step,
                status: step.status === "inProgress" ? ("in_progress" as const) : step.status
              }))
            },
            undefined,
            at
          )
        ]
      }
    case "error": {
      const turnKey = n.params.turnId ?? state.turnId ?? "none"
      const errors = state.errors + 1
      const content = n.params.willRetry ? `error: ${n.params.error.message} (retrying)` : `error: ${n.params.error.message}`
      return { state: { ...state, errors }, events: [systemMessage(`error:${turnKey}:${errors}`, content, at)] }
    }
    case "serverRequest/resolved": {
      // Codex withdrew a request we had not answered (answered ones are no longer pending).
      const entry = Object.entries(state.pending).find(([, p]) => p.rpcId === n.params.requestId)
      if (entry === undefined) return { state, events: [] }
      const [requestId, pending] = entry
      return {
        state: { ...state, pending: without(state.pending, requestId) },
        events: [
          pending.kind === "approval"
            ? input({ type: "approval_resolved", request_id: requestId as RequestId, outcome: "withdrawn" }, `request:${requestId}:resolved`, at)
            : input({ type: "question_resolved", request_id: requestId as RequestId, outcome: "withdrawn" }, `request:${requestId}:resolved`, at)
        ]
      }
    }
  }
}

/** An approval or question from Codex → `approval_requested` / `question_asked`, remembered as pending. */
export const translateServerRequest = (state: ThreadState, request: ServerRequest, now: string): Translation => {
  const params = request.params
  const created = iso(params.startedAtMs, now)
  switch (request.method) {
    case "item/commandExecution/requestApproval": {
      const p = request.params
      const requestId = p.approvalId === undefined ? p.itemId : `${p.itemId}:${p.approvalId}`
      const approval: ApprovalRequest = {
        id: requestId as RequestId,
        kind: "exec",
        created_at: created,
        ...(p.command === undefined ? {} : { command: p.command }),
        ...(p.cwd === undefined ? {} : { cwd: p.cwd }),
        ...(p.reason === undefined ? {} : { reason: p.reason })
      }
      return {
        state: { ...state, pending: { ...state.pending, [requestId]: { rpcId: request.id, kind: "approval", questionIds: [] } } },
        events: [input({ type: "approval_requested", request: approval }, `request:${requestId}`, now)]
      }
    }
    case "item/fileChange/requestApproval": {
      const p = request.params
      const changes = state.fileChanges[p.itemId] ?? []
      const approval: ApprovalRequest = {
        id: p.itemId as RequestId,
        kind: "patch",
        created_at: created,
        diff: renderChanges(changes),
        tool_name: "apply_patch",
        input: { changes },
        ...(p.reason === undefined ? {} : { reason: p.reason })
      }
      return {
        state: { ...state, pending: { ...state.pending, [p.itemId]: { rpcId: request.id, kind: "approval", questionIds: [] } } },
        events: [input({ type: "approval_requested", request: approval }, `request:${p.itemId}`, now)]
      }
    }
    case "item/tool/requestUserInput": {
      const p = request.params
      const first = p.questions[0]
      const options = first?.options?.map((option) => option.label)
      return {
        state: {
          ...state,
          pending: { ...state.pending, [p.itemId]: { rpcId: request.id, kind: "question", questionIds: p.questions.map((q) => q.id) } }
        },
        events: [
          input(
            {
              type: "question_asked",
              request: {
                id: p.itemId as RequestId,
                created_at: created,
                question: p.questions.map((q) => q.question).join("\n"),
                ...(options === undefined ? {} : { options })
              }
            },
            `request:${p.itemId}`,
            now
          )
        ]
      }
    }
  }
}

/** Forgets a request the user answered (its resolution event is the command's own). */
export const answered = (state: ThreadState, requestId: string): ThreadState => ({
  ...state,
  pending: without(state.pending, requestId)
})
