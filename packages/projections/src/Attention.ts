/**
 * Why a session needs its person, derived from its events: the rules `SessionProjection` folds and
 * `SessionMirror` applies, so the server, replay, time travel and every client agree. Pure.
 *
 * A session's attention is its first pending approval, else its first pending question, else what
 * its turn left behind (`turnAttention`): finished (`turn_finished`), failed or its agent gone
 * (`error`), or silent while working (`stalled`). Starting a turn clears the last; any sign of life
 * clears a stall.
 */
import type {
  ApprovalRequest,
  AttentionDetail,
  AttentionReason,
  DomainEvent,
  Message,
  Question,
  RequestId
} from "@orbitdock/domain"

/** The longest `summary` (one line for a list row or a notification). */
export const SUMMARY_LENGTH = 160

const oneLine = (text: string): string => {
  const line = text.replace(/\s+/g, " ").trim()
  return line.length > SUMMARY_LENGTH ? `${line.slice(0, SUMMARY_LENGTH - 1)}…` : line
}

const detail = (reason: AttentionReason, since: string, summary: string, requestId?: RequestId): AttentionDetail =>
  requestId === undefined
    ? { reason, since, summary: oneLine(summary), seen: false }
    : { reason, since, summary: oneLine(summary), request_id: requestId, seen: false }

/** The files a unified diff touches, in order, each once. */
export const diffFiles = (diff: string): ReadonlyArray<string> => {
  const files: Array<string> = []
  for (const match of diff.matchAll(/^\+\+\+ (?:b\/)?(.+)$/gm)) {
    const file = match[1]!.trim()
    if (file !== "/dev/null" && !files.includes(file)) files.push(file)
  }
  if (files.length === 0) {
    // A deletion names its file only on the `---` side.
    for (const match of diff.matchAll(/^--- (?:a\/)?(.+)$/gm)) {
      const file = match[1]!.trim()
      if (file !== "/dev/null" && !files.includes(file)) files.push(file)
    }
  }
  return files
}

const inputText = (input: unknown): string | undefined => {
  if (typeof input === "string") return input
  if (typeof input !== "object" || input === null) return undefined
  const record = input as Record<string, unknown>
  for (const key of ["command", "file_path", "path", "url", "pattern", "query", "description"]) {
    if (typeof record[key] === "string") return record[key] as string
  }
  return undefined
}

/** The risk classes worth a person's second look, in words (the inbox, notifications). */
const WARNINGS: ReadonlyArray<readonly [string, string]> = [
  ["destructive", "destructive"],
  ["privilege", "privilege"],
  ["writes_outside", "writes outside the project"],
  ["network", "network"]
]

/**
 * What an approval asks, in one line: the command, the files of a patch, the tool and its target,
 * then what of its risk deserves attention (`[destructive, network]`).
 */
export const describeApproval = (request: ApprovalRequest): string => {
  const risk = request.risk ?? []
  const warnings = WARNINGS.filter(([risky]) => risk.includes(risky as never)).map(([, words]) => words)
  const what = describeAsk(request)
  return warnings.length === 0 ? what : `${what} [${warnings.join(", ")}]`
}

const describeAsk = (request: ApprovalRequest): string => {
  switch (request.kind) {
    case "exec":
      return `run: ${request.command ?? request.reason ?? "a command"}`
    case "patch": {
      const files = request.diff === undefined ? [] : diffFiles(request.diff)
      return files.length > 0 ? `edit: ${files.join(", ")}` : `edit files${request.reason ? `: ${request.reason}` : ""}`
    }
    case "tool": {
      const name = request.tool_name ?? "a tool"
      const target = inputText(request.input) ?? request.command
      return target === undefined ? `use ${name}` : `${name}: ${target}`
    }
  }
}

export const forApproval = (request: ApprovalRequest): AttentionDetail =>
  detail("approval", request.created_at, describeApproval(request), request.id)

