import type { SessionSummary } from "@orbitdock/domain"
import { describe, expect, it } from "vitest"
import * as Fleet from "../src/logic/fleet.js"

const summary = (id: string, fields: Partial<SessionSummary> = {}): SessionSummary =>
  ({
    id,
    provider: "sim",
    status: "waiting",
    cwd: `/work/${id}`,
    created_at: "2026-01-01T00:00:00.000Z",
    last_activity_at: "2026-01-01T00:00:00.000Z",
    message_count: 0,
    attention: false,
    token_usage: { input: 0, output: 0, cached_input: 0, total: 0 },
    revision: 1,
    ...fields
  }) as SessionSummary

const at = (minute: number) => `2026-01-01T00:${String(minute).padStart(2, "0")}:00.000Z`
const ids = (list: ReadonlyArray<SessionSummary>) => list.map((s) => s.id)

describe("fleet order", () => {
  it("puts sessions needing attention first (longest waiting first), then live by recent activity, then ended", () => {
    const sessions = [
      summary("ended-recent", { status: "ended", last_activity_at: at(50) }),
      summary("live-old", { status: "waiting", last_activity_at: at(10) }),
      summary("asks-late", { status: "working", attention: true, last_activity_at: at(40) }),
      summary("live-new", { status: "working", last_activity_at: at(30) }),
      summary("asks-early", { status: "working", attention: true, last_activity_at: at(20) }),
      summary("ended-old", { status: "ended", last_activity_at: at(5) })
    ]
    expect(ids(Fleet.view(sessions, Fleet.noFilter))).toEqual(["asks-early", "asks-late", "live-new", "live-old", "ended-recent", "ended-old"])
  })

  it("is stable on ties (by id) and does not change its input", () => {
    const sessions = [summary("b"), summary("a"), summary("c")]
    expect(ids(Fleet.view(sessions, Fleet.noFilter))).toEqual(["a", "b", "c"])
    expect(ids(sessions)).toEqual(["b", "a", "c"])
  })
})

describe("fleet filters", () => {
  const sessions = [
    summary("s1", { provider: "claude", status: "working", title: "Fix the login bug" }),
    summary("s2", { provider: "codex", status: "waiting", cwd: "/home/me/api", model: "gpt-5" }),
    summary("s3", { provider: "sim", status: "ended" })
  ]
  it("filters by any of the chosen statuses and providers; empty lists mean any", () => {
    expect(ids(Fleet.view(sessions, { ...Fleet.noFilter, statuses: ["working", "ended"] }))).toEqual(["s1", "s3"])
    expect(ids(Fleet.view(sessions, { ...Fleet.noFilter, providers: ["codex"] }))).toEqual(["s2"])
    expect(ids(Fleet.view(sessions, { ...Fleet.noFilter, statuses: ["working"], providers: ["codex"] }))).toEqual([])
    expect(Fleet.view(sessions, Fleet.noFilter)).toHaveLength(3)
  })
  it("matches text in title, cwd, model and id, case-insensitively", () => {
    expect(ids(Fleet.view(sessions, { ...Fleet.noFilter, text: "LOGIN" }))).toEqual(["s1"])
    expect(ids(Fleet.view(sessions, { ...Fleet.noFilter, text: "me/api" }))).toEqual(["s2"])
    expect(ids(Fleet.view(sessions, { ...Fleet.noFilter, text: "gpt" }))).toEqual(["s2"])
    expect(ids(Fleet.view(sessions, { ...Fleet.noFilter, text: "s3" }))).toEqual(["s3"])
  })
  it("toggles a chip value and counts per status, provider and attention", () => {
    expect(Fleet.toggle(["a", "b"], "a")).toEqual(["b"])
    expect(Fleet.toggle(["b"], "a")).toEqual(["b", "a"])
    const counts = Fleet.counts([...sessions, summary("s4", { attention: true, status: "working" })])
    expect(counts).toEqual({ byStatus: { working: 2, waiting: 1, ended: 1 }, byProvider: { claude: 1, codex: 1, sim: 2 }, attention: 1 })
  })
})

describe("keyboard navigation", () => {
  const ordered = [
    summary("a1", { attention: true }),
    summary("a2", { attention: true }),
    summary("q1"),
    summary("q2")
  ]
  it("jumps to the next session needing attention, wrapping, skipping the current one", () => {
    expect(Fleet.nextAttention(ordered, undefined)?.id).toBe("a1")
    expect(Fleet.nextAttention(ordered, "a1")?.id).toBe("a2")
    expect(Fleet.nextAttention(ordered, "a2")?.id).toBe("a1")
    expect(Fleet.nextAttention(ordered, "q2")?.id).toBe("a1")
    expect(Fleet.nextAttention([summary("only", { attention: true })], "only")).toBeUndefined()
    expect(Fleet.nextAttention([summary("x")], undefined)).toBeUndefined()
  })
  it("moves to neighbours, clamped at the ends", () => {
    expect(Fleet.neighbour(ordered, undefined, 1)?.id).toBe("a1")
    expect(Fleet.neighbour(ordered, "a1", 1)?.id).toBe("a2")
    expect(Fleet.neighbour(ordered, "a1", -1)?.id).toBe("a1")
    expect(Fleet.neighbour(ordered, "q2", 1)?.id).toBe("q2")
    expect(Fleet.neighbour([], "q2", 1)).toBeUndefined()
  })
})
