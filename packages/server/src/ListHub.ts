/**
 * The session list as list subscribers see it: the latest summary of every session and the list
 * messages. `session_created` and `session_ended` go out at once, as does a change of `status` or
 * `attention`; other summary changes are coalesced to the latest summary per session at most every
 * 100 ms (PROTOCOL.md), and then leave with the next fold's deltas. Changes of only
 * `revision`/`last_activity_at` are not announced.
 */
import type { SessionId, SessionMessage, SessionSummary, SessionsList } from "@orbitdock/domain"
import { SessionSummaries } from "@orbitdock/projections"
import type { ListMessage, ListSubscriber } from "./Sessions.js"

/** How long a non-urgent summary change may wait before it is announced. */
export const COALESCE_MS = 100
/**
 * Once due, coalesced changes go out with the next session's fold (in the same microtask round, so
 * in the frame each client gets for that round) or, when no fold comes, this much later by timer.
 */
const RIDE_MS = 25

export interface ListHub {
  /** Registers a session known at startup (no announcement). */
  readonly load: (summary: SessionSummary) => void
  /** Records a session's new summary after a folded step and announces what must be. */
  readonly update: (summary: SessionSummary, messages: ReadonlyArray<SessionMessage>) => void
  readonly get: (sessionId: SessionId) => SessionSummary | undefined
  /** All summaries, oldest session first. */
  readonly all: () => ReadonlyArray<SessionSummary>
  readonly count: () => number
  readonly list: () => SessionsList
  readonly subscribe: (subscriber: ListSubscriber) => void
  readonly unsubscribe: (subscriber: ListSubscriber) => void
  readonly subscriberCount: () => number
  /** Stops the coalescing timer. */
  readonly close: () => void
}

export const make = (): ListHub => {
  const summaries = new Map<SessionId, SessionSummary>()
  /** The summary list subscribers last heard of, per session. */
  const announced = new Map<SessionId, SessionSummary>()
  const dirty = new Set<SessionId>()
  const subscribers = new Set<ListSubscriber>()
  let timer: NodeJS.Timeout | undefined
  /** When the pending coalesced changes are due (`performance.now()`). */
  let dueAt = 0

  const broadcast = (message: ListMessage) => {
    for (const subscriber of subscribers) subscriber.push(message)
  }

  const announce = (summary: SessionSummary) => {
    announced.set(summary.id, summary)
    dirty.delete(summary.id)
    broadcast({ type: "session_updated", session: summary })
  }

  // All coalesced changes go out in one turn: each list subscriber gets them as ONE frame. Sending
  // them in slices across turns was measured worse (bench scenario 2: main thread 60% → 93% busy,
  // p50 0.7 → 2.6 ms): the extra frames cost more than the burst they spread.
  const flushDirty = () => {
    if (timer !== undefined) clearTimeout(timer)
    timer = undefined
    for (const id of dirty) {
      const summary = summaries.get(id)
      if (summary !== undefined) announce(summary)
    }
    dirty.clear()
  }

  // Under load a session folds every few milliseconds: the due changes leave in the frames that
  // round writes anyway instead of in a frame of their own per list subscriber.
  const flushIfDue = () => {
    if (dirty.size > 0 && performance.now() >= dueAt) flushDirty()
  }

  return {
    load: (summary) => {
      summaries.set(summary.id, summary)
      announced.set(summary.id, summary)
    },
    update: (summary, messages) => {
      summaries.set(summary.id, summary)
      flushIfDue()
      for (const message of messages) {
        if (message.type === "session_created") {
          const created = { ...message.session }
          announced.set(summary.id, created)
          broadcast({ type: "session_created", session: created })
        } else if (message.type === "session_ended") {
          announced.set(summary.id, summary)
          dirty.delete(summary.id)
          broadcast(message)
          return
        }
      }
      const before = announced.get(summary.id)
      if (before === undefined || SessionSummaries.isUrgent(before, summary)) return announce(summary)
      if (!SessionSummaries.isNotable(before, summary)) return
      dirty.add(summary.id)
      if (timer === undefined) {
        dueAt = performance.now() + COALESCE_MS
        timer = setTimeout(flushDirty, COALESCE_MS + RIDE_MS)
      }
    },
    get: (id) => summaries.get(id),
    all: () => [...summaries.values()],
    count: () => summaries.size,
    list: () => ({ type: "sessions_list", sessions: [...summaries.values()] }),
    subscribe: (subscriber) => {
      subscribers.add(subscriber)
      subscriber.push({ type: "sessions_list", sessions: [...summaries.values()] })
    },
    unsubscribe: (subscriber) => {
      subscribers.delete(subscriber)
    },
    subscriberCount: () => subscribers.size,
    close: () => {
      if (timer !== undefined) clearTimeout(timer)
    }
  }
}
