/**
 * Projection snapshots, end to end on real SQLite files: hydration from a snapshot plus the events
 * after it equals a replay of every event; the writer worker keeps snapshots up to date and never
 * ahead of the committed log; an unreadable snapshot falls back to a replay. The worker runs from
 * `dist/` (run `npx tsc -b packages/server` first).
 */
import { describe, expect, it } from "@effect/vitest"
import type { DomainEvent, MessageId, RequestId, SessionId } from "@orbitdock/domain"
import { StoredEvent } from "@orbitdock/domain"
import { SessionProjection } from "@orbitdock/projections"
import Database from "better-sqlite3"
import { Effect, Logger, Schedule, Schema } from "effect"
import fc from "fast-check"
import * as path from "node:path"
import type { EventLogShape, LoadedSession, PendingEvent } from "../src/eventlog/EventLog.js"
import * as EventLogMemory from "../src/eventlog/EventLogMemory.js"
import * as Hydration from "../src/Hydration.js"
import * as MessagePages from "../src/eventlog/messagePages.js"
import * as AssembledState from "../src/eventlog/assembledState.js"
import { decodeSnapshot } from "../src/eventlog/snapshotCodec.js"
import {
  makeSnapshotScheduler,
  makeSnapshotStore,
  SNAPSHOT_EVERY,
  SNAPSHOT_EVERY_COMMITS,
  SNAPSHOT_HOLD_COMMITS,
  SNAPSHOT_MAX_FOLD
} from "../src/eventlog/snapshotStore.js"
import { openLog, sid, summary, tempDir } from "./helpers/eventLogFixtures.js"

const relaxed = { flushMs: 20, batchSize: 500 }
const at = (n: number) => new Date(Date.UTC(2026, 0, 1) + n * 1000).toISOString()
const decodeStored = Schema.decodeUnknownSync(StoredEvent)

const ids = ["a", "b", "c", "d"]
const id = fc.constantFrom(...ids)
// Non-ASCII included: the snapshot read has a fast path for ASCII rows and a UTF-8 one.
const text = fc.string({ unit: "grapheme", maxLength: 12 })

const eventArb: fc.Arbitrary<DomainEvent> = fc.oneof(
  fc.constant<DomainEvent>({ type: "turn_started" }),
  fc.constant<DomainEvent>({ type: "turn_completed" }),
  fc.tuple(id, fc.constantFrom("user", "assistant", "tool" as const), text).map(
    ([mid, role, content]): DomainEvent => ({ type: "message_appended", message: { id: mid as MessageId, role, content, created_at: at(0) } })
  ),
  fc.tuple(id, text).map(([mid, content]): DomainEvent => ({ type: "message_updated", message_id: mid as MessageId, changes: { content } })),
  id.map((rid): DomainEvent => ({ type: "approval_requested", request: { id: rid as RequestId, kind: "exec", created_at: at(0), command: "ls" } })),
  fc.tuple(id, fc.constantFrom("approved", "denied" as const)).map(
    ([rid, outcome]): DomainEvent => ({ type: "approval_resolved", request_id: rid as RequestId, outcome })
  ),
  id.map((rid): DomainEvent => ({ type: "question_asked", request: { id: `q${rid}` as RequestId, created_at: at(0), question: "?" } })),
  id.map((rid): DomainEvent => ({ type: "question_resolved", request_id: `q${rid}` as RequestId, outcome: "answered", answer: "x" })),
  fc.nat(1000).map((n): DomainEvent => ({ type: "tokens_updated", usage: { input: n, output: 1, cached_input: 0, total: n + 1 } })),
  text.map((diff): DomainEvent => ({ type: "diff_updated", diff })),
  fc.constant<DomainEvent>({ type: "session_ended", reason: "done" }),
  fc.constant<DomainEvent>({ type: "session_reopened", reason: "resumed" })
)

/** A session's history as pending events: `session_created`, then `events`. */
const history = (sessionId: SessionId, events: ReadonlyArray<DomainEvent>): Array<PendingEvent> =>
  [{ type: "session_created", provider: "sim", cwd: "/work", status: "waiting" } as DomainEvent, ...events].map((event, i) => ({
    stored: decodeStored({ session_id: sessionId, revision: i + 1, occurred_at: at(i + 1), event }),
    source_key: null
  }))

