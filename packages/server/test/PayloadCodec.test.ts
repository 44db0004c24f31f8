import type { MessageId } from "@orbitdock/domain"
import { describe, expect, it } from "vitest"
import type { AppendEntry, PendingEvent } from "../src/eventlog/EventLog.js"
import { encodeEvents, packEntry, unpackBatch } from "../src/eventlog/payloadCodec.js"
import { event, sid, summary } from "./helpers/eventLogFixtures.js"

const s1 = sid("s-1")
const s2 = sid("s-2")

/** A message whose text has what could break a line-based format: newlines, separators, quotes. */
const awkward = (revision: number, sourceKey: string | null): PendingEvent => {
  const base = event(s1, revision, sourceKey)
  return {
    ...base,
    stored: {
      ...base.stored,
      event: {
        type: "message_appended",
        message: {
          id: `m-${revision}` as MessageId,
          role: "assistant",
          content: 'line one\nline two\r\n\t"quoted" \\ back\u2028\u2029 emoji 🛰️ and \u0000 nul',
          created_at: base.stored.occurred_at
        }
      }
    }
  }
}

const pack = (entries: ReadonlyArray<AppendEntry>, withSummary: (index: number) => boolean) => {
  const lines: Array<string> = []
  entries.forEach((entry, i) => packEntry(lines, entry, encodeEvents(entry.events), withSummary(i)))
  return lines.join("\n")
}

const rowOf = ({ source_key, stored }: PendingEvent) => [
  stored.session_id,
  stored.revision,
  stored.event.type,
  stored.occurred_at,
  source_key,
  JSON.stringify(stored.event)
]

describe("a batch's text for the writer worker", () => {
  it("unpacks into the rows of every entry, in order, whatever the events' text holds", () => {
    // Given entries with awkward text, checkpoints, a summary, an entry with no events, a
    // notification and a delivery
    const note = ["n\n1", s2, 1, "2026-01-01T00:00:03.000Z", '{"summary":"line\\nbreak"}'] as const
    const delivery = ["n\n1", "ch_1", "sent", 1, "2026-01-01T00:00:04.000Z", "HTTP 200"] as const
    const entries: Array<AppendEntry> = [
      { events: [awkward(1, 'key "with" quotes\nand a newline'), event(s1, 2, null)], summary: summary(s1, 2) },
      { events: [], checkpoints: [{ key: "codex:thread\n1", value: '{"offset":12}' }], deliveries: [delivery] },
      { events: [event(s2, 1)], checkpoints: [{ key: "k", value: "v" }], summary: summary(s2, 1, 3), notifications: [note] }
    ]
    // When they are packed (the second summary only) and unpacked
    const rows = unpackBatch(pack(entries, (i) => i === 2))
    // Then each entry comes back as the writer's rows
    expect(rows).toStrictEqual([
      { events: entries[0]!.events.map(rowOf), checkpoints: [], summary: null, notifications: [], deliveries: [], ruleEvents: [] },
      { events: [], checkpoints: [["codex:thread\n1", '{"offset":12}']], summary: null, notifications: [], deliveries: [delivery], ruleEvents: [] },
      {
        events: entries[2]!.events.map(rowOf),
        checkpoints: [["k", "v"]],
        summary: [s2, 1, summary(s2, 1, 3).created_at, JSON.stringify(summary(s2, 1, 3))],
        notifications: [note],
        deliveries: [],
        ruleEvents: []
      }
    ])
    // And each payload parses back to the event that was appended
    expect(JSON.parse(rows[0]!.events[0]![5])).toStrictEqual(entries[0]!.events[0]!.stored.event)
  })

  it("refuses an event JSON cannot encode", () => {
    const base = event(s1, 1)
    const poisoned = { ...base, stored: { ...base.stored, event: { ...base.stored.event, extra: 1n } as never } }
    expect(() => encodeEvents([poisoned])).toThrow(TypeError)
  })
})
