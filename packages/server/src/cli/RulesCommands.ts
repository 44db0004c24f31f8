/**
 * `orbitdock rules list|add|remove|test`: the approval rules, and trying one against every past
 * request before trusting it. A thin client of `/api/rules`: the server owns the rules.
 */
import { Args, Command, Options } from "@effect/cli"
import { ApprovalKind, Provider, RiskClass, type Rule, type RuleInput } from "@orbitdock/domain"
import { Console, Effect, Option } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as ClaudePermissions from "../rules/ClaudePermissions.js"
import { CliError, deleteJson, getJson, postJson } from "./ServerClient.js"
import { clientOptions, endpointOf } from "./Shared.js"

const json = Options.boolean("json").pipe(Options.withDescription("Print JSON instead of text"))

const list = (name: string, known: ReadonlyArray<string>, what: string) =>
  Options.text(name).pipe(Options.optional, Options.withDescription(`${what}, comma-separated (${known.join(", ")})`))

const ruleOptions = {
  effect: Args.choice([["allow", "allow"], ["ask", "ask"], ["deny", "deny"]] as const, { name: "effect" }).pipe(
    Args.withDescription("allow, ask or deny what matches")
  ),
  command: Options.text("command").pipe(Options.optional, Options.withDescription("A glob over each parsed simple command (`*` any text): `git status*`; without wildcards it names a command exactly")),
  regex: Options.text("regex").pipe(Options.optional, Options.withDescription("A regular expression over each parsed simple command")),
  kind: list("kind", ApprovalKind.literals, "Request kinds"),
  tool: Options.text("tool").pipe(Options.optional, Options.withDescription("Tool names, comma-separated (Claude's Bash, Write, …; Codex's shell, apply_patch)")),
  risk: list("risk", RiskClass.literals, "Risk classes"),
  provider: list("provider", Provider.literals, "Agents"),
  paths: Options.choice("paths", ["inside", "outside"] as const).pipe(Options.optional, Options.withDescription("Where the files it touches are, against the session's directory")),
  project: Options.text("project").pipe(Options.optional, Options.withDescription("Only sessions in this directory (absolute) or under it")),
  session: Options.text("session").pipe(Options.optional, Options.withDescription("Only this session")),
  id: Options.text("id").pipe(Options.optional, Options.withDescription("The rule's id (default: one is made up)")),
  note: Options.text("note").pipe(Options.optional, Options.withDescription("Why the rule exists, shown with its decisions"))
}

interface RuleFlags {
  readonly effect: "allow" | "ask" | "deny"
  readonly command: Option.Option<string>
  readonly regex: Option.Option<string>
  readonly kind: Option.Option<string>
  readonly tool: Option.Option<string>
  readonly risk: Option.Option<string>
  readonly provider: Option.Option<string>
  readonly paths: Option.Option<"inside" | "outside">
  readonly project: Option.Option<string>
  readonly session: Option.Option<string>
  readonly id: Option.Option<string>
  readonly note: Option.Option<string>
}

const split = (option: Option.Option<string>, known?: ReadonlyArray<string>, what?: string): Effect.Effect<ReadonlyArray<string> | undefined, CliError> => {
  if (Option.isNone(option)) return Effect.succeed(undefined)
  const values = option.value.split(",").map((v) => v.trim()).filter((v) => v !== "")
  const unknown = known === undefined ? [] : values.filter((v) => !known.includes(v))
  return unknown.length > 0 ? Effect.fail(new CliError({ message: `unknown ${what}: ${unknown.join(", ")} (known: ${known!.join(", ")})` })) : Effect.succeed(values)
}

const inputOf = (flags: RuleFlags): Effect.Effect<RuleInput, CliError> =>
  Effect.gen(function* () {
    if (Option.isSome(flags.project) && Option.isSome(flags.session)) return yield* Effect.fail(new CliError({ message: "give --project or --session, not both" }))
    const kind = yield* split(flags.kind, ApprovalKind.literals, "kind")
    const tool = yield* split(flags.tool)
    const risk = yield* split(flags.risk, RiskClass.literals, "risk class")
    const provider = yield* split(flags.provider, Provider.literals, "provider")
    const match = {
      ...(Option.isSome(flags.command) ? { command: flags.command.value } : {}),
      ...(Option.isSome(flags.regex) ? { command_regex: flags.regex.value } : {}),
      ...(kind === undefined ? {} : { kind }),
      ...(tool === undefined ? {} : { tool }),
      ...(risk === undefined ? {} : { risk }),
      ...(provider === undefined ? {} : { provider }),
      ...(Option.isSome(flags.paths) ? { paths: flags.paths.value } : {})
    }
    const scope = Option.isSome(flags.project)
      ? { kind: "project" as const, cwd: flags.project.value }
      : Option.isSome(flags.session)
        ? { kind: "session" as const, session_id: flags.session.value }
        : { kind: "global" as const }
    return {
      effect: flags.effect,
      scope,
      match,
      ...(Option.isSome(flags.id) ? { id: flags.id.value } : {}),
      ...(Option.isSome(flags.note) ? { note: flags.note.value } : {})
    } as RuleInput
  })

