/**
 * `CodexTranslate` against recorded `codex app-server` 0.171.0 transcripts: every notification and
 * server request we use decodes with our schemas, each turn becomes the expected domain events, the
 * folded session (real projection) shows what a user should see, and re-delivery is idempotent.
 */
import { describe, expect, it } from "vitest"
import * as T from "../../../src/connectors/codex/CodexTranslate.js"
import { fold, NOW, readTranscript, replayLines, threadIdOf, turnLines } from "./replay.js"

const untrusted = readTranscript("untrusted-full-access.jsonl")
const onRequest = readTranscript("on-request-workspace-write.jsonl")
const planMode = readTranscript("plan-mode-request-user-input.jsonl")
const thread = threadIdOf(untrusted)
const server1 = untrusted.filter((l) => l.label === "server1" || l.label === undefined)

const describeEvent = (input: { event: any }) => {
  const e = input.event
  switch (e.type) {
    case "message_appended":
      return `append ${e.message.role}${e.message.streaming ? " streaming" : ""}`
    case "message_updated":
      return `update${e.changes.streaming === false ? " final" : ""}`
    default:
      return e.type
  }
}

describe("CodexTranslate on recorded transcripts", () => {
  it("decodes every notification and server request we translate", () => {
    for (const lines of [untrusted, onRequest, planMode]) {
      expect(replayLines(lines, threadIdOf(lines)).undecodable).toEqual([])
    }
  })

  it("a text turn: user message, streamed reasoning and answer, tokens, completion", () => {
    const { events } = replayLines(turnLines(server1, "SCENARIO:text Say hello."), thread)
    expect(events.map(describeEvent)).toEqual([
      "turn_started",
      "append user",
      "append reasoning streaming",
      "update",
      "update",
      "update",
      "update final",
      "append assistant streaming",
      ...Array(7).fill("update"),
      "update final",
      "tokens_updated",
      "turn_completed"
    ])
    const updates = events.filter((e) => e.event.type === "message_updated").map((e: any) => e.event.changes.content)
    // Full content so far, never a fragment.
    expect(updates.slice(4, 7)).toEqual(["Hello fr", "Hello from the m", "Hello from the mock mode"])
    const { state } = fold(events)
    expect(state.status).toBe("waiting")
    expect(state.messages.map((m) => [m.role, m.content, m.streaming ?? false])).toEqual([
      ["user", "SCENARIO:text Say hello.", false],
      ["reasoning", "**Thinking** about a friendly reply.", false],
      ["assistant", "Hello from the mock model! This is a plain text reply.", false]
    ])
    expect(state.token_usage).toEqual({ input: 120, output: 25, cached_input: 0, total: 145, context_window: 258400 })
  })

  it("an exec approval: request with command, cwd; the tool's output and exit code", () => {
    const { events } = replayLines(turnLines(server1, "SCENARIO:shell"), thread)
    const asked = events.find((e) => e.event.type === "approval_requested")!.event as any
    expect(asked.request).toMatchObject({ kind: "exec", cwd: "/home/user/codex-lab/work" })
    expect(asked.request.command).toContain("out/shell.txt")
    const { state } = fold(events)
    expect(state.pending_approval).toBeNull()
    const tool = state.messages.find((m) => m.role === "tool")!
    expect(tool.tool).toMatchObject({
      name: "shell",
      status: "ok",
      exit_code: 0,
      output: "hello from codex\ntick 1\ntick 2\ntick 3\n"
    })
    // (observed) The first output chunk is not streamed; the deltas still show progress.
    const outputs = events
      .filter((e) => e.event.type === "message_updated" && (e.event as any).message_id === tool.id)
      .map((e: any) => e.event.changes.tool?.output)
    expect(outputs).toContain("tick 2\n")
  })

  it("a declined exec: the tool message ends in error and the approval resolves as denied", () => {
    const { events } = replayLines(turnLines(server1, "SCENARIO:shell_decline"), thread)
    expect(events.filter((e) => e.event.type === "approval_resolved").map((e: any) => e.event.outcome)).toEqual(["denied"])
    const { state } = fold(events)
    const tool = state.messages.find((m) => m.role === "tool")!
    expect(tool.tool?.status).toBe("error")
    expect(state.messages.at(-1)!.content).toContain("rejected by user")
  })

  it("a patch approval carries the diff of the matching fileChange item", () => {
    const { events } = replayLines(turnLines(server1, "SCENARIO:patch"), thread)
    const asked = events.find((e) => e.event.type === "approval_requested")!.event as any
    expect(asked.request.kind).toBe("patch")
    expect(asked.request.diff).toBe(
      "--- /dev/null\n+++ /home/user/codex-lab/work/notes/hello.md\n@@ -0,0 +1,3 @@\n+# Hello\n+\n+This file was proposed by the mock model through apply_patch.\n"
    )
    const { state } = fold(events)
    expect(state.diff).toContain("diff --git a/notes/hello.md b/notes/hello.md")
    // (observed) turn/diff/updated came twice with the same diff: one event.
    expect(events.filter((e) => e.event.type === "diff_updated")).toHaveLength(1)
    expect(state.messages.find((m) => m.role === "tool")!.tool).toMatchObject({ name: "apply_patch", status: "ok" })
  })

  it("a failed turn: one visible error message, then aborted", () => {
    const { events } = replayLines(turnLines(server1, "SCENARIO:fail"), thread)
    const { state } = fold(events)
    expect(state.messages.filter((m) => m.role === "system").map((m) => m.content)).toEqual([
      "error: mock: the upstream model refused this request"
    ])
    expect(events.at(-1)!.event).toMatchObject({ type: "turn_aborted", reason: "failed" })
    expect(state.status).toBe("waiting")
  })

  it("an interrupted turn closes the agent message Codex left open", () => {
    const { events } = replayLines(turnLines(server1, "SCENARIO:slow"), thread)
    const { state } = fold(events)
    expect(events.at(-1)!.event).toMatchObject({ type: "turn_aborted", reason: "interrupted" })
    const assistant = state.messages.find((m) => m.role === "assistant")!
    expect(assistant.content).toBe("This")
    expect(assistant.streaming).toBe(false)
  })

  it("the whole session folds to a consistent state, and re-delivery changes nothing", () => {
    const once = replayLines(server1, thread)
    const folded = fold(once.events)
    expect(folded.state.status).toBe("waiting")
    expect(folded.state.pending_approval).toBeNull()
    expect(folded.state.messages.every((m) => m.streaming !== true)).toBe(true)
    expect(folded.state.messages.filter((m) => m.role === "user")).toHaveLength(7)
    // Everything translated twice (a re-read or re-delivered stream): the same keys, the same state.
    const twice = fold([...once.events, ...replayLines(server1, thread).events.filter((e) => e.source_key !== undefined)])
    expect(twice.state.messages).toEqual(folded.state.messages)
    expect(twice.state.token_usage).toEqual(folded.state.token_usage)
  })

  it("after a resume in a new process, the repeated token usage is dropped by its key", () => {
    const server2 = untrusted.filter((l) => l.label === "server2")
    const before = replayLines(server1, thread)
    const after = replayLines(server2, thread)
    const tokenKeys = new Set(before.events.filter((e) => e.event.type === "tokens_updated").map((e) => e.source_key))
    const repeated = after.events.filter((e) => e.event.type === "tokens_updated" && tokenKeys.has(e.source_key))
    expect(repeated).toHaveLength(1)
    const { state } = fold([...before.events, ...after.events])
    expect(state.messages.at(-1)!.content).toBe("Hello from the mock model! This is a plain text reply.")
    expect(state.token_usage.total).toBe(1730)
  })

  it("an escalation request under on-request carries the model's reason", () => {
    const lines = onRequest.filter((l) => l.label === "server1" || l.label === undefined)
    const { events } = replayLines(turnLines(lines, "SCENARIO:shell_escalate"), threadIdOf(onRequest))
    const asked = events.find((e) => e.event.type === "approval_requested")!.event as any
    expect(asked.request.kind).toBe("exec")
    expect(typeof asked.request.reason).toBe("string")
    expect(asked.request.reason.length).toBeGreaterThan(0)
  })

  it("a question from Plan mode becomes question_asked with its options", () => {
    const lines = planMode.filter((l) => l.label === "server1" || l.label === undefined)
    const threadId = threadIdOf(planMode)
    const turn = turnLines(lines, "(plan mode)")
    const upToQuestion = turn.slice(0, turn.findIndex((l) => l.msg.method === "item/tool/requestUserInput") + 1)
    const { events, state } = replayLines(upToQuestion, threadId)
    const asked = events.find((e) => e.event.type === "question_asked")!.event as any
    expect(asked.request).toMatchObject({
      question: "Which color should the banner use?",
      options: ["Blue (Recommended)", "Red"]
    })
    // The connector answers with Codex's question ids.
    expect(state.pending[asked.request.id]).toMatchObject({ kind: "question", questionIds: ["color_choice"] })
    expect(fold(events).state.pending_question?.id).toBe(asked.request.id)
  })

  it("a process that dies mid-turn withdraws its requests and closes the turn with a visible error", () => {
    const turn = turnLines(server1, "SCENARIO:shell Please")
    const upToApproval = turn.slice(0, turn.findIndex((l) => l.msg.method === "item/commandExecution/requestApproval") + 1)
    const partial = replayLines(upToApproval, thread)
    expect(Object.keys(partial.state.pending)).toHaveLength(1)
    const exited = T.processExited(partial.state, "signal SIGKILL", NOW)
    expect(exited.state).toEqual(T.initial)
    const { state } = fold([...partial.events, ...exited.events])
    expect(state.status).toBe("waiting")
    expect(state.pending_approval).toBeNull()
    expect(state.messages.at(-1)).toMatchObject({ role: "system", content: "error: the codex process exited (signal SIGKILL)" })
    expect(state.messages.find((m) => m.role === "tool")!.tool?.status).toBe("error")
    const requestId = Object.keys(partial.state.pending)[0]
    // Withdrawn first, with why: nobody can receive an answer any more.
    expect(exited.events[0]!.event).toEqual({
      type: "approval_resolved",
      request_id: requestId,
      outcome: "withdrawn",
      reason: "signal SIGKILL"
    })
    expect(exited.events.filter((e) => e.event.type === "approval_resolved")).toHaveLength(1)
  })

  it("a process that dies while a question waits withdraws the question too", () => {
    const lines = planMode.filter((l) => l.label === "server1" || l.label === undefined)
    const turn = turnLines(lines, "(plan mode)")
    const upToQuestion = turn.slice(0, turn.findIndex((l) => l.msg.method === "item/tool/requestUserInput") + 1)
    const partial = replayLines(upToQuestion, threadIdOf(planMode))
    const [requestId] = Object.keys(partial.state.pending)
    const exited = T.processExited(partial.state, "codex app-server exited (exit code 1)", NOW)
    expect(exited.events[0]!.event).toEqual({
      type: "question_resolved",
      request_id: requestId,
      outcome: "withdrawn",
      reason: "codex app-server exited (exit code 1)"
    })
    const { state } = fold([...partial.events, ...exited.events])
    expect(state).toMatchObject({ pending_question: null, attention: false, status: "waiting" })
  })

  it("plan updates, retried errors and withdrawn requests (notifications the transcripts do not hold)", () => {
    const at = 1795738541000
    let state: T.ThreadState = { ...T.initial, turnId: "turn-1" }
    const plan = T.translateNotification(
      state,
      {
        method: "turn/plan/updated",
        emittedAtMs: at,
        params: { threadId: "t", turnId: "turn-1", plan: [{ step: "read", status: "completed" }, { step: "write", status: "inProgress" }] }
      },
      NOW
    )
    expect(plan.events[0]!.event).toEqual({
      type: "plan_updated",
      plan: [{ step: "read", status: "completed" }, { step: "write", status: "in_progress" }]
    })
    expect(plan.events[0]!.occurred_at).toBe(new Date(at).toISOString())
    const retry = T.translateNotification(
      state,
      { method: "error", params: { threadId: "t", turnId: "turn-1", error: { message: "overloaded" }, willRetry: true } },
      NOW
    )
    expect(retry.events[0]!.event).toMatchObject({ type: "message_appended", message: { role: "system", content: "error: overloaded (retrying)" } })
    state = { ...state, pending: { "call-1": { rpcId: 4, kind: "approval", questionIds: [] } } }
    const withdrawn = T.translateNotification(
      state,
      { method: "serverRequest/resolved", params: { threadId: "t", requestId: 4 } },
      NOW
    )
    expect(withdrawn.events.map((e) => e.event)).toEqual([{ type: "approval_resolved", request_id: "call-1", outcome: "withdrawn" }])
    expect(withdrawn.state.pending).toEqual({})
    // An answered request is no longer pending: Codex's confirmation adds nothing.
    const confirmed = T.translateNotification(T.answered(state, "call-1"), { method: "serverRequest/resolved", params: { threadId: "t", requestId: 4 } }, NOW)
    expect(confirmed.events).toEqual([])
  })
})
