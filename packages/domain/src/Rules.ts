/**
 * Approval rules (minor 3): `allow`, `ask` or `deny` a request that matches, in a scope (everywhere,
 * a project by its directory, one session). The server decides with them before a request reaches
 * anyone (`approval_resolved.decided_by`); they are kept as events (`rule_added`, `rule_removed`),
 * so the rules in force at any past moment can be shown.
 */
import { Schema } from "effect"
import { ApprovalKind, Provider, RiskClass } from "./Entities.js"
import { SessionId } from "./ids.js"

export const RuleEffect = Schema.Literal("allow", "ask", "deny")
export type RuleEffect = typeof RuleEffect.Type

export const RuleScope = Schema.Union(
  Schema.Struct({ kind: Schema.Literal("global") }),
  /** Sessions whose working directory is this directory or inside it. */
  Schema.Struct({ kind: Schema.Literal("project"), cwd: Schema.String.pipe(Schema.minLength(1)) }),
  Schema.Struct({ kind: Schema.Literal("session"), session_id: SessionId })
)
export type RuleScope = typeof RuleScope.Type

/**
 * What a request must be for the rule to apply; every field given must hold. `command` (a glob:
 * `*` any text, `?` one character) and `command_regex` are matched against each simple command of
 * the parsed command line, not the raw string; `risk` against each simple command's risk classes
 * (a request without a command: against the request's).
 */
export const RuleMatch = Schema.Struct({
  kind: Schema.optional(Schema.Array(ApprovalKind)),
  /** Tool names: Claude's (`Bash`, `Write`, …), Codex's `shell` and `apply_patch`. */
  tool: Schema.optional(Schema.Array(Schema.String)),
  command: Schema.optional(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(4096))),
  command_regex: Schema.optional(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(4096))),
  /** Where the files it touches are, relative to the session's directory. */
  paths: Schema.optional(Schema.Literal("inside", "outside")),
  provider: Schema.optional(Schema.Array(Provider)),
  risk: Schema.optional(Schema.Array(RiskClass))
})
export type RuleMatch = typeof RuleMatch.Type

export const Rule = Schema.Struct({
  id: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(128)),
  effect: RuleEffect,
  scope: RuleScope,
  match: RuleMatch,
  note: Schema.optional(Schema.String.pipe(Schema.maxLength(1000))),
  created_at: Schema.String
})
export type Rule = typeof Rule.Type

/** A rule as a client writes it: the server assigns `id` (unless given) and `created_at`. */
export const RuleInput = Schema.Struct({
  id: Schema.optional(Rule.fields.id),
  effect: RuleEffect,
  scope: RuleScope,
  match: RuleMatch,
  note: Rule.fields.note
})
export type RuleInput = typeof RuleInput.Type

/** One way the draft would have decided differently: `from` (how it was decided then) → `to`. */
export const SimulationChange = Schema.Struct({
  from: RuleEffect,
  to: RuleEffect,
  count: Schema.Number,
  /** Of the requests a person was asked about, how many the person approved / denied then. */
  approved_then: Schema.Number,
  denied_then: Schema.Number,
  examples: Schema.Array(
    Schema.Struct({
      session_id: Schema.String,
      request_id: Schema.String,
      kind: Schema.String,
      what: Schema.String,
      outcome: Schema.NullOr(Schema.String),
      explanation: Schema.String
    })
  )
})
export type SimulationChange = typeof SimulationChange.Type

/** Every past request judged by a draft rule set (`POST /api/rules/simulate`, `simulate_rules`). */
export const SimulationReport = Schema.Struct({
  requests: Schema.Number,
  unchanged: Schema.Number,
  changes: Schema.Array(SimulationChange),
  /** How many requests each draft rule decided. */
  by_rule: Schema.Record({ key: Schema.String, value: Schema.Number }),
  /** Requests of sessions no longer known (not judged). */
  skipped: Schema.Number,
  elapsed_ms: Schema.Number
})
export type SimulationReport = typeof SimulationReport.Type

/** A draft: the whole set (`rules`), or changes to the rules in force (`add`, `remove`). */
export const RulesDraft = Schema.Struct({
  rules: Schema.optional(Schema.Array(RuleInput).pipe(Schema.maxItems(1000))),
  add: Schema.optional(Schema.Array(RuleInput).pipe(Schema.maxItems(1000))),
  remove: Schema.optional(Schema.Array(Schema.String).pipe(Schema.maxItems(1000)))
})
export type RulesDraft = typeof RulesDraft.Type

export const RuleEvent = Schema.Union(
  Schema.Struct({ type: Schema.Literal("rule_added"), at: Schema.String, rule: Rule }),
  Schema.Struct({ type: Schema.Literal("rule_removed"), at: Schema.String, rule_id: Schema.String })
)
export type RuleEvent = typeof RuleEvent.Type