const scopeText = (rule: Rule): string =>
  rule.scope.kind === "global" ? "everywhere" : rule.scope.kind === "project" ? `in ${rule.scope.cwd}` : `in session ${rule.scope.session_id}`

export const ruleLine = (rule: Rule): string => {
  const m = rule.match
  const parts = [
    m.command === undefined ? null : `command ${JSON.stringify(m.command)}`,
    m.command_regex === undefined ? null : `regex /${m.command_regex}/`,
    m.kind === undefined ? null : `kind ${m.kind.join(",")}`,
    m.tool === undefined ? null : `tool ${m.tool.join(",")}`,
    m.risk === undefined ? null : `risk ${m.risk.join(",")}`,
    m.provider === undefined ? null : `provider ${m.provider.join(",")}`,
    m.paths === undefined ? null : `paths ${m.paths}`
  ].filter((part) => part !== null)
  return `${rule.id}  ${rule.effect.padEnd(5)}  ${parts.length === 0 ? "anything" : parts.join("  ")}  ${scopeText(rule)}${rule.note === undefined ? "" : `  — ${rule.note}`}`
}

const listCommand = Command.make(
  "list",
  { ...clientOptions, json, at: Options.text("at").pipe(Options.optional, Options.withDescription("The rules in force at this past time (ISO)")) },
  (flags) =>
    Effect.gen(function* () {
      const query = Option.isSome(flags.at) ? `?at=${encodeURIComponent(flags.at.value)}` : ""
      const answer = (yield* getJson(yield* endpointOf(flags), `/api/rules${query}`)) as { rules: ReadonlyArray<Rule> }
      if (flags.json) return yield* Console.log(JSON.stringify(answer, null, 2))
      yield* Console.log(answer.rules.length === 0 ? "no rules: every request is asked (`orbitdock rules add …`)" : answer.rules.map(ruleLine).join("\n"))
    })
).pipe(Command.withDescription("The approval rules in force (or at a past time)"))

const addCommand = Command.make("add", { ...clientOptions, ...ruleOptions }, (flags) =>
  Effect.gen(function* () {
    const rule = (yield* postJson(yield* endpointOf(flags), "/api/rules", yield* inputOf(flags))) as Rule
    yield* Console.log(`added ${ruleLine(rule)}`)
  })
).pipe(Command.withDescription("Add a rule: from now on it decides what it matches (try it first with `rules test`)"))

const removeCommand = Command.make(
  "remove",
  { ...clientOptions, id: Args.text({ name: "rule_id" }).pipe(Args.withDescription("The rule's id (as `rules list` shows it)")) },
  (flags) =>
    Effect.gen(function* () {
      yield* deleteJson(yield* endpointOf(flags), `/api/rules/${encodeURIComponent(flags.id)}`)
      yield* Console.log(`removed ${flags.id}`)
    })
).pipe(Command.withDescription("Remove a rule"))

interface Transition {
  readonly from: string
  readonly to: string
  readonly count: number
  readonly approved_then: number
  readonly denied_then: number
  readonly examples: ReadonlyArray<{ readonly session_id: string; readonly what: string; readonly outcome: string | null; readonly explanation: string }>
}

