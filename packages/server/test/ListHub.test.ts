/**
 * The session list as its subscribers hear it (`ListHub`): status and attention changes, creation
 * and end go out at once; other changes are coalesced to the latest summary per session for
 * `COALESCE_MS`, then go out with the next fold (or by timer a little later); changes of only the
 * revision or the activity time are not announced.
 */
import type { SessionId, SessionMessage, SessionSummary } from "@orbitdock/domain"
import { describe, expect, it } from "vitest"
import * as ListHub from "../src/ListHub.js"
import type { ListMessage } from "../src/Sessions.js"

const id = "ses-1" as SessionId
const base: SessionSummary = {
  id,
  provider: "sim",
  status: "waiting",
  cwd: "/w",
  created_at: "2026-01-01T00:00:00.000Z",
  last_activity_at: "2026-01-01T00:00:00.000Z",
  message_count: 0,
  attention: false,
  token_usage: { input: 0, output: 0, cached_input: 0, total: 0 },
  revision: 1
}
const created: SessionMessage = { type: "session_created", session_id: id, revision: 1, session: base }

/** A hub with one subscriber; `next()` resolves with the next message it hears. */
const hubWithListener = () => {
  const hub = ListHub.make()
  const heard: Array<ListMessage> = []
  let waiting: ((message: ListMessage) => void) | undefined
  hub.subscribe({
    push: (message) => {
      heard.push(message)
      waiting?.(message)
      waiting = undefined
    }
  })
  heard.length = 0 // the initial sessions_list
  const next = () => new Promise<ListMessage>((resolve) => (waiting = resolve))
  return { hub, heard, next }
}

describe("ListHub", () => {
  it("given a new session, when it is created, then subscribers hear of it at once", () => {
    const { hub, heard } = hubWithListener()
    hub.update(base, [created])
    expect(heard).toStrictEqual([{ type: "session_created", session: base }])
    hub.close()
  })

  it("given a known session, when its status or attention changes, then it is announced at once", () => {
    const { hub, heard } = hubWithListener()
    hub.load(base)
    hub.update({ ...base, status: "working", revision: 2 }, [])
    hub.update({ ...base, status: "working", attention: true, revision: 3 }, [])
    expect(heard.map((m) => m.type === "session_updated" && [m.session.status, m.session.attention])).toStrictEqual([
      ["working", false],
      ["working", true]
    ])
    hub.close()
  })

  it("given a known session, when other fields change twice, then one announcement carries the latest, after the window", async () => {
    const { hub, heard, next } = hubWithListener()
    hub.load(base)
    const announced = next()
    const startedAt = performance.now()
    hub.update({ ...base, title: "first", message_count: 1, revision: 2 }, [])
    hub.update({ ...base, title: "second", message_count: 2, revision: 3 }, [])
    expect(heard).toStrictEqual([])
    expect(await announced).toStrictEqual({ type: "session_updated", session: { ...base, title: "second", message_count: 2, revision: 3 } })
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(ListHub.COALESCE_MS - 1)
    expect(heard).toHaveLength(1)
    hub.close()
  })

  it("given a coalesced change that is due, when another session folds, then the change goes out with that fold, before the timer", async () => {
    const { hub, heard } = hubWithListener()
    const other = { ...base, id: "ses-2" as SessionId }
    hub.load(base)
    hub.load(other)
    hub.update({ ...base, title: "pending", revision: 2 }, [])
    await new Promise((resolve) => setTimeout(resolve, ListHub.COALESCE_MS + 5))
    expect(heard).toStrictEqual([])
    hub.update({ ...other, revision: 2, last_activity_at: "2026-01-01T00:00:01.000Z" }, [])
    expect(heard).toStrictEqual([{ type: "session_updated", session: { ...base, title: "pending", revision: 2 } }])
    hub.close()
  })

  it("given a known session, when only its revision and activity time change, then nothing is announced", async () => {
    const { hub, heard, next } = hubWithListener()
    hub.load(base)
    hub.update({ ...base, revision: 2, last_activity_at: "2026-01-01T00:00:01.000Z" }, [])
    // A later notable change is the next thing heard: the quiet one never went out.
    const announced = next()
    hub.update({ ...base, title: "t", revision: 3 }, [])
    expect((await announced).type).toBe("session_updated")
    expect(heard).toHaveLength(1)
    expect(hub.get(id)?.revision).toBe(3)
    hub.close()
  })

  it("given a coalesced change pending, when the session ends, then the end goes out at once and the pending change is dropped", async () => {
    const { hub, heard } = hubWithListener()
    hub.load(base)
    hub.update({ ...base, title: "pending", revision: 2 }, [])
    const ended: SessionMessage = { type: "session_ended", session_id: id, revision: 3, reason: "ended_by_user", ended_at: "2026-01-01T00:00:02.000Z" }
    hub.update({ ...base, title: "pending", status: "ended", revision: 3 }, [ended])
    expect(heard).toStrictEqual([ended])
    await new Promise((resolve) => setTimeout(resolve, ListHub.COALESCE_MS * 2))
    expect(heard).toStrictEqual([ended])
    hub.close()
  })
})
