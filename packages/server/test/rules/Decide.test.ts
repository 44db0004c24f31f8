/**
 * The rules' verdicts, given/when/then, and the property that no command with a destructive part is
 * allowed by a rule that does not name that part exactly.
 */
import type { ApprovalRequest, Rule, RuleMatch, SessionId } from "@orbitdock/domain"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { decide } from "../../src/rules/Decide.js"
import { factsOf } from "../../src/rules/Requests.js"
import * as Shell from "../../src/rules/Shell.js"

const HOME = "/home/anna"
const session = { id: "ses_1" as SessionId, provider: "codex" as const, cwd: "/home/anna/project" }
const exec = (command: string): ApprovalRequest => ({ id: "req_1" as never, kind: "exec", created_at: "2026-01-01T00:00:00.000Z", command })
const facts = (request: ApprovalRequest, over: Partial<typeof session> = {}) => factsOf(request, { ...session, ...over }, HOME)

let n = 0
const rule = (effect: Rule["effect"], match: RuleMatch, scope: Rule["scope"] = { kind: "global" }): Rule => ({
  id: `r${++n}`,
  effect,
  scope,
  match,
  created_at: "2026-01-01T00:00:00.000Z"
})

describe("given no rules", () => {
  it("when anything is asked, then the person is asked", () => {
    expect(decide([], facts(exec("git status")))).toMatchObject({ effect: "ask", rules: [], explanation: "no rule matches" })
  })
})

describe("given allow git status*", () => {
  const allow = rule("allow", { command: "git status*" })
  it("when git status runs, then it is allowed, naming the rule", () => {
    expect(decide([allow], facts(exec("git status --short")))).toMatchObject({ effect: "allow", rules: [allow] })
  })
  it("when git status is chained with rm -rf ~, then the person is asked (the parsed commands, not the text)", () => {
    const verdict = decide([allow], facts(exec("git status && rm -rf ~")))
    expect(verdict.effect).toBe("ask")
    expect(verdict.explanation).toContain("`rm -rf ~` is not covered by any allow rule")
  })
})

describe("given allow read_only everywhere and deny destructive", () => {
  const readOnly = rule("allow", { risk: ["read_only"] })
  const noDestruction = rule("deny", { risk: ["destructive"] })
  it("reads are allowed, destruction denied, the rest asked", () => {
    expect(decide([readOnly, noDestruction], facts(exec("ls -la && cat README.md"))).effect).toBe("allow")
    expect(decide([readOnly, noDestruction], facts(exec("git push --force")))).toMatchObject({ effect: "deny", rules: [noDestruction] })
    expect(decide([readOnly, noDestruction], facts(exec("npm test"))).effect).toBe("ask")
  })
})

describe("given deny destructive, and an allow naming one destructive command exactly", () => {
  const noDestruction = rule("deny", { risk: ["destructive"] })
  const cleanBuild = rule("allow", { command: "rm -rf build" })
  it("that command is allowed (a deny by class gives way to a rule naming it); any other destructive one is denied", () => {
    expect(decide([noDestruction, cleanBuild], facts(exec("rm -rf build")))).toMatchObject({ effect: "allow", rules: [cleanBuild] })
    expect(decide([noDestruction, cleanBuild], facts(exec("rm -rf build && rm -rf ~")))).toMatchObject({ effect: "deny", rules: [noDestruction] })
    expect(decide([noDestruction, cleanBuild], facts(exec("rm -rf dist"))).effect).toBe("deny")
  })
  it("a deny naming commands itself still beats the exact allow", () => {
    const noRm = rule("deny", { command: "rm *" })
    expect(decide([noRm, cleanBuild], facts(exec("rm -rf build"))).effect).toBe("deny")
  })
})

describe("deny beats allow; the most specific scope wins among the others", () => {
  it("a deny anywhere beats an allow of the session", () => {
    const allow = rule("allow", { command: "npm *" }, { kind: "session", session_id: session.id })
    const deny = rule("deny", { command: "npm publish*" })
    expect(decide([allow, deny], facts(exec("npm publish"))).effect).toBe("deny")
    expect(decide([allow, deny], facts(exec("npm test"))).effect).toBe("allow")
  })
  it("a project's ask beats a global allow; a session's allow beats the project's ask", () => {
    const globalAllow = rule("allow", { command: "npm *" })
    const projectAsk = rule("ask", { command: "npm run deploy" }, { kind: "project", cwd: "/home/anna/project" })
    expect(decide([globalAllow, projectAsk], facts(exec("npm run deploy"))).effect).toBe("ask")
    expect(decide([globalAllow, projectAsk], facts(exec("npm run deploy"), { cwd: "/home/anna/other" })).effect).toBe("allow")
    const sessionAllow = rule("allow", { command: "npm run deploy" }, { kind: "session", session_id: session.id })
    expect(decide([globalAllow, projectAsk, sessionAllow], facts(exec("npm run deploy")))).toMatchObject({ effect: "allow", rules: [sessionAllow] })
  })
})

