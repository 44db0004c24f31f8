import { describe, expect, it } from "vitest"
import * as Mirror from "../src/Mirror.js"
import { appended, created, delta, snapshot } from "./helpers/fixtures.js"

const fold = (sync: Mirror.SessionSync, ...messages: Array<Parameters<typeof Mirror.receive>[1]>) => {
  const verdicts: Array<Mirror.Verdict["_tag"]> = []
  for (const m of messages) {
    const v = Mirror.receive(sync, m)
    verdicts.push(v._tag)
    if (v._tag !== "Ignored") sync = v.sync
  }
  return { sync, verdicts }
}

describe("Mirror.receive", () => {
  it("applies consecutive revisions after a snapshot", () => {
    const { sync, verdicts } = fold(Mirror.unsynced, snapshot(3), appended(4), delta(5, "working"))
    expect(verdicts).toEqual(["Applied", "Applied", "Applied"])
    expect(sync.state?.revision).toBe(5)
    expect(sync.state?.status).toBe("working")
    expect(sync.state?.messages.map((m) => m.content)).toEqual(["m4"])
  })

  it("starts from session_created at revision 1", () => {
    const { sync, verdicts } = fold(Mirror.unsynced, created(), appended(2))
    expect(verdicts).toEqual(["Applied", "Applied"])
    expect(sync.state?.message_count).toBe(1)
  })

  it("ignores a redelivered revision (no duplicate message)", () => {
    const { sync, verdicts } = fold(Mirror.unsynced, snapshot(3), appended(4), appended(4), appended(3))
    expect(verdicts).toEqual(["Applied", "Applied", "Ignored", "Ignored"])
    expect(sync.state?.messages).toHaveLength(1)
  })

  it("reports a gap with the revision to resume from, then waits for the resync", () => {
    const { sync, verdicts } = fold(Mirror.unsynced, snapshot(3), appended(5), appended(6))
    expect(verdicts).toEqual(["Applied", "Gap", "Ignored"])
    expect(sync.resyncing).toBe(true)
    expect(sync.state?.revision).toBe(3)
    const gap = Mirror.receive({ state: snapshot(3).session, resyncing: false }, appended(5))
    expect(gap._tag === "Gap" && gap.since).toBe(3)
  })

  it("catches up after a gap from the resent revisions", () => {
    const { sync, verdicts } = fold(Mirror.unsynced, snapshot(3), appended(5), appended(4), appended(5), appended(6))
    expect(verdicts).toEqual(["Applied", "Gap", "Applied", "Applied", "Applied"])
    expect(sync.state?.messages.map((m) => m.content)).toEqual(["m4", "m5", "m6"])
  })

  it("asks for a snapshot when a message arrives before any state", () => {
    const v = Mirror.receive(Mirror.unsynced, appended(7))
    expect(v._tag === "Gap" && v.since).toBe(undefined)
  })

  it("takes a snapshot at a lower revision as authoritative (restarted server)", () => {
    const { sync } = fold(Mirror.unsynced, snapshot(9), snapshot(4))
    expect(sync.state?.revision).toBe(4)
  })
})

describe("Mirror.acknowledged", () => {
  it("is synced when the mirror reached the acked revision (or passed it)", () => {
    const state = snapshot(5).session
    expect(Mirror.acknowledged({ state, resyncing: true }, 5)._tag).toBe("Synced")
    expect(Mirror.acknowledged({ state, resyncing: true }, 4)._tag).toBe("Synced")
    const synced = Mirror.acknowledged({ state, resyncing: true }, 5)
    expect(synced.sync.resyncing).toBe(false)
  })

  it("is a gap when the catch-up stopped short of the acked revision", () => {
    expect(Mirror.acknowledged({ state: snapshot(5).session, resyncing: true }, 7)._tag).toBe("Gap")
    expect(Mirror.acknowledged(Mirror.unsynced, 1)._tag).toBe("Gap")
  })

  it("resumes from the last applied revision; forgets it after a restart", () => {
    const sync = { state: snapshot(5).session, resyncing: false }
    expect(Mirror.resumeFrom(sync)).toBe(5)
    expect(Mirror.resumeFrom(Mirror.forget(sync))).toBe(undefined)
  })
})
