/**
 * `CodexRolloutTranslate` against rollout files the real `codex exec` 0.171.0 wrote: a watch-only
 * session with each message once (rollouts hold assistant and user messages twice), tools with
 * their output, token totals, and failures shown as errors.
 */
import { Either, Schema } from "effect"
import * as fs from "node:fs"
import { describe, expect, it } from "vitest"
import * as R from "../../../src/connectors/codex/CodexRolloutTranslate.js"
import { fixture, fold, NOW } from "./replay.js"

const records = (name: string) =>
  fs
    .readFileSync(fixture(name), "utf8")
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => Either.getOrThrow(Schema.decodeUnknownEither(Schema.parseJson(R.RolloutRecord))(line)))

const translate = (name: string) => {
  let state = R.initialRollout
  const events = []
  for (const record of records(name)) {
    const step = R.translateRolloutRecord(state, record, NOW)
    state = step.state
    events.push(...step.events)
  }
  return { state, events }
}

describe("CodexRolloutTranslate on real rollouts", () => {
  it("a shell run: a watch-only session, each message once, the tool's output", () => {
    const { events } = translate("rollout-exec-shell.jsonl")
    const created = events[0]!.event as any
    expect(created).toMatchObject({ type: "session_created", provider: "codex", watch_only: true, status: "waiting" })
    expect(created.external_id).toMatch(/^[0-9a-f-]{36}$/)
    expect(created.cwd).toMatch(/work-a-1$/)
    // The fold starts from its own session_created; drop ours.
    const { state } = fold(events.slice(1))
    expect(state.status).toBe("waiting")
    expect(state.model).toBe("gpt-5.5")
    expect(state.messages.map((m) => [m.role, m.content.split("\n")[0]])).toEqual([
      ["user", "SCENARIO:shell echo hi"],
      ["assistant", "I will run a shell command."],
      ["tool", "echo hi"],
      ["assistant", "Done. The tool reported:"]
    ])
    expect(state.messages[2]!.tool).toEqual({ name: "shell", input: { command: "echo hi" }, output: "hi\n", status: "ok", exit_code: 0 })
    expect(state.token_usage).toMatchObject({ input: 310, output: 50, total: 360 })
    expect(events.map((e) => e.event.type)).toContain("turn_completed")
  })

  it("a patch run: the file change as an apply_patch tool message", () => {
    const { state } = fold(translate("rollout-exec-patch.jsonl").events.slice(1))
    const tool = state.messages.find((m) => m.role === "tool")!
    expect(tool.content).toMatch(/^add .*notes\/a\.md$/)
    expect(tool.tool).toMatchObject({ name: "apply_patch", status: "ok" })
  })

  it("a failed run: the error is visible and the turn aborted", () => {
    const { events } = translate("rollout-exec-fail.jsonl")
    const { state } = fold(events.slice(1))
    expect(state.messages.map((m) => m.role)).toEqual(["user", "system"])
    expect(state.messages[1]!.content).toContain("mock: the upstream model refused this request")
    expect(events.at(-1)!.event).toMatchObject({ type: "turn_aborted", reason: "failed" })
  })

  it("recognizes the session_meta that identifies a rollout", () => {
    const [first] = records("rollout-exec-shell.jsonl")
    expect(R.sessionMetaOf(first!)).toMatchObject({ originator: "codex_exec", source: "exec" })
    expect(R.sessionMetaOf({ type: "event_msg", payload: {} })).toBeUndefined()
  })
})
