/**
 * The event log's contract (`eventlog/EventLog.ts`), one suite run against every implementation:
 * the SQLite log (real files, the real writer worker from `dist/`) and the memory log. A new log
 * (e.g. over PostgreSQL) joins the list below and must pass the same cases.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Option, type Scope } from "effect"
import * as path from "node:path"
import type { EventLogError, EventLogShape } from "../../src/eventlog/EventLog.js"
import * as EventLogMemory from "../../src/eventlog/EventLogMemory.js"
import { digest } from "../../src/eventlog/sourceKeyDigest.js"
import { event, events, openLog, sid, summary, tempDir } from "../helpers/eventLogFixtures.js"

const s1 = sid("contract-1")
const s2 = sid("contract-2")

const implementations: ReadonlyArray<readonly [string, Effect.Effect<EventLogShape, EventLogError, Scope.Scope>]> = [
  ["memory", EventLogMemory.make],
  [
    "sqlite",
    Effect.gen(function* () {
      const dir = yield* tempDir
      const { log } = yield* openLog({ dbPath: path.join(dir, "log.db"), flushMs: 20, batchSize: 100 })
      return log
    })
  ]
]

describe.each(implementations)("the %s event log", (_, open) => {
  it.scopedLive("commits a notification with the events that caused it, once, and its deliveries' latest state", () =>
    Effect.gen(function* () {
      const log = yield* open
      const note = ["n1", s1, 2, "2026-01-01T00:00:02.000Z", '{"reason":"approval"}'] as const
      yield* Effect.flatten(log.append({ events: events(s1, 1, 2), notifications: [note] }))
      // Queued again (a re-sent entry): still one.
      yield* Effect.flatten(log.append({ events: [], notifications: [note] }))
      yield* Effect.flatten(
        log.append({
          events: [],
          deliveries: [
            ["n1", "c1", "retrying", 1, "2026-01-01T00:00:03.000Z", "HTTP 500"],
            ["n1", "c1", "sent", 2, "2026-01-01T00:00:04.000Z", "HTTP 200"]
          ]
        })
      )
      yield* Effect.flatten(log.append({ events: [], deliveries: [["n1", "c2", "skipped", 0, "2026-01-01T00:00:05.000Z", "seen"]] }))
      const [entry, ...rest] = yield* log.outbox("2026-01-01T00:00:00.000Z")
      expect(rest).toStrictEqual([])
      expect(entry).toMatchObject({ id: "n1", sessionId: s1, revision: 2, payload: '{"reason":"approval"}' })
      expect(entry!.deliveries.get("c1")).toMatchObject({ status: "sent", attempts: 2, detail: "HTTP 200" })
      expect(entry!.deliveries.get("c2")).toMatchObject({ status: "skipped" })
      expect(yield* log.outbox("2026-01-01T00:00:02.000Z")).toStrictEqual([])
      expect((yield* log.deliveries(10)).map((d) => d.channelId)).toStrictEqual(["c2", "c1"])
    }))

  it.scopedLive("commits rule events once each, read back in order", () =>
    Effect.gen(function* () {
      const log = yield* open
      const added = ["re1", "2026-01-01T00:00:01.000Z", "rule_added", '{"type":"rule_added"}'] as const
      const removed = ["re2", "2026-01-01T00:00:02.000Z", "rule_removed", '{"type":"rule_removed"}'] as const
      yield* Effect.flatten(log.append({ events: [], ruleEvents: [added] }))
      // Re-sent (after a worker crash): still once.
      yield* Effect.flatten(log.append({ events: [], ruleEvents: [added, removed] }))
      expect(yield* log.ruleEvents).toStrictEqual(['{"type":"rule_added"}', '{"type":"rule_removed"}'])
    }))

  it.scopedLive("commits entries in order: read back by session, globally in log order, with the latest summary", () =>
    Effect.gen(function* () {
      const log = yield* open
      const durable = yield* Effect.forEach(
        [
          { events: events(s1, 1, 3), summary: summary(s1, 3) },
          { events: events(s2, 1, 2), summary: summary(s2, 2, 1) },
          { events: events(s1, 4, 5), summary: summary(s1, 5), checkpoints: [{ key: "offset", value: "42" }] }
        ],
        log.append
      )
      yield* Effect.all(durable, { discard: true })
      expect((yield* log.readSession(s1, 0)).map((e) => e.revision)).toStrictEqual([1, 2, 3, 4, 5])
      expect(yield* log.readSession(s1, 2, 2)).toStrictEqual(events(s1, 3, 4).map((e) => e.stored))
      const all = yield* log.readAll(0, 100)
      expect(all.map((e) => `${e.session_id}@${e.revision}`)).toStrictEqual([
        ...[1, 2, 3].map((r) => `${s1}@${r}`),
        ...[1, 2].map((r) => `${s2}@${r}`),
        ...[4, 5].map((r) => `${s1}@${r}`)
      ])
      const positions = all.map((e) => e.position)
      expect(positions).toStrictEqual([...positions].sort((a, b) => a - b))
      expect(yield* log.readAll(all[4]!.position, 10)).toStrictEqual(all.slice(5))
      expect(yield* log.summaries).toStrictEqual([summary(s1, 5), summary(s2, 2, 1)])
      expect(yield* log.checkpoint("offset")).toStrictEqual(Option.some("42"))
      expect(yield* log.checkpoint("nothing")).toStrictEqual(Option.none())
      const loaded = yield* log.loadSession(s2)
      expect(loaded.events).toStrictEqual(events(s2, 1, 2).map((e) => e.stored))
      expect(loaded.paged).toBe(0)
    }))

  it.scopedLive("refuses a whole entry whose revision or source key was taken (its checkpoints and summary too); the others commit", () =>
    Effect.gen(function* () {
      const log = yield* open
      const durable = yield* Effect.forEach(
        [
          { events: [event(s1, 1, "a")], checkpoints: [{ key: "c", value: "1" }] },
          { events: [event(s1, 2, "b"), event(s1, 2, "b2")], checkpoints: [{ key: "c", value: "revision taken" }] },
          { events: [event(s1, 2, "c"), event(s1, 3, "a")], summary: summary(s1, 3), checkpoints: [{ key: "c", value: "key taken" }] },
          { events: [event(s1, 2, "d")], checkpoints: [{ key: "c", value: "2" }] }
        ],
        log.append
      )
      const outcomes = yield* Effect.forEach(durable, (d) => Effect.either(d))
      expect(outcomes.map((o) => (Either.isLeft(o) ? o.left.operation : "ok"))).toStrictEqual([
        "ok",
        "EventLog.append:constraint",
        "EventLog.append:constraint",
        "ok"
      ])
      expect((yield* log.readSession(s1, 0)).map((e) => e.revision)).toStrictEqual([1, 2])
      expect(yield* log.checkpoint("c")).toStrictEqual(Option.some("2"))
      expect(yield* log.summaries).toStrictEqual([])
      expect(yield* Effect.forEach(["a", "b", "b2", "c", "d"], (key) => log.hasSourceKey(s1, key))).toStrictEqual([
        true,
        false,
        false,
        false,
        true
      ])
      expect(yield* log.sourceKeyDigests(s1)).toStrictEqual(new Set(["a", "d"].map(digest)))
    }))

  it.scopedLive("scopes source keys to their session", () =>
    Effect.gen(function* () {
      const log = yield* open
      yield* Effect.flatten(log.append({ events: [event(s1, 1, "same")] }))
      yield* Effect.flatten(log.append({ events: [event(s2, 1, "same")], urgent: true }))
      expect(yield* Effect.all([log.hasSourceKey(s1, "same"), log.hasSourceKey(s2, "same"), log.hasSourceKey(s2, "other")])).toStrictEqual([
        true,
        true,
        false
      ])
    }))

  it.scopedLive("flush completes once everything appended before it is committed", () =>
    Effect.gen(function* () {
      const log = yield* open
      for (let i = 0; i < 10; i++) yield* log.append({ events: events(s1, i * 10 + 1, i * 10 + 10) })
      yield* log.flush
      expect(log.uncommitted(s1)).toBe(false)
      expect((yield* log.readSession(s1, 0)).length).toBe(100)
    }))

  it.scopedLive("has no pages for a session it never paged", () =>
    Effect.gen(function* () {
      const log = yield* open
      yield* Effect.flatten(log.append({ events: events(s1, 1, 4), urgent: true }))
      expect(yield* log.readPages(s1, 0)).toStrictEqual([])
      expect(yield* log.pagedProgress(s1)).toBeNull()
      expect(Either.isLeft(yield* Effect.either(log.readPages(s1, 1)))).toBe(true)
    }))
})
