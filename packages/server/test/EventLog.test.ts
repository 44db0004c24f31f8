/**
 * The SQLite event log, end to end: real files in a temp directory, the real writer worker (from
 * `dist/`: run `npx tsc -b packages/server` first), a real process killed mid-write.
 * Waits are on durability effects; real time is used only for the timer-driven batching, the
 * busy-database retry and the crash, with generous bounds.
 */
import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import * as Reactivity from "@effect/experimental/Reactivity"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { Duration, Effect, Either, Fiber, Metric, Option, Schedule } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import type { Worker as Thread } from "node:worker_threads"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import type { AppendEntry, EventLogShape } from "../src/eventlog/EventLog.js"
import { encodeEvents, packEntry, unpackBatch } from "../src/eventlog/payloadCodec.js"
import { digest } from "../src/eventlog/sourceKeyDigest.js"
import { makeWriterStore } from "../src/eventlog/writerStore.js"
import * as Metrics from "../src/Metrics.js"
import { event, events, openLog, sid, summary, tempDir } from "./helpers/eventLogFixtures.js"

const s1 = sid("session-1")
const s2 = sid("session-2")
const relaxed = { flushMs: 20, batchSize: 50 }

const batchStats = Metric.value(Metrics.batchSize).pipe(Effect.map(({ count, sum }) => ({ count, sum })))
const appendAll = (log: EventLogShape, entries: ReadonlyArray<AppendEntry>) => Effect.forEach(entries, log.append)
const awaitAll = (durable: ReadonlyArray<Effect.Effect<void, unknown>>) =>
  Effect.all(durable, { discard: true }).pipe(Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => "not durable in 10 s" }))

/** Polls `condition` every 10 ms, for at most 10 s (for what only shows in metrics or on disk). */
const waitUntil = (condition: Effect.Effect<boolean>) =>
  condition.pipe(
    Effect.flatMap((ok) => (ok ? Effect.void : Effect.fail("not yet"))),
    Effect.retry({ schedule: Schedule.spaced("10 millis"), times: 1000 }),
    Effect.orDie
  )

