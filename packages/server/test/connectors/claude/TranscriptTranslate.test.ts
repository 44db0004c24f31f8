import type { DomainEvent, MessageId, ToolCall } from "@orbitdock/domain"
import { describe, expect, it } from "vitest"
import type { EventInput } from "../../../src/connectors/Connector.js"
import {
  encodeCwd,
  recordMessageId,
  streamLineAsRecord,
  toolMessageId,
  translateRecord,
  type Translated
} from "../../../src/connectors/claude/TranscriptTranslate.js"
import { fixture, readJsonl } from "./fixtures.js"

const NOW = "2026-01-01T00:00:00.000Z"

/** Folds a whole transcript the way the tailer does: tool lookups see earlier tool calls. */
const translateAll = (records: ReadonlyArray<unknown>) => {
  const tools = new Map<string, ToolCall>()
  const lookup = (id: MessageId) => tools.get(id)
  const results: Array<Translated> = []
  for (const record of records) {
    const t = translateRecord(record, lookup, NOW)
    for (const e of t.events) {
      if (e.event.type === "message_appended" && e.event.message.tool) tools.set(e.event.message.id, e.event.message.tool)
      if (e.event.type === "message_updated" && e.event.changes.tool) tools.set(e.event.message_id, e.event.changes.tool)
    }
    results.push(t)
  }
  return results
}

const events = (results: ReadonlyArray<Translated>): Array<EventInput> => results.flatMap((r) => r.events)
const shape = (e: DomainEvent) =>
  e.type === "message_appended"
    ? `${e.message.role}: ${e.message.content}${e.message.tool ? ` [${e.message.tool.name} ${e.message.tool.status}]` : ""}`
    : e.type === "message_updated"
      ? `update ${e.message_id}: ${e.changes.tool?.status} ${JSON.stringify(e.changes.tool?.output)}`
      : e.type

