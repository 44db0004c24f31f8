/**
 * Pure translation of Codex rollout records (`$CODEX_HOME/sessions/.../rollout-*.jsonl`, one JSON
 * object per line, as 0.171.0 writes them) into the domain events of a watch-only session. Owns the
 * record schemas and the choice of records: a rollout holds most things twice (`response_item`
 * model-history records and `event_msg` UI events, e.g. every assistant message), so only `event_msg`
 * records and `session_meta` / `turn_context` are used. Source keys use the same item ids the
 * app-server uses, so a message is never shown twice.
 */
import type { DomainEvent, MessageId, ToolCall } from "@orbitdock/domain"
import { Either, Schema } from "effect"
import type { EventInput } from "../Connector.js"
import { appendKey } from "./CodexTranslate.js"

export const RolloutRecord = Schema.Struct({
  timestamp: Schema.optional(Schema.String),
  type: Schema.String,
  payload: Schema.optional(Schema.Unknown)
})
export type RolloutRecord = typeof RolloutRecord.Type

export const SessionMeta = Schema.Struct({
  id: Schema.String,
  cwd: Schema.optionalWith(Schema.String, { default: () => "" }),
  originator: Schema.optional(Schema.String),
  source: Schema.optional(Schema.Unknown),
  model: Schema.optional(Schema.String)
})
export type SessionMeta = typeof SessionMeta.Type

const nullable = <S extends Schema.Schema.All>(schema: S) => Schema.optionalWith(schema, { nullable: true })

const TurnContext = Schema.Struct({ model: nullable(Schema.String) })
const Usage = Schema.Struct({
  input_tokens: Schema.Number,
  cached_input_tokens: Schema.optionalWith(Schema.Number, { default: () => 0 }),
  output_tokens: Schema.Number,
  total_tokens: Schema.Number
})
const EventMsg = Schema.Union(
  Schema.Struct({ type: Schema.Literal("task_started"), turn_id: Schema.String }),
  Schema.Struct({
    type: Schema.Literal("task_complete"),
    turn_id: Schema.String,
    error: nullable(Schema.Struct({ message: Schema.String }))
  }),
  Schema.Struct({ type: Schema.Literal("turn_aborted"), turn_id: nullable(Schema.String), reason: nullable(Schema.String) }),
  Schema.Struct({ type: Schema.Literal("error"), message: Schema.String }),
  Schema.Struct({
    type: Schema.Literal("token_count"),
    info: nullable(Schema.Struct({ total_token_usage: Usage, model_context_window: nullable(Schema.Number) }))
  }),
  Schema.Struct({
    type: Schema.Literal("item_completed"),
    turn_id: nullable(Schema.String),
    item: Schema.Struct({ type: Schema.String, id: Schema.String }, { key: Schema.String, value: Schema.Unknown }),
    started_at_ms: nullable(Schema.Number)
  })
)
type EventMsg = typeof EventMsg.Type

const decodeMeta = Schema.decodeUnknownEither(SessionMeta)
const decodeTurnContext = Schema.decodeUnknownEither(TurnContext)
const decodeEventMsg = Schema.decodeUnknownEither(EventMsg)

export interface RolloutState {
  /** `session_created` was emitted (or the session already exists). */
  readonly created: boolean
  readonly model: string | undefined
}

export const initialRollout: RolloutState = { created: false, model: undefined }

export interface RolloutTranslation {
  readonly state: RolloutState
  readonly events: ReadonlyArray<EventInput>
}

/** The `session_meta` of a rollout's first line, if it is one. */
export const sessionMetaOf = (record: RolloutRecord): SessionMeta | undefined => {
  if (record.type !== "session_meta") return undefined
  return Either.getOrUndefined(decodeMeta(record.payload))
}

const strings = (value: unknown): ReadonlyArray<string> => (Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [])
const texts = (value: unknown): string =>
  (Array.isArray(value) ? value : [])
    .map((part: unknown) => (typeof part === "object" && part !== null && typeof (part as { text?: unknown }).text === "string" ? (part as { text: string }).text : ""))
    .filter((text) => text.length > 0)
    .join("\n")