const message = (n: number): DomainEvent => ({
  type: "message_appended",
  message: { id: `m-${n}` as MessageId, role: "assistant", content: `message ${n} ` + "x".repeat(200), created_at: at(n) }
})

const appendDurably = (log: EventLogShape, events: ReadonlyArray<PendingEvent>, withSummary = false) =>
  events.length === 0
    ? Effect.void
    : Effect.flatten(
        log.append({
          events,
          urgent: true,
          ...(withSummary ? { summary: summary(events[0].stored.session_id, events.at(-1)!.stored.revision) } : {})
        })
      )

/** What hydration gives, with the paged messages put back: must equal a replay of every event. */
const wholeOf = (log: EventLogShape, sessionId: SessionId, loaded: LoadedSession): SessionProjection.SessionProjection => {
  const hydrated = Hydration.hydrate(sessionId, loaded)
  const state = AssembledState.assemble(hydrated.projection.state, Effect.runSync(log.readPages(sessionId, hydrated.paged)), hydrated.pagedUpdates)
  return { ...hydrated.projection, state: { ...state, messages: [...state.messages] } }
}

/** Polls `condition` every 20 ms for at most 20 s. */
const waitUntil = (condition: Effect.Effect<boolean>) =>
  condition.pipe(
    Effect.flatMap((ok) => (ok ? Effect.void : Effect.fail("not yet"))),
    Effect.retry({ schedule: Schedule.spaced("20 millis"), times: 1000 }),
    Effect.orDie
  )

/** A connection of the test's own to the log's file, closed with the test. */
const connect = (dbPath: string, readonly: boolean) =>
  Effect.acquireRelease(
    Effect.sync(() => new Database(dbPath, { readonly, fileMustExist: true })),
    (db) => Effect.sync(() => db.close())
  )

/**
 * A log on a fresh file, and the snapshot code the writer worker runs on a connection of the
 * test's own, to place snapshots anywhere.
 */
const logWithStore = Effect.gen(function* () {
  const dbPath = path.join(yield* tempDir, "log.db")
  const { log } = yield* openLog({ dbPath, ...relaxed })
  const writer = yield* connect(dbPath, false)
  return { log, writer, store: makeSnapshotStore(writer) }
})

