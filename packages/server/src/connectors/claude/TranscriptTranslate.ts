/**
 * Pure translation of one Claude Code transcript record (FORMATS.md §2) into OrbitDock facts: the
 * message events it carries (with source keys), its token usage, the model, and turn boundaries.
 * Owns the mapping rules only: no I/O, no clock, no running totals (the tailer owns those).
 *
 * Stable ids make every source agree: a record's message id is derived from its `uuid`, a tool
 * call's message id from its `tool_use_id`, and the same derivation is used for headless stream-json
 * lines (which carry the transcript's uuids), so whichever source reports a record first wins and the
 * other is dropped by its source key.
 */
import type { DomainEvent, MessageId, MessageRole, ToolCall } from "@orbitdock/domain"
import type { EventInput } from "../Connector.js"

/** What the tailer learns from one record. */
export interface Translated {
  readonly events: ReadonlyArray<EventInput>
  /** Usage of the API message this record belongs to (repeated on each block: de-duplicate by id). */
  readonly usage?: { readonly messageId: string; readonly usage: UsageDelta }
  readonly model?: string
  /** A prompt opened a turn (main chain only): its `promptId`. */
  readonly turnStarted?: string
  /** The main chain's turn ended: normally, or cut short by the user. */
  readonly turnEnded?: "completed" | "interrupted"
  readonly sessionId?: string
  readonly cwd?: string
}

/** One API message's tokens in OrbitDock's terms: `input` includes cache reads and writes. */
export interface UsageDelta {
  readonly input: number
  readonly output: number
  readonly cached_input: number
}

/** How the translator finds an existing tool message (to complete it with its result). */
export type ToolLookup = (messageId: MessageId) => ToolCall | undefined

/** A lookup over a session's messages (searching from the end, where recent tool calls are). */
export const lookupIn =
  (messages: ReadonlyArray<{ readonly id: string; readonly tool?: ToolCall | undefined }>): ToolLookup =>
  (id) => {
    for (let i = messages.length - 1; i >= 0; i--) if (messages[i]!.id === id) return messages[i]!.tool
    return undefined
  }

type Rec = Record<string, unknown>

const isRec = (v: unknown): v is Rec => typeof v === "object" && v !== null && !Array.isArray(v)
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined)
const num = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : 0)

/** The OrbitDock message id of a transcript record. */
export const recordMessageId = (uuid: string): MessageId => `m-${uuid}` as MessageId
/** The OrbitDock message id of a tool call. */
export const toolMessageId = (toolUseId: string): MessageId => `tool-${toolUseId}` as MessageId

const NOTHING: Translated = { events: [] }

const appended = (
  key: string,
  id: MessageId,
  role: MessageRole,
  content: string,
  createdAt: string,
  tool?: ToolCall
): EventInput => {
  const message = { id, role, content, created_at: createdAt, ...(tool === undefined ? {} : { tool }) }
  const event: DomainEvent = { type: "message_appended", message }
  return { event, source_key: key, occurred_at: createdAt }
}

/** A one-line description of a tool call (the tool message's content). */
export const toolSummary = (name: string, input: unknown): string => {
  if (isRec(input)) {
    for (const field of ["command", "file_path", "pattern", "url", "description", "prompt", "query"]) {
      const value = str(input[field])
      if (value !== undefined && value.length > 0) return value
    }
    const json = JSON.stringify(input)
    return json.length > 200 ? `${json.slice(0, 199)}…` : json
  }
  return name
}

const blockText = (content: unknown): string => {
  if (typeof content === "string") return content
  if (!Array.isArray(content)) return ""
  return content
    .filter((b): b is Rec => isRec(b) && b.type === "text" && typeof b.text === "string")
    .map((b) => b.text as string)
    .join("\n")
}