describe("matching on kind, tool, provider, paths and expressions", () => {
  const patch = (diff: string): ApprovalRequest => ({ id: "req_2" as never, kind: "patch", created_at: "2026-01-01T00:00:00.000Z", diff, tool_name: "apply_patch" })
  it("a patch inside the project is allowed by a paths rule; one outside it is not", () => {
    const insidePatches = rule("allow", { kind: ["patch"], paths: "inside" })
    expect(decide([insidePatches], facts(patch("--- a/src/x.ts\n+++ b/src/x.ts\n@@\n-a\n+b\n"))).effect).toBe("allow")
    expect(decide([insidePatches], facts(patch("--- a/../../.bashrc\n+++ b/../../.bashrc\n"))).effect).toBe("ask")
  })
  it("Claude's tools by name, and a provider", () => {
    const write = (file: string): ApprovalRequest => ({ id: "req_3" as never, kind: "tool", created_at: "2026-01-01T00:00:00.000Z", tool_name: "Write", input: { file_path: file } })
    const allowWrites = rule("allow", { tool: ["Write"], provider: ["claude"], paths: "inside" })
    expect(decide([allowWrites], facts(write("/home/anna/project/a.md"), { provider: "claude" as never })).effect).toBe("allow")
    expect(decide([allowWrites], facts(write("/etc/passwd"), { provider: "claude" as never })).effect).toBe("ask")
    expect(decide([allowWrites], facts(write("/home/anna/project/a.md"))).effect).toBe("ask")
  })
  it("a regular expression over each command", () => {
    const tests = rule("allow", { command_regex: "^(npm|pnpm) (test|run lint)$" })
    expect(decide([tests], facts(exec("npm test && pnpm run lint"))).effect).toBe("allow")
    expect(decide([tests], facts(exec("npm test; npm run build"))).effect).toBe("ask")
  })
})

describe("a destructive command is allowed only by a rule that names it exactly", () => {
  it("a glob, a risk class or an expression does not let it through; its exact name does", () => {
    const command = "rm -rf build"
    expect(decide([rule("allow", { command: "rm *" })], facts(exec(command))).effect).toBe("ask")
    expect(decide([rule("allow", { risk: ["writes_project", "destructive"] })], facts(exec(command))).effect).toBe("ask")
    expect(decide([rule("allow", { command_regex: "^rm" })], facts(exec(command))).effect).toBe("ask")
    expect(decide([rule("allow", { command })], facts(exec(command))).effect).toBe("allow")
  })

  // Words from which commands are built: harmless ones and parts of destructive ones.
  const word = fc.constantFrom("git", "status", "push", "--force", "rm", "-rf", "build", "~", "ls", "npm", "test", "reset", "--hard", "curl", "x.sh", "sh", "clean", "-fd", "sudo", "echo", "hi")
  const simple = fc.array(word, { minLength: 1, maxLength: 4 }).map((words) => words.join(" "))
  const line = fc.tuple(fc.array(simple, { minLength: 1, maxLength: 4 }), fc.array(fc.constantFrom(" && ", " ; ", " | ", " || "), { minLength: 3, maxLength: 3 })).map(
    ([parts, joins]) => parts.map((part, i) => (i === 0 ? part : `${joins[(i - 1) % joins.length]}${part}`)).join("")
  )
  const globOf = fc.tuple(simple, fc.constantFrom("*", "", " *", "?")).map(([text, tail]) => `${text}${tail}`)
  const allowRule = fc.oneof(
    globOf.map((command) => ({ command })),
    fc.constantFrom<RuleMatch>({ risk: ["read_only"] }, { risk: ["destructive"] }, { risk: ["writes_project", "writes_outside"] }, { command_regex: "." }, { command_regex: "^(rm|git)" }, {}),
    simple.map((command) => ({ command }))
  )

  it("property: whatever the allow rules, every destructive part of an allowed line is named exactly by one of them", () => {
    fc.assert(
      fc.property(line, fc.array(allowRule, { minLength: 1, maxLength: 5 }), (text, matches) => {
        const rules = matches.map((match) => rule("allow", match))
        const request = facts(exec(text))
        const verdict = decide(rules, request)
        if (verdict.effect !== "allow") return true
        const analysis = Shell.analyze(text, session.cwd, HOME)
        return analysis.commands
          .filter((command) => command.risk.includes("destructive"))
          .every((command) => rules.some((r) => r.match.command === command.text && !/[*?]/.test(r.match.command)))
      }),
      { numRuns: 500 }
    )
  })
})
