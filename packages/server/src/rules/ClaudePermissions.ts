/**
 * Claude Code's own permission settings (`permissions.allow`, `ask`, `deny` of `~/.claude/settings.json`
 * and a project's `.claude/settings.json` / `settings.local.json`) as OrbitDock rules: a starting
 * point, read only (Claude's files are never written). What has no faithful equivalent is skipped
 * with the reason rather than widened: an allow limited to some files or domains is not turned
 * into an allow of every file or domain.
 */
import type { RuleEffect, RuleInput, RuleScope } from "@orbitdock/domain"
import { globLiteral } from "./Decide.js"

export interface Imported {
  readonly rules: ReadonlyArray<RuleInput>
  readonly skipped: ReadonlyArray<{ readonly entry: string; readonly why: string }>
}

const LISTS: ReadonlyArray<readonly [string, RuleEffect]> = [
  ["deny", "deny"],
  ["ask", "ask"],
  ["allow", "allow"]
]

/** One entry (`Bash(npm run test:*)`, `Read`, `mcp__github__create_issue`, `Edit(src/**)`) as a rule's match. */
export const matchOf = (entry: string): { readonly match: RuleInput["match"] } | { readonly why: string } => {
  const parsed = /^([A-Za-z0-9_:.-]+)(?:\((.*)\))?$/s.exec(entry.trim())
  if (parsed === null) return { why: "not a permission Claude Code writes (Tool or Tool(argument))" }
  const [, tool, argument] = parsed
  if (argument === undefined || argument === "" || argument === "*") return { match: { tool: [tool!] } }
  if (tool === "Bash") {
    // `cmd:*` is Claude's prefix form; `*` in the rest is its wildcard, like ours.
    const prefix = /^(.*):\*$/s.exec(argument)
    const command = prefix !== null ? `${globLiteral(prefix[1]!)}*` : argument.replace(/\\/g, "\\\\")
    return { match: { tool: ["Bash"], command } }
  }
  return { why: `OrbitDock's rules cannot limit ${tool} to ${JSON.stringify(argument)} (they match where files are, not which)` }
}

/** A settings file's permissions as rules in `scope`; `source` names the file in each rule's note. */
export const importSettings = (settings: unknown, scope: RuleScope, source: string): Imported => {
  const rules: Array<RuleInput> = []
  const skipped: Array<{ entry: string; why: string }> = []
  const permissions = typeof settings === "object" && settings !== null ? (settings as { permissions?: unknown }).permissions : undefined
  if (typeof permissions !== "object" || permissions === null) return { rules, skipped }
  for (const [list, effect] of LISTS) {
    const entries = (permissions as Record<string, unknown>)[list]
    if (!Array.isArray(entries)) continue
    for (const entry of entries) {
      if (typeof entry !== "string") {
        skipped.push({ entry: JSON.stringify(entry), why: "not a string" })
        continue
      }
      const converted = matchOf(entry)
      if ("why" in converted) skipped.push({ entry: `${list}: ${entry}`, why: converted.why })
      else rules.push({ effect, scope, match: converted.match, note: `from Claude Code's ${source} (${list}: ${entry})` })
    }
  }
  return { rules, skipped }
}
