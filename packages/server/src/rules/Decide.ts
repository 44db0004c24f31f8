/**
 * What the rules say about a request (pure; given/when/then tests in `test/rules/Decide.test.ts`).
 *
 * A request's simple commands are judged one by one: `deny` when some deny rule matches the command
 * (one matching only by risk class gives way to an allow naming the command exactly), else the most
 * specific of the `allow` rules covering it and the `ask` rules matching it (an `ask` wins a tie),
 * else `ask`. The request is denied if any command is, allowed only if every command
 * is, and asked otherwise. A request with no command (a patch, a file edit) is judged as one unit.
 * An `allow` covers a command classed `destructive` only by naming it exactly (a `command` without
 * wildcards equal to it): no glob, expression or risk class lets `rm -rf ~` through.
 */
import type { Rule, RuleEffect, RuleMatch } from "@orbitdock/domain"
import type { RequestFacts } from "./Requests.js"
import type { SimpleCommand } from "./Shell.js"

export interface Verdict {
  readonly effect: RuleEffect
  /** The rules that decided (the deny, or the allow of each command); empty: nothing matched. */
  readonly rules: ReadonlyArray<Rule>
  /** Why, in words for people. */
  readonly explanation: string
}

/**
 * A rule's `command` glob as an expression: `*` any text, `?` one character, `\` makes the next
 * character literal (`ls \*.ts` names that command exactly), the rest literal.
 */
const globCache = new Map<string, RegExp>()
export const globExpression = (glob: string): RegExp => {
  let cached = globCache.get(glob)
  if (cached === undefined) {
    let body = ""
    for (let i = 0; i < glob.length; i++) {
      const char = glob[i]!
      if (char === "\\" && i + 1 < glob.length) body += escapeRegex(glob[++i]!)
      else if (char === "*") body += "[\\s\\S]*"
      else if (char === "?") body += "[\\s\\S]"
      else body += escapeRegex(char)
    }
    cached = new RegExp(`^${body}$`)
    if (globCache.size > 1000) globCache.clear()
    globCache.set(glob, cached)
  }
  return cached
}

const escapeRegex = (char: string): string => char.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")

/** A command as a glob that matches it alone (its `*`, `?` and `\` escaped). */
export const globLiteral = (text: string): string => text.replace(/[*?\\]/g, "\\$&")

/** The command a glob names exactly, or null when it has a wildcard. */
const exactName = (glob: string): string | null => {
  let text = ""
  for (let i = 0; i < glob.length; i++) {
    const char = glob[i]!
    if (char === "\\" && i + 1 < glob.length) text += glob[++i]
    else if (char === "*" || char === "?") return null
    else text += char
  }
  return text
}

const regexCache = new Map<string, RegExp | null>()
const expressionOf = (source: string): RegExp | null => {
  if (!regexCache.has(source)) {
    let compiled: RegExp | null
    try {
      compiled = new RegExp(source)
    } catch {
      compiled = null
    }
    if (regexCache.size > 1000) regexCache.clear()
    regexCache.set(source, compiled)
  }
  return regexCache.get(source)!
}

/** Whether a rule's regular expression is valid (checked before a rule is accepted). */
export const validRegex = (source: string): boolean => expressionOf(source) !== null

/** How specific a rule's scope is: a session's rules, then projects (a deeper directory first), then global. */
export const specificity = (rule: Rule): number =>
  rule.scope.kind === "session" ? 1_000_000 : rule.scope.kind === "project" ? 1_000 + rule.scope.cwd.length : 0

const inScope = (rule: Rule, facts: RequestFacts): boolean => {
  switch (rule.scope.kind) {
    case "global":
      return true
    case "session":
      return rule.scope.session_id === facts.sessionId
    case "project": {
      const root = rule.scope.cwd.replace(/\/+$/, "") || "/"
      return facts.cwd === root || facts.cwd.startsWith(root === "/" ? "/" : `${root}/`)
    }
  }
}

/** The conditions about the whole request (all but the command ones). */
const requestMatches = (match: RuleMatch, facts: RequestFacts): boolean =>
  (match.kind === undefined || match.kind.includes(facts.kind)) &&
  (match.tool === undefined || match.tool.includes(facts.tool)) &&
  (match.provider === undefined || match.provider.includes(facts.provider)) &&
  (match.paths === undefined || (match.paths === "inside") === facts.inside)

