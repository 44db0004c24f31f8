/**
 * An in-memory event log with the same contract as the SQLite one (same ordering, same duplicate
 * rules, durability on the next tick). For tests of the layers above the log, and a reference for
 * the contract suite; not for serving.
 */
import type { SessionId, SessionSummary, StoredEvent } from "@orbitdock/domain"
import { Effect, Layer, Option, Stream } from "effect"
import { EventLog, EventLogError, type EventLogShape, type PositionedEvent, type WriterStatus } from "./EventLog.js"
import { digest } from "./sourceKeyDigest.js"

export const make = Effect.sync((): EventLogShape => {
  const events: Array<PositionedEvent> = []
  const bySession = new Map<SessionId, Array<StoredEvent>>()
  const keys = new Map<SessionId, Set<string>>()
  const summaries = new Map<SessionId, SessionSummary>()
  const checkpoints = new Map<string, string>()

  const append: EventLogShape["append"] = (entry) =>
    Effect.sync(() => {
      for (const pending of entry.events) {
        const { stored, source_key } = pending
        const stream = bySession.get(stored.session_id) ?? []
        const sessionKeys = keys.get(stored.session_id) ?? new Set()
        const expected = (stream.at(-1)?.revision ?? 0) + 1
        if (stored.revision !== expected || (source_key !== null && sessionKeys.has(source_key))) {
          return Effect.fail(
            new EventLogError({
              operation: "EventLogMemory.append:constraint",
              cause: new Error(`revision ${stored.revision} of ${stored.session_id} (expected ${expected}) or duplicate key`)
            })
          )
        }
        stream.push(stored)
        bySession.set(stored.session_id, stream)
        if (source_key !== null) sessionKeys.add(source_key)
        keys.set(stored.session_id, sessionKeys)
        events.push({ ...stored, position: events.length + 1 })
      }
      for (const c of entry.checkpoints ?? []) checkpoints.set(c.key, c.value)
      if (entry.summary !== undefined) summaries.set(entry.summary.id, entry.summary)
      return Effect.void
    })

  return {
    append,
    // Commits on the spot: never short of room, never behind, never degraded.
    room: () => Effect.void,
    release: () => {},
    uncommitted: () => false,
    status: Stream.make<[WriterStatus]>({ status: "ok", reason: null }),
    readSession: (sessionId, after, limit) =>
      Effect.sync(() => {
        const stream = (bySession.get(sessionId) ?? []).filter((e) => e.revision > after)
        return limit === undefined ? stream : stream.slice(0, limit)
      }),
    // No snapshots here: hydration replays every event.
    loadSession: (sessionId) =>
      Effect.sync(() => ({ snapshot: null, paged: 0, events: [...(bySession.get(sessionId) ?? [])] })),
    // Nor pages: every message stays in memory.
    readPages: () => [],
    pagedProgress: () => null,
    readAll: (after, limit) => Effect.sync(() => events.filter((e) => e.position > after).slice(0, limit)),
    summaries: Effect.sync(() => [...summaries.values()]),
    checkpoint: (key) => Effect.sync(() => Option.fromNullable(checkpoints.get(key))),
    sourceKeyDigests: (sessionId) => Effect.sync(() => new Set([...(keys.get(sessionId) ?? [])].map(digest))),
    hasSourceKey: (sessionId, key) => keys.get(sessionId)?.has(key) === true,
    flush: Effect.void
  }
})

export const layer: Layer.Layer<EventLog> = Layer.effect(EventLog, make)
