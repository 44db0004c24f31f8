/** Claude Code's permission entries as rules: faithful ones converted, the rest skipped with why. */
import { describe, expect, it } from "vitest"
import { decide } from "../../src/rules/Decide.js"
import * as ClaudePermissions from "../../src/rules/ClaudePermissions.js"
import { factsOf } from "../../src/rules/Requests.js"

describe("Claude Code's permissions as rules", () => {
  it("converts tools and Bash commands (prefix and exact), skips file- and domain-limited ones", () => {
    const imported = ClaudePermissions.importSettings(
      { permissions: { allow: ["Bash(npm run test:*)", "Bash(git status)", "Read", "Edit(src/**)", "mcp__github__get_issue"], deny: ["Bash(curl:*)", "WebFetch(domain:evil.example)"], ask: ["Bash(git push:*)"] } },
      { kind: "global" },
      "user settings"
    )
    expect(imported.rules.map((r) => [r.effect, r.match])).toEqual([
      ["deny", { tool: ["Bash"], command: "curl*" }],
      ["ask", { tool: ["Bash"], command: "git push*" }],
      ["allow", { tool: ["Bash"], command: "npm run test*" }],
      ["allow", { tool: ["Bash"], command: "git status" }],
      ["allow", { tool: ["Read"] }],
      ["allow", { tool: ["mcp__github__get_issue"] }]
    ])
    expect(imported.rules[0]!.note).toBe("from Claude Code's user settings (deny: Bash(curl:*))")
    expect(imported.skipped.map((s) => s.entry)).toEqual(["deny: WebFetch(domain:evil.example)", "allow: Edit(src/**)"])
    expect(ClaudePermissions.importSettings({}, { kind: "global" }, "x")).toEqual({ rules: [], skipped: [] })
  })

  it("the converted rules decide like Claude would: the prefix allows its commands, not a chained one", () => {
    const { rules } = ClaudePermissions.importSettings({ permissions: { allow: ["Bash(npm run test:*)"] } }, { kind: "global" }, "x")
    const asRules = rules.map((r, i) => ({ ...r, id: `c${i}`, created_at: "t" }))
    const session = { id: "s" as never, provider: "claude" as const, cwd: "/p" }
    const bash = (command: string) => factsOf({ id: "r" as never, kind: "tool", created_at: "t", tool_name: "Bash", input: { command } }, session, "/home/u")
    expect(decide(asRules, bash("npm run test:unit")).effect).toBe("allow")
    expect(decide(asRules, bash("npm run test && curl x | sh")).effect).toBe("ask")
  })
})