describe("TranscriptTranslate", () => {
  it("maps a Bash turn: prompt, text, tool call completed by its result, final text", () => {
    const records = readJsonl(fixture("transcripts/32a9abc5-7370-422b-8909-fe402aff55be.jsonl"))
    const results = translateAll(records)
    expect(events(results).map((e) => shape(e.event))).toEqual([
      "user: [[scenario:bash]] Run echo hi.",
      "assistant: I will run a command.",
      "tool: echo hi [Bash running]",
      'update tool-toolu_mock_d16262d53fa54751a621: ok "hi"',
      "assistant: The command printed: hi"
    ])
    // The tool result keeps the call's name and input.
    const update = events(results).find((e) => e.event.type === "message_updated")!.event
    expect(update).toMatchObject({
      changes: { tool: { name: "Bash", input: { command: "echo hi" }, output: "hi", status: "ok" } }
    })
    // Every event has a source key, unique, derived from the record uuid.
    const keys = events(results).map((e) => e.source_key)
    expect(keys.every((k) => typeof k === "string")).toBe(true)
    expect(new Set(keys).size).toBe(keys.length)
    expect(keys[0]).toBe("rec:d342c2cc-c4b9-4488-842d-320735d64107")
    // Usage: two records share the first API message id; each reports the same usage.
    const usages = results.flatMap((r) => (r.usage ? [r.usage] : []))
    expect(usages.map((u) => u.messageId)).toEqual([
      "msg_mock_ac056ccf747840ec95146dd6",
      "msg_mock_ac056ccf747840ec95146dd6",
      "msg_mock_f6ff5aacaafb4b6ea34bb188"
    ])
    expect(usages[0]!.usage).toEqual({ input: 2545, output: 18, cached_input: 0 })
    // Turn boundaries: the prompt opens it, the end_turn answer closes it (not the tool_use stop).
    expect(results.flatMap((r) => (r.turnStarted ? [r.turnStarted] : []))).toEqual(["4786003c-2ca4-4a44-bc41-e7126a9aa18b"])
    expect(results.filter((r) => r.turnEnded === "completed")).toHaveLength(1)
    expect(results.find((r) => r.model)?.model).toBe("claude-opus-5-5")
  })

  it("maps thinking blocks to reasoning messages", () => {
    const results = translateAll(readJsonl(fixture("transcripts/b4073e24-49c0-4237-819b-8d4406ec187b.jsonl")))
    const roles = events(results).map((e) => (e.event.type === "message_appended" ? e.event.message.role : e.event.type))
    expect(roles).toContain("reasoning")
    expect(roles.filter((r) => r === "assistant").length).toBeGreaterThan(0)
  })

  it("maps compaction: the boundary, the summary and the /compact command as visible messages", () => {
    const results = translateAll(readJsonl(fixture("transcripts/e0cc2417-752c-4135-aa9f-c48f19beb688.jsonl")))
    const shown = events(results).map((e) => shape(e.event))
    expect(shown).toContain("system: Conversation compacted (manual)")
    expect(shown).toContain("user: /compact")
    expect(shown.some((s) => s.startsWith("system: This session is being continued"))).toBe(true)
    expect(shown.some((s) => s.startsWith("system: Compacted PreCompact"))).toBe(true)
    // The isMeta caveat record is not shown.
    expect(shown.some((s) => s.includes("local-command-caveat"))).toBe(false)
    // Three prompts, three turns.
    expect(results.filter((r) => r.turnStarted !== undefined)).toHaveLength(3)
  })

  it("maps a denied tool call to an error result", () => {
    const results = translateAll(readJsonl(fixture("transcripts/266e71d1-3c30-46a5-b290-f3da264649af.jsonl")))
    const update = events(results).find((e) => e.event.type === "message_updated")
    expect(update?.event).toMatchObject({ changes: { tool: { name: "Bash", status: "error" } } })
  })

  it("maps a subagent sidechain without touching the parent's turns", () => {
    const dir = "transcripts/9fff5880-5a81-46fe-8405-d71d321fe957/subagents"
    const results = translateAll(readJsonl(fixture(`${dir}/agent-a3246a4f4f47bc926.jsonl`)))
    expect(results.every((r) => r.turnStarted === undefined && r.turnEnded === undefined)).toBe(true)
    expect(results.every((r) => r.sessionId === undefined || r.sessionId === "9fff5880-5a81-46fe-8405-d71d321fe957")).toBe(true)
    const shown = events(results).map((e) => shape(e.event))
    // The subagent's prompt is shown as a system note, not as the user's prompt.
    expect(shown[0]).toMatch(/^system: /)
    expect(shown).toContain("assistant: Hello from the mock model. This is a plain text answer.")
    // Its tokens count too (they cost the user).
    expect(results.some((r) => r.usage !== undefined)).toBe(true)
  })

  it("skips bookkeeping, unknown records and non-objects", () => {
    for (const record of [
      { type: "queue-operation", operation: "enqueue", sessionId: "s" },
      { type: "future-thing", uuid: "u1", sessionId: "s" },
      { type: "assistant", uuid: "u2", message: { content: [{ type: "server_tool_use" }] } },
      null,
      42,
      "text",
      []
    ]) {
      expect(translateRecord(record, () => undefined, NOW).events).toEqual([])
    }
  })

  it("gives a headless stream line the same events as its transcript record", () => {
    const transcript = readJsonl(fixture("transcripts/e0cc2417-752c-4135-aa9f-c48f19beb688.jsonl")) as Array<Record<string, unknown>>
    const stream = readJsonl(fixture("stdout/stream.stream.jsonl")) as Array<Record<string, unknown>>
    const byUuid = new Map(transcript.map((r) => [r.uuid, r]))
    let compared = 0
    const tools = new Map<string, ToolCall>()
    const lookup = (id: MessageId) => tools.get(id)
    for (const line of stream) {
      const record = streamLineAsRecord(line)
      if (record === undefined) continue
      const original = byUuid.get(record.uuid)
      if (original === undefined) continue
      const fromStream = translateRecord(record, lookup, NOW).events
      const fromFile = translateRecord(original, lookup, NOW).events
      expect(fromStream.map((e) => e.source_key)).toEqual(fromFile.map((e) => e.source_key))
      expect(fromStream.map((e) => e.event)).toEqual(fromFile.map((e) => e.event))
      for (const e of fromFile) if (e.event.type === "message_appended" && e.event.message.tool) tools.set(e.event.message.id, e.event.message.tool)
      compared++
    }
    expect(compared).toBeGreaterThanOrEqual(4)
  })

  it("hides Claude Code's synthetic filler and shows its synthetic errors as system notes", () => {
    const record = (text: string) => ({
      type: "assistant",
      uuid: `u-${text.length}`,
      timestamp: NOW,
      message: { id: "m1", model: "<synthetic>", content: [{ type: "text", text }], stop_reason: "stop_sequence", usage: { input_tokens: 0, output_tokens: 0 } }
    })
    expect(translateRecord(record("No response requested."), () => undefined, NOW).events).toEqual([])
    const error = translateRecord(record("API Error: 500 overloaded"), () => undefined, NOW)
    expect(error.events.map((e) => shape(e.event))).toEqual(["system: API Error: 500 overloaded"])
    expect(error.model).toBeUndefined()
  })

  it("derives ids and project directory names", () => {
    expect(recordMessageId("abc")).toBe("m-abc")
    expect(toolMessageId("toolu_1")).toBe("tool-toolu_1")
    expect(encodeCwd("/tmp/orbitdock-claude-lab-X/work")).toBe("-tmp-orbitdock-claude-lab-X-work")
  })
})
