/**
 * An in-memory event log with the same contract as the SQLite one (same ordering, same duplicate
 * rules, durability on the next tick). For tests of the layers above the log, and a reference for
 * the contract suite; not for serving.
 */
import type { SessionId, SessionSummary, StoredEvent } from "@orbitdock/domain"
import { Effect, Layer, Option, Stream } from "effect"
import {
  type AppendEntry,
  type DeliveryRecord,
  EventLog,
  EventLogError,
  type EventLogShape,
  type OutboxEntry,
  type PositionedEvent,
  type WriterStatus
} from "./EventLog.js"
import { digest } from "./sourceKeyDigest.js"

export const make = Effect.sync((): EventLogShape => {
  const events: Array<PositionedEvent> = []
  const bySession = new Map<SessionId, Array<StoredEvent>>()
  const keys = new Map<SessionId, Set<string>>()
  const summaries = new Map<SessionId, SessionSummary>()
  const checkpoints = new Map<string, string>()
  const outbox = new Map<string, Omit<OutboxEntry, "deliveries">>()
  const deliveries = new Map<string, Map<string, DeliveryRecord>>()
  const ruleEvents: Array<string> = []
  const ruleEventIds = new Set<string>()

  /** Why the entry cannot be committed (a revision out of order, a source key seen), or undefined. */
  const refusal = (entry: AppendEntry): string | undefined => {
    const next = new Map<SessionId, number>()
    const entryKeys = new Set<string>()
    for (const { stored, source_key } of entry.events) {
      const expected = next.get(stored.session_id) ?? (bySession.get(stored.session_id)?.at(-1)?.revision ?? 0) + 1
      if (stored.revision !== expected) return `revision ${stored.revision} of ${stored.session_id} (expected ${expected})`
      next.set(stored.session_id, expected + 1)
      if (source_key !== null) {
        const scoped = `${stored.session_id}\u0000${source_key}`
        if (keys.get(stored.session_id)?.has(source_key) === true || entryKeys.has(scoped)) {
          return `duplicate source key ${source_key} in ${stored.session_id}`
        }
        entryKeys.add(scoped)
      }
    }
    return undefined
  }

  // All of an entry or none of it, as in one SQLite transaction.
  const appendNow: EventLogShape["appendNow"] = (entry) => {
    const refused = refusal(entry)
    if (refused !== undefined) {
      return Effect.fail(new EventLogError({ operation: "EventLog.append:constraint", cause: new Error(refused) }))
    }
    for (const { stored, source_key } of entry.events) {
      const stream = bySession.get(stored.session_id) ?? []
      stream.push(stored)
      bySession.set(stored.session_id, stream)
      if (source_key !== null) {
        const sessionKeys = keys.get(stored.session_id) ?? new Set()
        sessionKeys.add(source_key)
        keys.set(stored.session_id, sessionKeys)
      }
      events.push({ ...stored, position: events.length + 1 })
    }
    for (const c of entry.checkpoints ?? []) checkpoints.set(c.key, c.value)
    if (entry.summary !== undefined) summaries.set(entry.summary.id, entry.summary)
    for (const [id, sessionId, revision, createdAt, payload] of entry.notifications ?? []) {
      if (!outbox.has(id)) outbox.set(id, { id, sessionId: sessionId as SessionId, revision, createdAt, payload })
    }
    for (const [id, , , payload] of entry.ruleEvents ?? []) {
      if (!ruleEventIds.has(id)) {
        ruleEventIds.add(id)
        ruleEvents.push(payload)
      }
    }
    for (const [notificationId, channelId, status, attempts, updatedAt, detail] of entry.deliveries ?? []) {
      const byChannel = deliveries.get(notificationId) ?? new Map<string, DeliveryRecord>()
      byChannel.set(channelId, { notificationId, channelId, status, attempts, updatedAt, detail })
      deliveries.set(notificationId, byChannel)
    }
    return Effect.void
  }

  return {
    append: (entry) => Effect.sync(() => appendNow(entry)),
    appendNow,
    // Commits on the spot: never short of room, never behind, never degraded.
    room: () => Effect.void,
    tryRoom: () => true,
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
    readPages: (sessionId, count) =>
      count <= 0
        ? Effect.succeed([])
        : Effect.fail(new EventLogError({ operation: "EventLog.readPages", cause: new Error(`session ${sessionId} has no message pages`) })),
    pagedProgress: () => Effect.succeed(null),
    readAll: (after, limit) => Effect.sync(() => events.filter((e) => e.position > after).slice(0, limit)),
    readApprovals: (after, limit) =>
      Effect.sync(() =>
        events
          .filter((e) => e.position > after && (e.event.type === "approval_requested" || e.event.type === "approval_resolved"))
          .slice(0, limit)
      ),
    summaries: Effect.sync(() => [...summaries.values()]),
    checkpoint: (key) => Effect.sync(() => Option.fromNullable(checkpoints.get(key))),
    sourceKeyDigests: (sessionId) => Effect.sync(() => new Set([...(keys.get(sessionId) ?? [])].map(digest))),
    hasSourceKey: (sessionId, key) => Effect.sync(() => keys.get(sessionId)?.has(key) === true),
    outbox: (createdAfter) =>
      Effect.sync(() =>
        [...outbox.values()]
          .filter((row) => row.createdAt > createdAfter)
          .sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : 1))
          .map((row) => ({ ...row, deliveries: deliveries.get(row.id) ?? new Map() }))
      ),
    ruleEvents: Effect.sync(() => [...ruleEvents]),
    deliveries: (limit) =>
      Effect.sync(() =>
        [...deliveries.values()]
          .flatMap((byChannel) => [...byChannel.values()])
          .sort((a, b) => (a.updatedAt < b.updatedAt ? 1 : a.updatedAt > b.updatedAt ? -1 : 0))
          .slice(0, limit)
      ),
    flush: Effect.void
  }
})

export const layer: Layer.Layer<EventLog> = Layer.effect(EventLog, make)