export const forQuestion = (question: Question): AttentionDetail =>
  detail("question", question.created_at, question.question, question.id)

/** What the agent said last (its last assistant message), for a finished turn. */
const lastWords = (messages: ReadonlyArray<Message>): string | undefined => {
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i]!
    if (message.role === "assistant" && message.content.trim() !== "") return message.content
  }
  return undefined
}

/** What a silent turn was last doing: the tool still running, if any. */
const lastDoing = (messages: ReadonlyArray<Message>): string | undefined => {
  const last = messages.at(-1)
  if (last?.tool === undefined || last.tool.status !== "running") return undefined
  const target = inputText(last.tool.input)
  return target === undefined ? last.tool.name : `${last.tool.name}: ${target}`
}

/** Whether a turn was cut short by its person rather than by a failure (then it is not an `error`). */
export const isInterruption = (reason: string): boolean => /^interrupt/i.test(reason.trim())

/** Events that say nothing about the agent being alive: they do not end a stall. */
const quiet = new Set<DomainEvent["type"]>(["session_stalled", "attention_marked", "session_info_changed"])

/**
 * The turn's attention after `event` (`occurredAt` its time), given the one before and the session's
 * messages and status before the event.
 */
export const nextTurnAttention = (
  before: AttentionDetail | null,
  event: DomainEvent,
  occurredAt: string,
  messages: ReadonlyArray<Message>,
  status: string
): AttentionDetail | null => {
  switch (event.type) {
    case "turn_completed":
      return detail("turn_finished", occurredAt, lastWords(messages) ?? "the turn finished")
    case "turn_aborted":
      return isInterruption(event.reason)
        ? detail("turn_finished", occurredAt, `interrupted${lastWords(messages) ? `: ${lastWords(messages)}` : ""}`)
        : detail("error", occurredAt, `the turn failed: ${event.reason}`)
    case "turn_started":
    case "session_reopened":
    case "session_ended":
    case "session_created":
      return null
    case "status_changed":
      return event.status === "working" ? null : before
    case "session_stalled":
      if (status !== "working") return before
      return before?.reason === "stalled" && before.since === event.since
        ? before
        : detail("stalled", event.since, `silent while ${lastDoing(messages) ?? "working"}`)
    case "attention_marked":
      return before !== null && before.since === event.since ? mark(before, event) : before
    default:
      return before?.reason === "stalled" && !quiet.has(event.type) ? null : before
  }
}

/**
 * The session's attention given its pending requests and its turn's attention. `current` is kept
 * when it is still the one (so seen and snoozed stay with it).
 */
export const effective = (
  current: AttentionDetail | null,
  approvals: ReadonlyArray<ApprovalRequest>,
  questions: ReadonlyArray<Question>,
  turn: AttentionDetail | null
): AttentionDetail | null => {
  const approval = approvals[0]
  if (approval !== undefined) {
    return current?.reason === "approval" && current.request_id === approval.id ? current : forApproval(approval)
  }
  const question = questions[0]
  if (question !== undefined) {
    return current?.reason === "question" && current.request_id === question.id ? current : forQuestion(question)
  }
  return turn
}

/** `attention_marked` applied to the attention it names. */
export const mark = (
  attention: AttentionDetail,
  event: { readonly seen?: boolean | undefined; readonly snoozed_until?: string | null | undefined }
): AttentionDetail => {
  const { snoozed_until: _s, ...rest } = attention
  const seen = event.seen ?? attention.seen
  if (event.snoozed_until === null) return { ...rest, seen }
  const snoozedUntil = event.snoozed_until ?? attention.snoozed_until
  return snoozedUntil === undefined ? { ...rest, seen } : { ...rest, seen, snoozed_until: snoozedUntil }
}

/** Whether it is snoozed at `now` (ISO time: they compare as strings). */
export const isSnoozed = (attention: AttentionDetail, now: string): boolean =>
  attention.snoozed_until !== undefined && attention.snoozed_until > now