const testCommand = Command.make("test", { ...clientOptions, json, ...ruleOptions }, (flags) =>
  Effect.gen(function* () {
    const report = (yield* postJson(yield* endpointOf(flags), "/api/rules/simulate", { add: [yield* inputOf(flags)] })) as {
      requests: number
      unchanged: number
      changes: ReadonlyArray<Transition>
      skipped: number
      elapsed_ms: number
    }
    if (flags.json) return yield* Console.log(JSON.stringify(report, null, 2))
    const lines = [`${report.requests} past request(s) judged in ${report.elapsed_ms} ms: ${report.unchanged} decided as before`]
    if (report.changes.length === 0) lines.push("this rule would have changed nothing")
    for (const change of report.changes) {
      const then = change.from === "ask" ? ` (a person approved ${change.approved_then}, denied ${change.denied_then})` : ""
      lines.push(`${change.count} ${change.from} → ${change.to}${then}`)
      for (const example of change.examples) lines.push(`  ${example.session_id}  ${example.what}  — ${example.explanation}`)
    }
    if (report.skipped > 0) lines.push(`${report.skipped} request(s) of sessions no longer known were skipped`)
    yield* Console.log(lines.join("\n"))
  })
).pipe(Command.withDescription("Try a rule against every past request: what it would have decided differently"))

/** Claude Code's settings files for the user (and a project), each with the scope its rules get. */
const claudeSettingsFiles = (project: string | null): ReadonlyArray<{ readonly file: string; readonly scope: RuleInput["scope"]; readonly source: string }> => {
  const configDir = process.env.CLAUDE_CONFIG_DIR ?? path.join(os.homedir(), ".claude")
  const files: Array<{ file: string; scope: RuleInput["scope"]; source: string }> = [
    { file: path.join(configDir, "settings.json"), scope: { kind: "global" }, source: "user settings" }
  ]
  if (project !== null) {
    for (const name of ["settings.json", "settings.local.json"]) {
      files.push({ file: path.join(project, ".claude", name), scope: { kind: "project", cwd: project }, source: `project ${name}` })
    }
  }
  return files
}

const importClaude = Command.make(
  "import-claude",
  {
    ...clientOptions,
    json,
    project: Options.directory("project").pipe(Options.optional, Options.withDescription("Also this project's .claude/settings.json and settings.local.json (as rules of the project)")),
    apply: Options.boolean("apply").pipe(Options.withDescription("Add the rules (without it: show them and what they would have decided)"))
  },
  (flags) =>
    Effect.gen(function* () {
      const endpoint = yield* endpointOf(flags)
      const project = Option.isSome(flags.project) ? path.resolve(flags.project.value) : null
      const rules: Array<RuleInput> = []
      const skipped: Array<{ entry: string; why: string }> = []
      const read: Array<string> = []
      for (const { file, scope, source } of claudeSettingsFiles(project)) {
        let text: string
        try {
          text = fs.readFileSync(file, "utf8")
        } catch {
          continue // no such settings: nothing to import from it
        }
        let settings: unknown
        try {
          settings = JSON.parse(text)
        } catch (error) {
          return yield* Effect.fail(new CliError({ message: `${file} is not JSON: ${error instanceof Error ? error.message : String(error)}` }))
        }
        const imported = ClaudePermissions.importSettings(settings, scope, source)
        read.push(file)
        rules.push(...imported.rules)
        skipped.push(...imported.skipped.map((s) => ({ ...s, entry: `${source}: ${s.entry}` })))
      }
      const report =
        rules.length === 0 ? null : ((yield* postJson(endpoint, "/api/rules/simulate", { add: rules })) as { requests: number; unchanged: number })
      const added: Array<Rule> = []
      if (flags.apply) for (const rule of rules) added.push((yield* postJson(endpoint, "/api/rules", rule)) as Rule)
      if (flags.json) return yield* Console.log(JSON.stringify({ read, rules, skipped, report, added }, null, 2))
      const lines = [read.length === 0 ? "no Claude Code settings found" : `read ${read.join(", ")}`]
      for (const rule of rules) lines.push(`${flags.apply ? "added" : "would add"}: ${rule.effect} ${JSON.stringify(rule.match)} (${rule.scope.kind === "global" ? "everywhere" : `in ${(rule.scope as { cwd: string }).cwd}`})`)
      for (const skip of skipped) lines.push(`skipped ${skip.entry}: ${skip.why}`)
      if (report !== null) lines.push(`against the past: ${report.requests - report.unchanged} of ${report.requests} request(s) would have been decided differently (\`orbitdock rules test\` shows which)`)
      if (!flags.apply && rules.length > 0) lines.push("nothing was added: run again with --apply")
      yield* Console.log(lines.join("\n"))
    })
).pipe(Command.withDescription("Claude Code's own permissions (allow, ask, deny) as rules: shown, or added with --apply; Claude's files are only read"))

export const command = Command.make("rules").pipe(
  Command.withDescription("Approval rules: allow, ask or deny requests before they reach you"),
  Command.withSubcommands([listCommand, addCommand, removeCommand, testCommand, importClaude])
)