/** Whether a command (or, null, the request as a unit) meets the rule's command conditions. */
const commandMatches = (match: RuleMatch, command: SimpleCommand | null, facts: RequestFacts): boolean => {
  if (match.command !== undefined && (command === null || !globExpression(match.command).test(command.text))) return false
  if (match.command_regex !== undefined) {
    const expression = expressionOf(match.command_regex)
    if (expression === null || command === null || !expression.test(command.text)) return false
  }
  if (match.risk !== undefined) {
    const risk = command === null ? facts.risk : command.risk
    if (!match.risk.some((r) => risk.includes(r))) return false
  }
  return true
}

/** Whether an allow rule lets this command through: it matches, and names a destructive one exactly. */
const covers = (rule: Rule, command: SimpleCommand | null, facts: RequestFacts): boolean => {
  if (!commandMatches(rule.match, command, facts)) return false
  const risk = command === null ? facts.risk : command.risk
  if (!risk.includes("destructive")) return true
  return command !== null && rule.match.command !== undefined && exactName(rule.match.command) === command.text
}

const mostSpecific = (rules: ReadonlyArray<Rule>): Rule | undefined =>
  rules.reduce<Rule | undefined>((best, rule) => (best === undefined || specificity(rule) > specificity(best) ? rule : best), undefined)

const describe = (rule: Rule): string => `${rule.effect} rule ${rule.id}${rule.note === undefined ? "" : ` (${rule.note})`}`

interface UnitVerdict {
  readonly effect: RuleEffect
  readonly rule: Rule | undefined
  readonly what: string
}

/** Whether a rule names a command itself (a glob or an expression), not only a class of commands. */
const namesCommands = (rule: Rule): boolean => rule.match.command !== undefined || rule.match.command_regex !== undefined

const judge = (applicable: ReadonlyArray<Rule>, command: SimpleCommand | null, facts: RequestFacts): UnitVerdict => {
  const what = command === null ? `this ${facts.kind} request` : `\`${command.text}\``
  const denies = applicable.filter((rule) => rule.effect === "deny" && commandMatches(rule.match, command, facts))
  // "Deny destructive unless a rule names the command exactly": a deny by class gives way to an
  // allow naming this very command; a deny that names commands itself never does.
  const named =
    command === null
      ? undefined
      : mostSpecific(
          applicable.filter(
            (rule) => rule.effect === "allow" && rule.match.command !== undefined && exactName(rule.match.command) === command.text && commandMatches(rule.match, command, facts)
          )
        )
  const deny = mostSpecific(named === undefined ? denies : denies.filter(namesCommands))
  if (deny !== undefined) return { effect: "deny", rule: deny, what }
  if (named !== undefined && denies.length > 0) return { effect: "allow", rule: named, what: `${what} (named exactly: a deny by its class gives way)` }
  const allow = mostSpecific(applicable.filter((rule) => rule.effect === "allow" && covers(rule, command, facts)))
  const ask = mostSpecific(applicable.filter((rule) => rule.effect === "ask" && commandMatches(rule.match, command, facts)))
  if (ask !== undefined && (allow === undefined || specificity(ask) >= specificity(allow))) return { effect: "ask", rule: ask, what }
  if (allow !== undefined) return { effect: "allow", rule: allow, what }
  return { effect: "ask", rule: undefined, what }
}

/** The verdict of `rules` on a request. */
export const decide = (rules: ReadonlyArray<Rule>, facts: RequestFacts): Verdict => {
  const applicable = rules.filter((rule) => inScope(rule, facts) && requestMatches(rule.match, facts))
  if (applicable.length === 0) return { effect: "ask", rules: [], explanation: "no rule matches" }
  const units: ReadonlyArray<SimpleCommand | null> = facts.commands.length === 0 ? [null] : facts.commands
  const verdicts = units.map((unit) => judge(applicable, unit, facts))
  const denied = verdicts.find((verdict) => verdict.effect === "deny")
  if (denied !== undefined) {
    return { effect: "deny", rules: [denied.rule!], explanation: `${denied.what} is denied by ${describe(denied.rule!)}` }
  }
  const asked = verdicts.find((verdict) => verdict.effect === "ask")
  if (asked !== undefined) {
    const why =
      asked.rule !== undefined
        ? `${asked.what} is asked by ${describe(asked.rule)}`
        : `${asked.what} is not covered by any allow rule${facts.risk.includes("destructive") && units.length > 0 ? " that names it exactly" : ""}`
    return { effect: "ask", rules: asked.rule === undefined ? [] : [asked.rule], explanation: why }
  }
  const allowing = [...new Map(verdicts.map((verdict) => [verdict.rule!.id, verdict.rule!])).values()]
  return {
    effect: "allow",
    rules: allowing,
    explanation: verdicts.map((verdict) => `${verdict.what} is allowed by ${describe(verdict.rule!)}`).join("; ")
  }
}