/** A completed item as a message, or null for item types not shown. */
const itemMessage = (item: Readonly<Record<string, unknown>> & { readonly type: string; readonly id: string }) => {
  switch (item.type) {
    case "UserMessage":
      return { role: "user" as const, content: texts(item.content) }
    case "AgentMessage":
      return { role: "assistant" as const, content: texts(item.content) }
    case "Reasoning":
      return { role: "reasoning" as const, content: strings(item.summary_text).join("\n\n") }
    case "CommandExecution": {
      const argv = strings(item.command)
      const command = argv.length === 3 && argv[1] === "-lc" ? argv[2]! : argv.join(" ")
      const exit = typeof item.exit_code === "number" ? item.exit_code : undefined
      const output = typeof item.aggregated_output === "string" ? item.aggregated_output : undefined
      const tool: ToolCall = {
        name: "shell",
        input: { command },
        ...(output === undefined ? {} : { output }),
        status: item.status === "completed" && (exit === undefined || exit === 0) ? "ok" : "error",
        ...(exit === undefined ? {} : { exit_code: exit })
      }
      return { role: "tool" as const, content: command, tool }
    }
    case "FileChange": {
      const changes = typeof item.changes === "object" && item.changes !== null ? (item.changes as Record<string, { type?: string }>) : {}
      const tool: ToolCall = {
        name: "apply_patch",
        input: { changes },
        ...(typeof item.stdout === "string" ? { output: item.stdout } : {}),
        status: item.status === "completed" ? "ok" : "error"
      }
      return {
        role: "tool" as const,
        content: Object.entries(changes).map(([file, change]) => `${change.type ?? "update"} ${file}`).join("\n"),
        tool
      }
    }
    default:
      return null
  }
}

const event = (e: DomainEvent, key: string | undefined, at: string | undefined): EventInput => ({
  event: e,
  ...(key === undefined ? {} : { source_key: key }),
  ...(at === undefined ? {} : { occurred_at: at })
})

const eventMsg = (msg: EventMsg, at: string | undefined, now: string): ReadonlyArray<EventInput> => {
  switch (msg.type) {
    case "task_started":
      return [event({ type: "turn_started", turn_id: msg.turn_id }, `turn:${msg.turn_id}:started`, at)]
    case "task_complete": {
      if (msg.error === undefined) return [event({ type: "turn_completed", turn_id: msg.turn_id }, `turn:${msg.turn_id}:ended`, at)]
      const id = `error:${msg.turn_id}:rollout`
      return [
        event(
          { type: "message_appended", message: { id: id as MessageId, role: "system", content: `error: ${msg.error.message}`, created_at: at ?? now } },
          appendKey(id),
          at
        ),
        event({ type: "turn_aborted", turn_id: msg.turn_id, reason: "failed" }, `turn:${msg.turn_id}:ended`, at)
      ]
    }
    case "turn_aborted":
      return [
        event(
          { type: "turn_aborted", ...(msg.turn_id === undefined ? {} : { turn_id: msg.turn_id }), reason: msg.reason ?? "interrupted" },
          msg.turn_id === undefined ? undefined : `turn:${msg.turn_id}:ended`,
          at
        )
      ]
    case "error":
      return [] // the turn's `task_complete` carries the same error
    case "token_count": {
      if (msg.info === undefined) return []
      const u = msg.info.total_token_usage
      const window = msg.info.model_context_window
      return [
        event(
          {
            type: "tokens_updated",
            usage: {
              input: u.input_tokens,
              output: u.output_tokens,
              cached_input: u.cached_input_tokens,
              total: u.total_tokens,
              ...(window === undefined ? {} : { context_window: window })
            }
          },
          `tokens:${u.total_tokens}:${u.input_tokens}:${u.output_tokens}`,
          at
        )
      ]
    }
    case "item_completed": {
      const shown = itemMessage(msg.item)
      if (shown === null) return []
      const created = msg.started_at_ms === undefined ? (at ?? now) : new Date(msg.started_at_ms).toISOString()
      return [
        event(
          {
            type: "message_appended",
            message: { id: msg.item.id as MessageId, role: shown.role, content: shown.content, created_at: created, ...("tool" in shown ? { tool: shown.tool } : {}) }
          },
          appendKey(msg.item.id),
          at
        )
      ]
    }
  }
}

/** One rollout line → events. Unknown or malformed records give nothing. */
export const translateRolloutRecord = (state: RolloutState, record: RolloutRecord, now: string): RolloutTranslation => {
  const at = record.timestamp
  switch (record.type) {
    case "session_meta": {
      const meta = sessionMetaOf(record)
      if (meta === undefined || state.created) return { state, events: [] }
      return {
        state: { created: true, model: meta.model },
        events: [
          event(
            {
              type: "session_created",
              provider: "codex",
              cwd: meta.cwd,
              status: "waiting",
              external_id: meta.id,
              watch_only: true,
              ...(meta.model === undefined ? {} : { model: meta.model })
            },
            `thread:${meta.id}:created`,
            at
          )
        ]
      }
    }
    case "turn_context": {
      const context = decodeTurnContext(record.payload)
      if (Either.isLeft(context) || context.right.model === undefined || context.right.model === state.model) return { state, events: [] }
      return {
        state: { ...state, model: context.right.model },
        events: [event({ type: "session_info_changed", model: context.right.model }, undefined, at)]
      }
    }
    case "event_msg": {
      const msg = decodeEventMsg(record.payload)
      return Either.isLeft(msg) ? { state, events: [] } : { state, events: eventMsg(msg.right, at, now) }
    }
    default:
      return { state, events: [] }
  }
}