describe("EventLogSqlite", () => {
  it.scopedLive("commits appends and reads them back identically, by session and globally", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const { log } = yield* openLog({ dbPath: path.join(dir, "log.db"), ...relaxed })
      const a = events(s1, 1, 3)
      const b = events(s2, 1, 2)
      const c = events(s1, 4, 6)
      yield* awaitAll(yield* appendAll(log, [{ events: a }, { events: b }, { events: c }]))

      const session1 = [...a, ...c].map((e) => e.stored)
      expect(yield* log.readSession(s1, 0)).toStrictEqual(session1)
      expect(yield* log.readSession(s1, 2)).toStrictEqual(session1.slice(2))
      expect(yield* log.readSession(s1, 2, 2)).toStrictEqual(session1.slice(2, 4))
      expect(yield* log.readSession(s2, 0)).toStrictEqual(b.map((e) => e.stored))

      const all = yield* log.readAll(0, 100)
      expect(all.map(({ position: _, ...stored }) => stored)).toStrictEqual([...a, ...b, ...c].map((e) => e.stored))
      const positions = all.map((e) => e.position)
      expect(positions).toStrictEqual([...positions].sort((x, y) => x - y))
      expect(yield* log.readAll(all[3].position, 2)).toStrictEqual(all.slice(4, 6))
      expect(yield* log.sourceKeyDigests(s2)).toStrictEqual(new Set(["src-1", "src-2"].map(digest)))
      expect(yield* Effect.all([log.hasSourceKey(s2, "src-2"), log.hasSourceKey(s2, "src-3"), log.hasSourceKey(s1, "nope")])).toStrictEqual([true, false, false])
    }))

  it.scopedLive("commits checkpoints and summaries in the same transaction as their events", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const dbPath = path.join(dir, "log.db")
      const { log } = yield* openLog({ dbPath, flushMs: 1, batchSize: 40 })
      const observer = new Database(dbPath, { readonly: true })
      yield* Effect.addFinalizer(() => Effect.sync(() => observer.close()))
      const snapshot = observer.transaction(() => ({
        events: (observer.prepare("SELECT count(*) AS n FROM events").get() as { n: number }).n,
        total: (observer.prepare("SELECT value FROM checkpoints WHERE key = 'total'").get() as { value: string } | undefined)?.value,
        revisions: observer.prepare("SELECT session_id, max(revision) AS r FROM events GROUP BY session_id").all() as Array<{ session_id: string; r: number }>,
        summaries: observer.prepare("SELECT session_id, revision FROM session_summaries").all() as Array<{ session_id: string; revision: number }>
      }))
      // 200 entries of 5 events over two sessions, each with its checkpoint and summary, observed
      // from a second connection while the worker commits them batch after batch.
      let total = 0
      const durable: Array<Effect.Effect<void, unknown>> = []
      for (let i = 0; i < 200; i++) {
        const session = i % 2 === 0 ? s1 : s2
        const from = Math.floor(i / 2) * 5 + 1
        total += 5
        durable.push(
          yield* log.append({
            events: events(session, from, from + 4),
            checkpoints: [{ key: "total", value: String(total) }],
            summary: summary(session, from + 4)
          })
        )
      }
      const done = yield* Effect.fork(awaitAll(durable))
      let observations = 0
      while (Option.isNone(yield* Fiber.poll(done))) {
        const seen = snapshot()
        expect(String(seen.events)).toBe(seen.total ?? "0")
        const latest = new Map(seen.summaries.map((s) => [s.session_id, s.revision]))
        for (const { session_id, r } of seen.revisions) expect(latest.get(session_id)).toBe(r)
        observations++
        yield* Effect.sleep(Duration.millis(1))
      }
      yield* Fiber.join(done)
      expect(observations).toBeGreaterThan(3)
      expect(snapshot().events).toBe(1000)
      expect(yield* log.checkpoint("total")).toStrictEqual(Option.some("1000"))
      expect(yield* log.checkpoint("missing")).toStrictEqual(Option.none())
      // The writer keeps the latest summary of a session; the list is oldest session first.
      expect(yield* log.summaries).toStrictEqual([summary(s1, 500), summary(s2, 500)])
    }))

  it.scopedLive("flushes once batchSize events are queued, taking the whole backlog (group commit); fewer wait for the timer", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const { log } = yield* openLog({ dbPath: path.join(dir, "log.db"), flushMs: 60_000, batchSize: 10 })
      const before = yield* batchStats
      const durable = yield* appendAll(log, events(s1, 1, 25).map((e) => ({ events: [e] })))
      yield* awaitAll(durable)
      // Queued together, the 25 go out in one transaction once the size trigger fires.
      expect(yield* batchStats).toStrictEqual({ count: before.count + 1, sum: before.sum + 25 })
      const few = yield* appendAll(log, events(s1, 26, 30).map((e) => ({ events: [e] })))
      const tail = yield* Effect.fork(awaitAll(few))
      expect(Option.isNone(yield* Fiber.poll(tail))).toBe(true)
      expect((yield* log.readSession(s1, 0)).length).toBe(25)
      yield* log.flush
      yield* Fiber.join(tail)
      expect((yield* log.readSession(s1, 0)).length).toBe(30)
    }))

  it.scopedLive("flushes a smaller batch flushMs after its first entry", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const { log } = yield* openLog({ dbPath: path.join(dir, "log.db"), flushMs: 150, batchSize: 1000 })
      const before = yield* batchStats
      const started = performance.now()
      const durable = yield* appendAll(log, [{ events: events(s1, 1, 2) }, { events: events(s1, 3, 3) }])
      yield* awaitAll(durable)
      const elapsed = performance.now() - started
      expect(elapsed).toBeGreaterThanOrEqual(140)
      expect(elapsed).toBeLessThan(5_000)
      expect(yield* batchStats).toStrictEqual({ count: before.count + 1, sum: before.sum + 3 })
    }))

  it.scopedLive("an urgent entry flushes at once, with what was queued before it", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const { log } = yield* openLog({ dbPath: path.join(dir, "log.db"), flushMs: 60_000, batchSize: 1000 })
      const before = yield* batchStats
      const durable = yield* appendAll(log, [{ events: events(s1, 1, 2) }, { events: events(s1, 3, 3), urgent: true }])
      yield* awaitAll(durable)
      expect(yield* batchStats).toStrictEqual({ count: before.count + 1, sum: before.sum + 3 })
    }))

  it.scopedLive("closing commits everything queued; a reopened log sees it all", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const dbPath = path.join(dir, "log.db")
      const first = yield* openLog({ dbPath, flushMs: 60_000, batchSize: 1000 })
      const durable = yield* appendAll(first.log, [
        { events: events(s1, 1, 100), checkpoints: [{ key: "k", value: "1" }], summary: summary(s1, 100) },
        { events: events(s2, 1, 50), checkpoints: [{ key: "k", value: "2" }], summary: summary(s2, 50, 1) }
      ])
      // A second log on the same file while the first is open: it reads what is committed.
      const second = yield* openLog({ dbPath, ...relaxed })
      expect(yield* second.log.readAll(0, 1000)).toStrictEqual([])
      yield* first.close
      yield* awaitAll(durable)
      const late = yield* first.log.append({ events: events(s1, 101, 101) })
      expect((yield* Effect.either(late)).pipe(Either.getLeft, Option.map((e) => e.operation))).toStrictEqual(
        Option.some("EventLog.append:closed")
      )

      expect((yield* second.log.readAll(0, 1000)).length).toBe(150)
      yield* second.close
      const third = yield* openLog({ dbPath, ...relaxed })
      expect(yield* third.log.readSession(s1, 0)).toStrictEqual(events(s1, 1, 100).map((e) => e.stored))
      expect(yield* third.log.summaries).toStrictEqual([summary(s1, 100), summary(s2, 50, 1)])
      expect(yield* third.log.checkpoint("k")).toStrictEqual(Option.some("2"))
      // …and goes on appending after the last revision.
      yield* Effect.flatten(third.log.append({ events: events(s1, 101, 101), urgent: true }))
      expect((yield* third.log.readSession(s1, 100)).map((e) => e.revision)).toStrictEqual([101])
    }))

  it.scopedLive("a duplicate revision or source key fails that entry alone; the rest of the batch commits", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const { log } = yield* openLog({ dbPath: path.join(dir, "log.db"), flushMs: 60_000, batchSize: 1000 })
      const durable = yield* appendAll(log, [
        { events: [event(s1, 1, "a")], checkpoints: [{ key: "c", value: "1" }] },
        { events: [event(s1, 1, "b")], checkpoints: [{ key: "c", value: "duplicate revision" }] },
        { events: [event(s1, 2, "a")], summary: summary(s1, 2) },
        { events: [event(s1, 2, "c"), event(s1, 3, "d")], checkpoints: [{ key: "c", value: "3" }] },
        { events: [event(s2, 1, "a")] }
      ])
      yield* log.flush
      const outcomes = yield* Effect.forEach(durable, (d) => Effect.either(d))
      expect(outcomes.map((o) => (Either.isLeft(o) ? o.left.operation : "ok"))).toStrictEqual([
        "ok",
        "EventLog.append:constraint",
        "EventLog.append:constraint",
        "ok",
        "ok"
      ])
      expect((yield* log.readSession(s1, 0)).map((e) => e.revision)).toStrictEqual([1, 2, 3])
      expect(yield* log.sourceKeyDigests(s1)).toStrictEqual(new Set(["a", "c", "d"].map(digest)))
      expect(yield* Effect.forEach(["a", "b", "c", "d"], (key) => log.hasSourceKey(s1, key))).toStrictEqual([true, false, true, true])
      expect(yield* log.checkpoint("c")).toStrictEqual(Option.some("3"))
      expect(yield* log.summaries).toStrictEqual([])
      // Against an already committed row too, and the writer keeps going.
      const again = yield* appendAll(log, [{ events: [event(s1, 3, "x")], urgent: true }, { events: [event(s1, 4, "y")], urgent: true }])
      expect(Either.isLeft(yield* Effect.either(again[0]))).toBe(true)
      yield* again[1]
      expect((yield* log.readSession(s1, 3)).map((e) => e.revision)).toStrictEqual([4])
    }))

  it.scopedLive("a commit that fails on a locked database is retried until it succeeds", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const dbPath = path.join(dir, "log.db")
      const { log } = yield* openLog({ dbPath, ...relaxed })
      const retries = (yield* Metric.value(Metrics.appendRetries)).count
      const locker = new Database(dbPath)
      yield* Effect.addFinalizer(() => Effect.sync(() => locker.close()))
      locker.exec("BEGIN IMMEDIATE")
      const durable = yield* log.append({ events: events(s1, 1, 1), urgent: true })
      // The worker's busy timeout is 1 s: hold the lock until an attempt has failed.
      yield* waitUntil(Metric.value(Metrics.appendRetries).pipe(Effect.map(({ count }) => count > retries)))
      locker.exec("COMMIT")
      yield* awaitAll([durable])
      expect((yield* Metric.value(Metrics.appendRetries)).count).toBeGreaterThan(retries)
      expect((yield* log.readSession(s1, 0)).length).toBe(1)
    }))

  it.scopedLive("a writer killed mid-batch leaves whole batches only", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const dbPath = path.join(dir, "log.db")
      const script = fileURLToPath(new URL("./helpers/eventLogCrashWriter.mjs", import.meta.url))
      const child = spawn(process.execPath, [script, dbPath], { stdio: ["ignore", "pipe", "inherit"] })
      yield* Effect.addFinalizer(() => Effect.sync(() => child.kill("SIGKILL")))
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
      yield* Effect.async<void>((resume) => {
        child.stdout.once("data", () => resume(Effect.void))
      }).pipe(Effect.timeoutFail({ duration: "20 seconds", onTimeout: () => "the writer never committed" }))
      // Let it write for a while (it is always mid-batch), then kill it without warning.
      yield* Effect.sleep(Duration.millis(300 + Math.floor(Math.random() * 300)))
      child.kill("SIGKILL")
      yield* Effect.promise(() => exited)

      const { log } = yield* openLog({ dbPath, ...relaxed })
      const count = (yield* log.readAll(0, 1_000_000)).length
      expect(count).toBeGreaterThan(0)
      expect(yield* log.checkpoint("total")).toStrictEqual(Option.some(String(count)))
      const summaries = new Map((yield* log.summaries).map((s) => [s.id, s.revision]))
      for (const session of ["crash-a", "crash-b", "crash-c", "crash-d"].map(sid)) {
        const revisions = (yield* log.readSession(session, 0)).map((e) => e.revision)
        expect(revisions).toStrictEqual(revisions.map((_, i) => i + 1))
        expect(yield* log.checkpoint(`rev:${session}`)).toStrictEqual(
          revisions.length === 0 ? Option.none() : Option.some(String(revisions.length))
        )
        expect(summaries.get(session)).toBe(revisions.length === 0 ? undefined : revisions.length)
      }
    }))

  it.scopedLive("a crashed writer thread is replaced and the batch it held is committed once", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const threads: Array<Thread> = []
      const { log } = yield* openLog({
        dbPath: path.join(dir, "log.db"),
        ...relaxed,
        onWriterStarted: (thread) => threads.push(thread)
      })
      yield* Effect.flatten(log.append({ events: events(s1, 1, 10), urgent: true }))
      const retries = (yield* Metric.value(Metrics.appendRetries)).count
      // Killed while this batch is on its way to it (or in it): nothing may be lost or doubled.
      const durable = yield* log.append({ events: events(s1, 11, 20), checkpoints: [{ key: "k", value: "20" }], urgent: true })
      yield* Effect.promise(() => threads[0].terminate())
      yield* awaitAll([durable])
      expect(threads.length).toBe(2)
      expect((yield* Metric.value(Metrics.appendRetries)).count).toBeGreaterThan(retries)
      expect((yield* log.readSession(s1, 0)).map((e) => e.revision)).toStrictEqual(events(s1, 1, 20).map((e) => e.stored.revision))
      expect(yield* log.checkpoint("k")).toStrictEqual(Option.some("20"))
    }))

  it.scopedLive("the writer recognises a batch re-sent after it committed (reply lost to a crash), on either lane", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      // Migrate the file through the layer, then drive the worker-side store on a connection of our own.
      const dbPath = path.join(dir, "log.db")
      yield* Effect.flatMap(openLog({ dbPath, ...relaxed }), ({ close }) => close)
      const sql = yield* SqliteClient.make({ filename: dbPath }).pipe(Effect.provide(Reactivity.layer))
      const store = makeWriterStore(sql)
      const lines: Array<string> = []
      for (const entry of [{ events: events(s1, 1, 2) }, { events: [event(s1, 2, "again")] }, { events: events(s2, 1, 1) }]) {
        packEntry(lines, entry, encodeEvents(entry.events), false)
      }
      const entries = unpackBatch(lines.join("\n"))
      const first = yield* store.commit({ token: "t-1", entries: entries.slice(0, 2), retry: false, lane: "main" })
      expect(first._tag === "Committed" && first.rejected.map((r) => r.index)).toStrictEqual([1])
      // The express lane's batch committed after it: each lane still knows its own last batch.
      const express = yield* store.commit({ token: "t-2", entries: [entries[2]], retry: false, lane: "express" })
      expect(express).toStrictEqual({ _tag: "Committed", rejected: [] })
      expect(yield* store.commit({ token: "t-1", entries: entries.slice(0, 2), retry: true, lane: "main" })).toStrictEqual(first)
      expect(yield* store.commit({ token: "t-2", entries: [entries[2]], retry: true, lane: "express" })).toStrictEqual(express)
      // A new token with the same rows is a real duplicate.
      const other = yield* store.commit({ token: "t-3", entries: [entries[2]], retry: true, lane: "main" })
      expect(other._tag === "Committed" && other.rejected.map((r) => r.code)).toStrictEqual(["SQLITE_CONSTRAINT_UNIQUE"])
      const rows = yield* sql.unsafe<{ n: number }>("SELECT count(*) AS n FROM events")
      expect(rows[0].n).toBe(3)
    }))

  it.scopedLive("a file that is not a database fails the layer with EventLogError", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const dbPath = path.join(dir, "log.db")
      fs.writeFileSync(dbPath, "not a database ".repeat(100))
      const opened = yield* Effect.either(openLog({ dbPath, ...relaxed }))
      expect(Either.getLeft(opened).pipe(Option.map((e) => e.operation))).toStrictEqual(Option.some("EventLog.open:connection"))
    }))

  it.scopedLive("an entry that cannot be encoded fails alone", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const { log } = yield* openLog({ dbPath: path.join(dir, "log.db"), flushMs: 60_000, batchSize: 1000 })
      const poisoned = (revision: number, value: unknown): AppendEntry => {
        const pending = event(s1, revision)
        return { events: [{ ...pending, stored: { ...pending.stored, event: { ...pending.stored.event, extra: value } as never } }] }
      }
      const cycle: Record<string, unknown> = {}
      cycle.self = cycle
      const durable = yield* appendAll(log, [
        { events: events(s1, 1, 1) },
        poisoned(2, cycle),
        poisoned(2, 10n), // JSON cannot encode a bigint
        { events: events(s1, 2, 2), urgent: true }
      ])
      const outcomes = yield* Effect.forEach(durable, (d) => Effect.either(d))
      expect(outcomes.map((o) => (Either.isLeft(o) ? o.left.operation : "ok"))).toStrictEqual([
        "ok",
        "EventLog.append:encode",
        "EventLog.append:encode",
        "ok"
      ])
      expect(yield* log.readSession(s1, 0)).toStrictEqual(events(s1, 1, 2).map((e) => e.stored))
    }))
})
