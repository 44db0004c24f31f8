import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { decodeHook, permissionAnswer, preToolUseAnswer } from "../../../src/connectors/claude/HookSchemas.js"
import { hookPayloads } from "./fixtures.js"

describe("HookSchemas", () => {
  it("decodes every hook body Claude Code 2.1.332 really sent", () => {
    const payloads = hookPayloads()
    expect(payloads.length).toBeGreaterThan(50)
    const names = new Set<string>()
    for (const { payload } of payloads) {
      const decoded = decodeHook(payload)
      if (Either.isLeft(decoded)) throw new Error(`${String(payload.hook_event_name)}: ${decoded.left}`)
      expect(decoded.right.session_id).toBe(payload.session_id)
      names.add(decoded.right.hook_event_name)
    }
    for (const name of ["SessionStart", "UserPromptSubmit", "PreToolUse", "PermissionRequest", "PostToolUse", "Stop", "SessionEnd"]) {
      expect(names).toContain(name)
    }
  })

  it("keeps the fields the connector needs", () => {
    const permission = hookPayloads().find((p) => p.payload.hook_event_name === "PermissionRequest")!.payload
    const decoded = Either.getOrThrow(decodeHook(permission))
    expect(decoded).toMatchObject({
      hook_event_name: "PermissionRequest",
      tool_name: "Bash",
      tool_input: { command: expect.any(String) },
      cwd: expect.any(String),
      transcript_path: expect.stringMatching(/\.jsonl$/)
    })
    expect("permission_suggestions" in decoded && decoded.permission_suggestions?.length).toBe(1)
  })

  it("accepts unknown events and unknown fields (a newer Claude Code)", () => {
    const decoded = decodeHook({ session_id: "s1", hook_event_name: "TeammateIdle", cwd: "/w", brand_new: { x: 1 } })
    expect(Either.getOrThrow(decoded)).toMatchObject({ session_id: "s1", hook_event_name: "TeammateIdle", _unknown: true })
    const extra = decodeHook({ session_id: "s1", hook_event_name: "Stop", future_field: [1, 2], effort: { level: "high" } })
    expect(Either.isRight(extra)).toBe(true)
  })

  it("refuses malformed bodies with a reason", () => {
    const cases: Array<[unknown, RegExp]> = [
      [[1, 2], /JSON object/],
      [null, /JSON object/],
      ["SessionStart", /JSON object/],
      [{ hook_event_name: "Stop" }, /session_id/],
      [{ session_id: "", hook_event_name: "Stop" }, /session_id|minLength|at least/i],
      [{ session_id: "s".repeat(129), hook_event_name: "Stop" }, /session_id|maxLength|at most/i],
      [{ session_id: "s", hook_event_name: "E".repeat(129) }, /hook_event_name|maxLength|at most/i],
      [{ session_id: "s", hook_event_name: 7 }, /hook_event_name/],
      [{ session_id: "s", hook_event_name: "PreToolUse", tool_name: 3 }, /tool_name/],
      [{ session_id: "s", hook_event_name: "Stop", cwd: 5 }, /cwd/]
    ]
    for (const [body, reason] of cases) {
      const decoded = decodeHook(body)
      expect(Either.isLeft(decoded), JSON.stringify(body)).toBe(true)
      if (Either.isLeft(decoded)) expect(decoded.left).toMatch(reason)
    }
  })

  it("builds the answers FORMATS.md documents", () => {
    expect(permissionAnswer({ behavior: "allow" })).toEqual({
      hookSpecificOutput: { hookEventName: "PermissionRequest", decision: { behavior: "allow" } }
    })
    expect(permissionAnswer({ behavior: "deny", message: "no" })).toEqual({
      hookSpecificOutput: { hookEventName: "PermissionRequest", decision: { behavior: "deny", message: "no" } }
    })
    expect(preToolUseAnswer("deny", "r")).toEqual({
      hookSpecificOutput: { hookEventName: "PreToolUse", permissionDecision: "deny", permissionDecisionReason: "r" }
    })
  })
})