const LOCAL_STDOUT = /^<local-command-stdout>([\s\S]*)<\/local-command-stdout>\s*$/
const COMMAND_NAME = /<command-name>([^<]*)<\/command-name>/
const COMMAND_ARGS = /<command-args>([^<]*)<\/command-args>/
const INTERRUPTED = /^\[Request interrupted by user/

const translateUser = (rec: Rec, uuid: string, at: string, sidechain: boolean, lookup: ToolLookup): Translated => {
  const message = isRec(rec.message) ? rec.message : {}
  const content = message.content
  const promptId = str(rec.promptId)
  if (rec.isMeta === true) return NOTHING
  // The summary after compaction (`isSynthetic` is how stream-json marks the same record).
  if (rec.isCompactSummary === true || rec.isSynthetic === true) {
    return { events: [appended(`rec:${uuid}`, recordMessageId(uuid), "system", blockText(content), at)] }
  }
  if (Array.isArray(content) && content.some((b) => isRec(b) && b.type === "tool_result")) {
    const events: Array<EventInput> = []
    for (const block of content) {
      if (!isRec(block) || block.type !== "tool_result") continue
      const toolUseId = str(block.tool_use_id)
      if (toolUseId === undefined) continue
      const id = toolMessageId(toolUseId)
      const previous = lookup(id)
      const tool: ToolCall = {
        name: previous?.name ?? "tool",
        ...(previous?.input === undefined ? {} : { input: previous.input }),
        output: blockText(block.content),
        status: block.is_error === true ? "error" : "ok"
      }
      const event: DomainEvent = { type: "message_updated", message_id: id, changes: { tool } }
      events.push({ event, source_key: `res:${uuid}:${toolUseId}`, occurred_at: at })
    }
    return { events }
  }
  const text = blockText(content)
  if (text.length === 0) return NOTHING
  if (INTERRUPTED.test(text)) {
    const events = [appended(`rec:${uuid}`, recordMessageId(uuid), "system", "interrupted", at)]
    return sidechain ? { events } : { events, turnEnded: "interrupted" }
  }
  const stdout = LOCAL_STDOUT.exec(text)
  if (stdout !== null) return { events: [appended(`rec:${uuid}`, recordMessageId(uuid), "system", stdout[1]!.trim(), at)] }
  const command = COMMAND_NAME.exec(text)
  const shown = command === null ? text : `${command[1]!} ${COMMAND_ARGS.exec(text)?.[1] ?? ""}`.trim()
  // A background subagent's result comes back as an injected prompt: show it, but not as the user's.
  const injected = isRec(rec.origin) || sidechain
  const role: MessageRole = injected ? "system" : "user"
  const events = [appended(`rec:${uuid}`, recordMessageId(uuid), role, shown, at)]
  return !sidechain && promptId !== undefined ? { events, turnStarted: promptId } : { events }
}

const translateAssistant = (rec: Rec, uuid: string, at: string, sidechain: boolean): Translated => {
  const message = isRec(rec.message) ? rec.message : {}
  const blocks = Array.isArray(message.content) ? message.content : []
  const events: Array<EventInput> = []
  // Claude Code writes "<synthetic>" assistant records itself (API errors, the filler after an
  // interrupted turn is resumed): the errors are shown as system notes, the filler not at all.
  const synthetic = message.model === "<synthetic>"
  blocks.forEach((block, index) => {
    if (!isRec(block)) return
    // One block per record in 2.1.332; the index keeps keys unique if a record ever holds more.
    const key = index === 0 ? `rec:${uuid}` : `rec:${uuid}:${index}`
    const id = index === 0 ? recordMessageId(uuid) : (`m-${uuid}-${index}` as MessageId)
    switch (block.type) {
      case "text": {
        const text = str(block.text) ?? ""
        if (synthetic && text === "No response requested.") return
        if (text.length > 0) events.push(appended(key, id, synthetic ? "system" : "assistant", text, at))
        return
      }
      case "thinking": {
        const text = str(block.thinking) ?? ""
        if (text.length > 0) events.push(appended(key, id, "reasoning", text, at))
        return
      }
      case "tool_use": {
        const toolUseId = str(block.id)
        const name = str(block.name) ?? "tool"
        if (toolUseId === undefined) return
        const tool: ToolCall = { name, input: block.input, status: "running" }
        events.push(appended(key, toolMessageId(toolUseId), "tool", toolSummary(name, block.input), at, tool))
        return
      }
      default:
        return
    }
  })
  const model = str(message.model)
  const messageId = str(message.id)
  const usage = isRec(message.usage) && messageId !== undefined ? usageOf(message.usage) : undefined
  const stop = message.stop_reason
  const ended = !sidechain && typeof stop === "string" && stop !== "tool_use" && stop !== "pause_turn"
  return {
    events,
    ...(model === undefined || model.startsWith("<") ? {} : { model }),
    ...(usage === undefined || messageId === undefined ? {} : { usage: { messageId, usage } }),
    ...(ended ? { turnEnded: "completed" as const } : {})
  }
}

const usageOf = (u: Rec): UsageDelta => {
  const cacheRead = num(u.cache_read_input_tokens)
  return {
    input: num(u.input_tokens) + num(u.cache_creation_input_tokens) + cacheRead,
    output: num(u.output_tokens),
    cached_input: cacheRead
  }
}

const translateSystem = (rec: Rec, uuid: string, at: string): Translated => {
  if (rec.subtype !== "compact_boundary") return NOTHING
  const meta = isRec(rec.compactMetadata) ? rec.compactMetadata : {}
  const trigger = str(meta.trigger)
  const content = `Conversation compacted${trigger === undefined ? "" : ` (${trigger})`}`
  return { events: [appended(`rec:${uuid}`, recordMessageId(uuid), "system", content, at)] }
}

/**
 * Translates one parsed transcript record. Records without a `uuid` (bookkeeping) and unknown types
 * yield nothing; `lookup` finds the tool message a `tool_result` completes; `now` stands in for a
 * missing timestamp.
 */
export const translateRecord = (record: unknown, lookup: ToolLookup, now: string): Translated => {
  if (!isRec(record)) return NOTHING
  const uuid = str(record.uuid)
  const sessionId = str(record.sessionId)
  const cwd = str(record.cwd)
  const where = { ...(sessionId === undefined ? {} : { sessionId }), ...(cwd === undefined ? {} : { cwd }) }
  if (uuid === undefined) return { events: [], ...where }
  const at = str(record.timestamp) ?? now
  const sidechain = record.isSidechain === true
  const result = (() => {
    switch (record.type) {
      case "user":
        return translateUser(record, uuid, at, sidechain, lookup)
      case "assistant":
        return translateAssistant(record, uuid, at, sidechain)
      case "system":
        return translateSystem(record, uuid, at)
      default:
        return NOTHING
    }
  })()
  return { ...result, ...where }
}

/**
 * Turns a headless stream-json `assistant`/`user` line into the transcript record it mirrors (same
 * uuid), so it translates to the very same events; `undefined` for other lines.
 */
export const streamLineAsRecord = (line: Rec): Rec | undefined => {
  if (line.type !== "assistant" && line.type !== "user") return undefined
  if (typeof line.uuid !== "string") return undefined
  return {
    type: line.type,
    uuid: line.uuid,
    timestamp: line.timestamp,
    message: line.message,
    sessionId: line.session_id,
    isSidechain: line.parent_tool_use_id !== null && line.parent_tool_use_id !== undefined,
    ...(line.tool_use_result === undefined ? {} : { toolUseResult: line.tool_use_result }),
    ...(line.isSynthetic === true ? { isSynthetic: true } : {})
  }
}

/** Claude Code's project directory name for a cwd (FORMATS.md §1); long names also get a hash. */
export const encodeCwd = (cwd: string): string => cwd.replace(/[^a-zA-Z0-9]/g, "-")
