/**
 * Claude Code hook payloads (`POST /hook` bodies), as 2.1.332 really sends them (see FORMATS.md §3).
 * Owns decoding only: every schema tolerates unknown fields, an unknown `hook_event_name` decodes to
 * the generic `HookBase`, and a body that is not even a hook (no `session_id`, wrong types) fails with
 * a readable reason that the route turns into a `400`. Also owns the hook *answers* we send back.
 */
import { Either, ParseResult, Schema } from "effect"

const OptString = Schema.optional(Schema.String)
const OptUnknown = Schema.optional(Schema.Unknown)

/**
 * Fields every hook event carries. `transcript_path`/`cwd` are optional so a partial body still
 * decodes. The session id becomes an OrbitDock session's id and a key of the connector's maps:
 * Claude Code's are UUIDs, and anything longer than a WebSocket message `id` may be is refused.
 */
export const HookBase = Schema.Struct({
  session_id: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(128)),
  hook_event_name: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(128)),
  transcript_path: OptString,
  cwd: OptString,
  prompt_id: OptString,
  permission_mode: OptString
})
export type HookBase = typeof HookBase.Type

const hook = <const N extends string, F extends Schema.Struct.Fields>(name: N, fields: F) =>
  Schema.Struct({ ...HookBase.fields, hook_event_name: Schema.Literal(name), ...fields })

export const SessionStart = hook("SessionStart", { source: OptString, model: OptString })
export const UserPromptSubmit = hook("UserPromptSubmit", { prompt: OptString })
export const PreToolUse = hook("PreToolUse", { tool_name: Schema.String, tool_input: OptUnknown, tool_use_id: OptString })
export const PermissionSuggestion = Schema.Record({ key: Schema.String, value: Schema.Unknown })
export const PermissionRequest = hook("PermissionRequest", {
  tool_name: Schema.String,
  tool_input: OptUnknown,
  tool_use_id: OptString,
  permission_suggestions: Schema.optional(Schema.Array(PermissionSuggestion))
})
export const PostToolUse = hook("PostToolUse", {
  tool_name: OptString,
  tool_input: OptUnknown,
  tool_response: OptUnknown,
  tool_use_id: OptString
})
export const Stop = hook("Stop", { last_assistant_message: Schema.optional(Schema.NullOr(Schema.String)) })
export const SessionEnd = hook("SessionEnd", { reason: OptString })
export const SubagentStart = hook("SubagentStart", { agent_id: OptString, agent_type: OptString })
export const SubagentStop = hook("SubagentStop", {
  agent_id: OptString,
  agent_type: OptString,
  agent_transcript_path: OptString
})
export const Notification = hook("Notification", { message: OptString, notification_type: OptString })

/** The events the connector acts on; any other event decodes as `HookBase`. */
const Known = Schema.Union(
  SessionStart,
  UserPromptSubmit,
  PreToolUse,
  PermissionRequest,
  PostToolUse,
  Stop,
  SessionEnd,
  SubagentStart,
  SubagentStop,
  Notification
)
export type KnownHook = typeof Known.Type
export type HookEvent = KnownHook | (HookBase & { readonly _unknown: true })

const knownNames: ReadonlySet<string> = new Set(Known.members.map((m) => m.fields.hook_event_name.literals[0]))

const decodeBase = Schema.decodeUnknownEither(HookBase)
const decodeKnown = Schema.decodeUnknownEither(Known)

const reason = (error: ParseResult.ParseError): string => ParseResult.TreeFormatter.formatErrorSync(error)

/**
 * Decodes a hook body. `Left` carries a human-readable reason (for the `400`). Unknown event names are
 * accepted (a newer Claude Code may send more) and returned with `_unknown: true`.
 */
export const decodeHook = (body: unknown): Either.Either<HookEvent, string> => {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return Either.left("a hook body must be a JSON object")
  }
  const base = decodeBase(body)
  if (Either.isLeft(base)) return Either.left(reason(base.left))
  if (!knownNames.has(base.right.hook_event_name)) return Either.right({ ...base.right, _unknown: true as const })
  const known = decodeKnown(body)
  return Either.isLeft(known) ? Either.left(reason(known.left)) : Either.right(known.right)
}

// ── Answers ─────────────────────────────────────────────────────────────────────────────────────

/** "No decision": Claude carries on as if no hook had answered (the terminal prompt takes over). */
export const noDecision = {} as const

/** A PermissionRequest decision (FORMATS.md §3.4). */
export const permissionAnswer = (
  decision:
    | { readonly behavior: "allow"; readonly updatedPermissions?: ReadonlyArray<unknown> }
    | { readonly behavior: "deny"; readonly message: string }
) => ({ hookSpecificOutput: { hookEventName: "PermissionRequest", decision } })

/** A PreToolUse decision (FORMATS.md §3.4). */
export const preToolUseAnswer = (decision: "allow" | "deny", reason: string) => ({
  hookSpecificOutput: { hookEventName: "PreToolUse", permissionDecision: decision, permissionDecisionReason: reason }
})