describe("projection snapshots", () => {
  it.scopedLive("given a snapshot at any revision, hydrating from it plus the tail equals replaying every event", () =>
    Effect.gen(function* () {
      const { log, store } = yield* logWithStore
      let n = 0
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(fc.array(eventArb, { maxLength: 60 }), fc.nat(), async (domainEvents, cut) => {
            const sessionId = sid(`prop-${++n}`)
            const events = history(sessionId, domainEvents)
            const k = 1 + (cut % events.length)
            await Effect.runPromise(appendDurably(log, events.slice(0, k)))
            const written = store.write(sessionId)
            expect(written?.revision).toBe(k)
            await Effect.runPromise(appendDurably(log, events.slice(k)))

            const loaded = await Effect.runPromise(log.loadSession(sessionId))
            expect(loaded.snapshot?.state.revision).toBe(k)
            expect(loaded.events).toStrictEqual(events.slice(k).map((e) => e.stored))
            const all = events.map((e) => e.stored)
            expect(wholeOf(log, sessionId, loaded)).toEqual(SessionProjection.replay(sessionId, all))
          }),
          { numRuns: 40 }
        )
      )
    }), 60_000)

  it.scopedLive("given enough messages to page out and updates of any of them, hydration with the pages equals replaying every event", () =>
    Effect.gen(function* () {
      const { log, store } = yield* logWithStore
      let n = 0
      const seen = { paged: 0, pagedUpdates: 0 }
      const update = fc.tuple(fc.nat(), fc.nat(), text, fc.boolean())
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(
            fc.integer({ min: 200, max: 450 }),
            fc.array(update, { maxLength: 40 }),
            fc.array(fc.nat(), { minLength: 1, maxLength: 3 }),
            async (count, updates, cuts) => {
              const sessionId = sid(`paged-${++n}`)
              // `count` messages; each update goes after a random append and changes an earlier message.
              const domainEvents: Array<DomainEvent> = []
              const after = new Map<number, Array<(typeof updates)[number]>>()
              for (const u of updates) after.set(u[0] % count, [...(after.get(u[0] % count) ?? []), u])
              for (let i = 0; i < count; i++) {
                domainEvents.push(message(i))
                for (const [, target, content, tool] of after.get(i) ?? []) {
                  domainEvents.push({
                    type: "message_updated",
                    message_id: `m-${target % (i + 1)}` as MessageId,
                    changes: tool ? { tool: { name: "Bash", input: content, status: "ok" } } : { content, streaming: false }
                  })
                }
              }
              const events = history(sessionId, domainEvents)
              // Snapshots after at least 200 events: each has messages to page out.
              const points = [...new Set(cuts.map((c) => 200 + (c % (events.length - 199))))].sort((a, b) => a - b)
              let from = 0
              for (const point of points) {
                await Effect.runPromise(appendDurably(log, events.slice(from, point)))
                store.write(sessionId)
                from = point
              }
              await Effect.runPromise(appendDurably(log, events.slice(from)))

              const loaded = await Effect.runPromise(log.loadSession(sessionId))
              const replayed = SessionProjection.replay(sessionId, events.map((e) => e.stored))
              expect(wholeOf(log, sessionId, loaded)).toEqual(replayed)
              // The JSON spliced from the pages' text (what a GET writes) is the same state.
              const hydrated = Hydration.hydrate(sessionId, loaded)
              const assembled = AssembledState.assemble(
                hydrated.projection.state,
                Effect.runSync(log.readPages(sessionId, hydrated.paged)),
                hydrated.pagedUpdates
              )
              if (hydrated.paged > 0) seen.paged++
              if (hydrated.pagedUpdates.length > 0) seen.pagedUpdates++
              const chunks = AssembledState.jsonChunksOf(assembled)
              if (hydrated.paged > 0 && hydrated.pagedUpdates.length === 0) expect(chunks).toBeDefined()
              if (chunks !== undefined) expect(JSON.parse(chunks.join(""))).toEqual(replayed.state)
            }
          ),
          // A fixed seed: which runs page out and update paged messages must not vary (25 unseeded runs once had none).
          { numRuns: 25, seed: 20261207 }
        )
      )
      // The runs did exercise paging, and updates of paged messages after the last snapshot.
      expect(seen.paged).toBeGreaterThanOrEqual(20)
      expect(seen.pagedUpdates).toBeGreaterThan(0)
    }), 60_000)

  it.scopedLive("the writer worker snapshots a session after enough events, never ahead of the committed log", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const dbPath = path.join(dir, "log.db")
      const { log } = yield* openLog({ dbPath, ...relaxed })
      const reader = yield* connect(dbPath, true)
      const s1 = sid("busy")
      const observe = reader.transaction(() => ({
        snapshot: (reader.prepare("SELECT revision FROM snapshots WHERE session_id = ?").pluck().get(s1) as number | undefined) ?? 0,
        committed: (reader.prepare("SELECT max(revision) FROM events WHERE session_id = ?").pluck().get(s1) as number | null) ?? 0
      }))
      const events = history(s1, Array.from({ length: 2 * SNAPSHOT_EVERY + 599 }, (_, i) => message(i + 2)))
      const seen: Array<{ snapshot: number; committed: number }> = []
      for (let from = 0; from < events.length; from += 100) {
        // Not awaited one by one: the worker gets batches while it may be writing snapshots.
        yield* log.append({ events: events.slice(from, from + 100) })
        seen.push(observe())
      }
      yield* log.flush
      yield* waitUntil(Effect.sync(() => (seen.push(observe()), seen.at(-1)!.snapshot >= 2 * SNAPSHOT_EVERY)))
      for (const { snapshot, committed } of seen) expect(snapshot).toBeLessThanOrEqual(committed)

      // What it wrote (the snapshot and its pages, read together) is the fold of exactly the events up to its revision.
      const { row, pages } = reader.transaction(() => {
        const row = reader.prepare("SELECT revision, projection, paged FROM snapshots WHERE session_id = ?").raw(true).get(s1) as [number, string, number]
        const pages = reader.prepare("SELECT messages FROM message_pages WHERE session_id = ? ORDER BY first_seq").pluck().all(s1) as Array<string>
        return { row, pages }
      })()
      const decoded = decodeSnapshot(s1, row[0], row[1], row[2])
      expect(decoded._tag).toBe("Snapshot")
      const upTo = events.slice(0, row[0]).map((e) => e.stored)
      if (decoded._tag === "Snapshot") {
        // All but the last KEEP_MESSAGES..KEEP_MESSAGES + PAGE_MESSAGES messages are paged out.
        expect(decoded.paged).toBe(pages.length * MessagePages.PAGE_MESSAGES)
        expect(decoded.projection.state.messages.length).toBeGreaterThanOrEqual(MessagePages.KEEP_MESSAGES)
        expect(decoded.projection.state.messages.length).toBeLessThan(MessagePages.KEEP_MESSAGES + MessagePages.PAGE_MESSAGES)
        const state = AssembledState.assemble(decoded.projection.state, pages, [])
        expect({ ...decoded.projection, state: { ...state } }).toEqual(SessionProjection.replay(s1, upTo))
      }
      // A few more events (not enough for another snapshot): hydration folds them onto it.
      const more = history(s1, Array.from({ length: events.length + 9 }, (_, i) => message(i + 2))).slice(events.length)
      yield* appendDurably(log, more)
      const loaded = yield* log.loadSession(s1)
      expect(loaded.snapshot?.state.revision).toBe(row[0])
      expect(loaded.events.map((e) => e.revision)).toStrictEqual([...events, ...more].slice(row[0]).map((e) => e.stored.revision))
      expect(loaded.events.length).toBeGreaterThanOrEqual(more.length)
      expect(wholeOf(log, s1, loaded)).toEqual(SessionProjection.replay(s1, [...events, ...more].map((e) => e.stored)))

      // A damaged page (a torn write, a hand edit) or a missing one is an error, not a wrong state.
      const paged = Hydration.hydrate(s1, loaded).paged
      const pageCount = Math.ceil(paged / MessagePages.PAGE_MESSAGES)
      expect(pageCount).toBeGreaterThan(1)
      const writer = yield* connect(dbPath, false)
      writer.pragma("busy_timeout = 5000")
      writer.prepare("UPDATE message_pages SET messages = 'not json' WHERE session_id = ? AND first_seq = ?").run(s1, MessagePages.PAGE_MESSAGES)
      expect((yield* Effect.flip(log.readPages(s1, paged))).message).toContain(`damaged: ${pageCount - 1} readable of ${pageCount}`)
      writer.prepare("DELETE FROM message_pages WHERE session_id = ? AND first_seq = ?").run(s1, MessagePages.PAGE_MESSAGES)
      expect((yield* Effect.flip(log.readPages(s1, paged))).message).toContain(`damaged: ${pageCount - 1} readable of ${pageCount}`)
    }), 60_000)

  it.scopedLive("a small session gets no snapshot", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const dbPath = path.join(dir, "log.db")
      const { log, close } = yield* openLog({ dbPath, ...relaxed })
      const s1 = sid("small")
      yield* appendDurably(log, history(s1, Array.from({ length: SNAPSHOT_EVERY - 2 }, (_, i) => message(i + 2))))
      yield* close // the worker is gone: whatever it was going to write, it wrote
      const reader = yield* connect(dbPath, true)
      expect(reader.prepare("SELECT count(*) FROM snapshots").pluck().get()).toBe(0)
    }))

  it.scopedLive("a log whose sessions have no snapshots (older database) catches up once the worker is idle", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const dbPath = path.join(dir, "log.db")
      const s1 = sid("old")
      const events = history(s1, Array.from({ length: SNAPSHOT_EVERY + 199 }, (_, i) => message(i + 2)))
      const first = yield* openLog({ dbPath, ...relaxed })
      yield* appendDurably(first.log, events, true)
      yield* first.close
      const writer = yield* connect(dbPath, false)
      writer.prepare("DELETE FROM snapshots").run()

      const { log } = yield* openLog({ dbPath, ...relaxed })
      const reader = yield* connect(dbPath, true)
      yield* waitUntil(
        Effect.sync(() => reader.prepare("SELECT revision FROM snapshots WHERE session_id = ?").pluck().get(s1) === events.length)
      )
      const loaded = yield* log.loadSession(s1)
      expect(loaded.events).toStrictEqual([])
      expect(wholeOf(log, s1, loaded)).toEqual(SessionProjection.replay(s1, events.map((e) => e.stored)))
    }))

  it.scopedLive("an unreadable snapshot is logged and ignored: hydration replays every event, the next snapshot replaces it", () =>
    Effect.gen(function* () {
      const { log, writer, store } = yield* logWithStore
      const s1 = sid("corrupt")
      const events = history(s1, [
        message(2),
        { type: "approval_requested", request: { id: "r1" as RequestId, kind: "exec", created_at: at(3), command: "rm" } },
        message(4)
      ])
      yield* appendDurably(log, events)
      const replayed = SessionProjection.replay(s1, events.map((e) => e.stored))
      const corruptions: ReadonlyArray<readonly [string, string]> = [
        ["not JSON", `UPDATE snapshots SET projection = '{"state": nope' WHERE session_id = ?`],
        ["revision disagrees with the row", "UPDATE snapshots SET revision = revision + 5 WHERE session_id = ?"],
        ["another session's state", `UPDATE snapshots SET projection = replace(projection, '"id":"corrupt"', '"id":"other"') WHERE session_id = ?`],
        ["not a projection", `UPDATE snapshots SET projection = '[1,2,3]' WHERE session_id = ?`]
      ]
      for (const [label, corrupt] of corruptions) {
        expect(store.write(s1)?.revision ?? store.snapshotRevision(s1)).toBe(events.length)
        writer.prepare(corrupt).run(s1)
        const warnings: Array<string> = []
        const collect = Logger.replace(
          Logger.defaultLogger,
          Logger.make(({ logLevel, message }) => {
            if (logLevel._tag === "Warning") warnings.push(String(message))
          })
        )
        const loaded = yield* log.loadSession(s1).pipe(Effect.provide(collect))
        expect(loaded.snapshot, label).toBeNull()
        expect(loaded.events).toStrictEqual(events.map((e) => e.stored))
        expect(warnings.join("\n"), label).toContain("unreadable projection snapshot")
        expect(wholeOf(log, s1, loaded)).toEqual(replayed)
        // The writer does not trust it either: it folds from nothing and overwrites it.
        expect(store.write(s1)).toMatchObject({ revision: events.length, fromScratch: true })
        expect((yield* log.loadSession(s1)).snapshot).toEqual(replayed)
      }
    }))

  it.scopedLive("a snapshot ahead of the log (an older copy of the file restored under it) is ignored and rebuilt", () =>
    Effect.gen(function* () {
      const { log, writer, store } = yield* logWithStore
      const s1 = sid("restored")
      const events = history(s1, [message(2), message(3), message(4)])
      yield* appendDurably(log, events)
      expect(store.write(s1)?.revision).toBe(4)
      writer.prepare("DELETE FROM events WHERE session_id = ? AND revision > 2").run(s1)
      const kept = events.slice(0, 2).map((e) => e.stored)

      const loaded = yield* log.loadSession(s1)
      expect(loaded).toMatchObject({ snapshot: null, events: kept })
      expect(wholeOf(log, s1, loaded)).toEqual(SessionProjection.replay(s1, kept))
      expect(store.write(s1)).toMatchObject({ revision: 2, fromScratch: true })
      expect((yield* log.loadSession(s1)).snapshot).toEqual(SessionProjection.replay(s1, kept))
    }))

  it.scopedLive("a session far past its snapshot catches up in snapshots of at most SNAPSHOT_MAX_FOLD events, each one whole", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const dbPath = path.join(dir, "log.db")
      const s1 = sid("far-behind")
      const events = history(s1, Array.from({ length: 2 * SNAPSHOT_MAX_FOLD + 300 }, (_, i) => message(i + 2)))
      const first = yield* openLog({ dbPath, ...relaxed })
      yield* appendDurably(first.log, events)
      yield* first.close
      // Its snapshots gone; no summary either, so the reopened log's worker leaves it to the test.
      const db = yield* connect(dbPath, false)
      db.prepare("DELETE FROM snapshots").run()
      db.prepare("DELETE FROM message_pages").run()
      const { log } = yield* openLog({ dbPath, ...relaxed })
      const store = makeSnapshotStore(db)
      const all = events.map((e) => e.stored)
      const replayed = SessionProjection.replay(s1, all)
      const steps: Array<number> = []
      for (let written = store.write(s1); written !== null; written = store.write(s1)) {
        expect(written.folded).toBeLessThanOrEqual(SNAPSHOT_MAX_FOLD)
        steps.push(written.revision)
        const loaded = yield* log.loadSession(s1)
        expect(loaded.snapshot?.state.revision).toBe(written.revision)
        expect(wholeOf(log, s1, loaded)).toEqual(replayed)
      }
      expect(steps).toStrictEqual([SNAPSHOT_MAX_FOLD, 2 * SNAPSHOT_MAX_FOLD, events.length])
    }), 60_000)

  it.scopedLive("the worker's scheduler holds snapshots back while a command's entry is on its way, within bounds", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const dbPath = path.join(dir, "log.db")
      const [s1, s2] = [sid("deferred-1"), sid("deferred-2")]
      const first = yield* openLog({ dbPath, ...relaxed })
      for (const s of [s1, s2]) {
        yield* appendDurably(first.log, history(s, Array.from({ length: SNAPSHOT_EVERY + 10 }, (_, i) => message(i + 2))), true)
      }
      yield* first.close
      // The file as an older database left it (no snapshots), and a scheduler of the test's own on it.
      const db = yield* connect(dbPath, false)
      db.prepare("DELETE FROM snapshots").run()
      let urgentQueued = 1
      const written: Array<string> = []
      const scheduler = yield* Effect.acquireRelease(
        Effect.sync(() =>
          makeSnapshotScheduler(makeSnapshotStore(db), {
            idleMs: 1,
            urgentQueued: () => urgentQueued,
            onWritten: (w) => written.push(w.sessionId)
          })
        ),
        (s) => Effect.sync(() => s.close())
      )
      const commits = (n: number) => {
        for (let i = 0; i < n; i++) {
          scheduler.commitStarted()
          scheduler.commitEnded({ token: `t${i}`, entries: [], retry: false, lane: "main" }, undefined)
        }
      }
      scheduler.catchUp()
      expect(scheduler.pending()).toBe(2)

      // Given a command's entry on its way: nothing starts, however idle the worker...
      yield* Effect.sleep("60 millis")
      expect(written).toStrictEqual([])
      // ...nor when enough commits went by to force one...
      commits(SNAPSHOT_EVERY_COMMITS)
      yield* Effect.sleep("60 millis")
      expect(written).toStrictEqual([])
      // ...until commands back to back have held it back long enough: then one goes in.
      commits(SNAPSHOT_HOLD_COMMITS - SNAPSHOT_EVERY_COMMITS)
      yield* waitUntil(Effect.sync(() => written.length === 1))
      yield* Effect.sleep("60 millis")
      expect(written).toHaveLength(1)
      // Once the command's entry is committed, the other goes in too.
      urgentQueued = 0
      yield* waitUntil(Effect.sync(() => written.length === 2))
      expect(new Set(written)).toStrictEqual(new Set([s1, s2]))
    }))

  it.effect("the in-memory log has no snapshots: loadSession returns every event", () =>
    Effect.gen(function* () {
      const log = yield* EventLogMemory.make
      const s1 = sid("memory")
      const events = history(s1, [message(2), message(3)])
      yield* Effect.flatten(log.append({ events }))
      const loaded = yield* log.loadSession(s1)
      expect(loaded).toMatchObject({ snapshot: null, events: events.map((e) => e.stored) })
      expect(wholeOf(log, s1, loaded)).toEqual(SessionProjection.replay(s1, events.map((e) => e.stored)))
    }))
})
