/**
 * The writer's rules that sit above SQLite, against the real log (temp file, real worker): which
 * entries an urgent one commits with and ahead of, the room producers wait for before they show
 * what they append, and the status a failing commit reports while it is kept and retried.
 * Commit order is read back from the log's global `position`, which the insert assigns.
 */
import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect, Fiber, Metric, Option, Schedule, Stream } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import type { AppendEntry, WriterStatus } from "../src/eventlog/EventLog.js"
import { BATCH_MS, batchLimitFor, INTERACTIVE_BATCH_MS, INTERACTIVE_MS, MAX_GROUP_COMMIT, MIN_ROOM, URGENT_WAIT_MS, urgentBatch } from "../src/eventlog/writeQueue.js"
import * as Metrics from "../src/Metrics.js"
import { events, openLog, sid, summary, tempDir } from "./helpers/eventLogFixtures.js"

const x = sid("session-x")
const y = sid("session-y")

/** Entries as the write queue sees them: just what the rule reads. */
const entry = (name: string, session: string | null, urgent = false, count = 1, enqueuedAt = 0) => ({
  name,
  session,
  urgent,
  count,
  enqueuedAt
})

describe("urgentBatch (the ordering rule)", () => {
  it("given entries of X and Y, when Y has an urgent one, then Y's up to it go first and X's keep their order", () => {
    const queue = [entry("x1", "X"), entry("y1", "Y"), entry("x2", "X"), entry("y2", "Y", true), entry("y3", "Y"), entry("x3", "X")]
    const taken = urgentBatch(queue)!
    expect(taken.batch.map((e) => e.name)).toStrictEqual(["y1", "y2"])
    expect(taken.rest.map((e) => e.name)).toStrictEqual(["x1", "x2", "y3", "x3"])
  })

  it("takes each urgent session's entries up to its last urgent one, in queue order", () => {
    const queue = [entry("x1", "X"), entry("z1", "Z", true), entry("y1", "Y"), entry("z2", "Z"), entry("y2", "Y", true), entry("z3", "Z")]
    const taken = urgentBatch(queue)!
    expect(taken.batch.map((e) => e.name)).toStrictEqual(["z1", "y1", "y2"])
    expect(taken.rest.map((e) => e.name)).toStrictEqual(["x1", "z2", "z3"])
  })

  it("given X's command behind a long backlog of X and Y's command behind little, when the limit is short, then Y's goes first", () => {
    const queue = [entry("x1", "X", false, 500), entry("y1", "Y", false, 3), entry("x2", "X", true, 2), entry("y2", "Y", true, 1)]
    const taken = urgentBatch(queue, 100)!
    expect(taken.batch.map((e) => e.name)).toStrictEqual(["y1", "y2"])
    expect(taken.rest.map((e) => e.name)).toStrictEqual(["x1", "x2"])
  })

  it("given X's command behind a long backlog, when it has waited URGENT_WAIT_MS, then X goes in too, the cheaper first", () => {
    const queue = [entry("x1", "X", false, 500), entry("y1", "Y", false, 3), entry("x2", "X", true, 2), entry("y2", "Y", true, 1, 50)]
    expect(urgentBatch(queue, 100, URGENT_WAIT_MS - 1)!.batch.map((e) => e.name)).toStrictEqual(["y1", "y2"])
    const taken = urgentBatch(queue, 100, URGENT_WAIT_MS)!
    expect(taken.batch.map((e) => e.name)).toStrictEqual(["x1", "y1", "y2"])
    expect(taken.rest.map((e) => e.name)).toStrictEqual(["x2"])
  })

  it("takes the cheapest sessions that fit together, in queue order", () => {
    const queue = [entry("z1", "Z", true, 40), entry("x1", "X", true, 30), entry("y1", "Y", true, 50)]
    const taken = urgentBatch(queue, 80)!
    expect(taken.batch.map((e) => e.name)).toStrictEqual(["z1", "x1"])
    expect(taken.rest.map((e) => e.name)).toStrictEqual(["y1"])
  })

  it("given one urgent session whose backlog exceeds the limit, then its oldest entries go, at least one, in order", () => {
    const queue = [entry("x1", "X", false, 60), entry("x2", "X", false, 30), entry("x3", "X", false, 30), entry("x4", "X", true, 1)]
    expect(urgentBatch(queue, 100)!.batch.map((e) => e.name)).toStrictEqual(["x1", "x2"])
    expect(urgentBatch(queue, 10)!.batch.map((e) => e.name)).toStrictEqual(["x1"])
    expect(urgentBatch(queue, 10)!.rest.map((e) => e.name)).toStrictEqual(["x2", "x3", "x4"])
  })

  it("leaves an urgent entry of no session (a flush marker) to plain queue order", () => {
    expect(urgentBatch([entry("x1", "X"), entry("flush", null, true), entry("x2", "X")])).toBeUndefined()
    expect(urgentBatch([entry("x1", "X"), entry("y1", "Y")])).toBeUndefined()
  })
})

/** Position of each committed event, keyed `session:revision`. */
const positions = (dbPath: string) => {
  const db = new Database(dbPath, { readonly: true })
  try {
    const rows = db.prepare("SELECT session_id, revision, position FROM events").all() as Array<{ session_id: string; revision: number; position: number }>
    return new Map(rows.map((r) => [`${r.session_id}:${r.revision}`, r.position]))
  } finally {
    db.close()
  }
}

describe("batchLimitFor (how much a batch takes)", () => {
  it("given no command lately, then a batch holds BATCH_MS of the writer's measured work", () => {
    expect(batchLimitFor(100, 500, Infinity)).toBe(100 * BATCH_MS)
  })
  it("given a command queued less than INTERACTIVE_MS ago, then it holds INTERACTIVE_BATCH_MS of work: the command's ack waits for it", () => {
    expect(batchLimitFor(100, 500, 0)).toBe(100 * INTERACTIVE_BATCH_MS)
    expect(batchLimitFor(100, 500, INTERACTIVE_MS - 1)).toBe(100 * INTERACTIVE_BATCH_MS)
    expect(batchLimitFor(100, 500, INTERACTIVE_MS)).toBe(100 * BATCH_MS)
  })
  it("never takes fewer than the configured batch size, nor more than MAX_GROUP_COMMIT", () => {
    expect(batchLimitFor(10, 500, 0)).toBe(500)
    expect(batchLimitFor(1000, 500, Infinity)).toBe(MAX_GROUP_COMMIT)
  })
})

describe("the write queue over the real log", () => {
  it.scopedLive("an urgent entry of Y commits before X's backlog and after Y's own earlier entries", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const dbPath = path.join(dir, "log.db")
      // No timer or size trigger fires: only urgency (and the final flush) makes anything commit.
      const { log } = yield* openLog({ dbPath, flushMs: 60_000, batchSize: 100_000 })
      const queued: Array<AppendEntry> = [
        { events: events(x, 1, 200), summary: summary(x, 200) },
        { events: events(y, 1, 3), summary: summary(y, 3) },
        { events: events(x, 201, 400), summary: summary(x, 400) },
        { events: events(y, 4, 4), summary: summary(y, 4), urgent: true },
        { events: events(x, 401, 402), summary: summary(x, 402) }
      ]
      const durable = yield* Effect.forEach(queued, log.append)
      yield* durable[3]!
      // Y's ack came with its own earlier entries; X's backlog is still queued.
      const early = positions(dbPath)
      expect([...early.keys()].sort()).toStrictEqual(["session-y:1", "session-y:2", "session-y:3", "session-y:4"])
      expect(log.uncommitted(x)).toBe(true)
      expect(log.uncommitted(y)).toBe(false)
      yield* log.flush
      const all = positions(dbPath)
      expect(all.size).toBe(406)
      const before = (a: string, b: string) => expect(all.get(a)!).toBeLessThan(all.get(b)!)
      before("session-y:3", "session-y:4")
      before("session-y:4", "session-x:1")
      // Each session's own order is kept.
      for (let r = 1; r < 402; r++) before(`session-x:${r}`, `session-x:${r + 1}`)
      expect(log.uncommitted(x)).toBe(false)
      expect(new Map((yield* log.summaries).map((s) => [s.id, s]))).toStrictEqual(
        new Map([[x, summary(x, 402)], [y, summary(y, 4)]])
      )
    }))

  it.scopedLive("given X's batch stuck on a locked database, when Y's command is queued, then Y commits first without waiting for X's retry", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const dbPath = path.join(dir, "log.db")
      const { log } = yield* openLog({ dbPath, flushMs: 5, batchSize: 50 })
      const degraded = yield* log.status.pipe(
        Stream.filter((s) => s.status === "degraded"),
        Stream.runHead,
        Effect.fork
      )
      const locker = new Database(dbPath)
      yield* Effect.addFinalizer(() => Effect.sync(() => locker.close()))
      locker.exec("BEGIN IMMEDIATE")
      const xDurable = yield* log.append({ events: events(x, 1, 5), summary: summary(x, 5) })
      yield* Effect.sleep("200 millis")
      // X's batch is in flight (the worker waits up to its 1 s busy timeout); Y's goes out beside it.
      const yDurable = yield* log.append({ events: events(y, 1, 1), summary: summary(y, 1), urgent: true })
      // X's attempt failed: the worker now tries Y's batch, and X's retry comes 20 ms later.
      yield* Fiber.join(degraded).pipe(Effect.timeout("10 seconds"))
      locker.exec("COMMIT")
      yield* Effect.all([xDurable, yDurable]).pipe(Effect.timeout("10 seconds"))
      const all = positions(dbPath)
      expect(all.get("session-y:1")!).toBeLessThan(all.get("session-x:1")!)
      expect((yield* log.readSession(x, 0)).map((e) => e.revision)).toStrictEqual([1, 2, 3, 4, 5])
    }))

  it.scopedLive("the checkpointer thread copies the WAL back into the database file while the writer commits", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const dbPath = path.join(dir, "log.db")
      const { log } = yield* openLog({ dbPath, flushMs: 5, batchSize: 500 })
      const fileSize = () => fs.statSync(dbPath).size
      const before = fileSize()
      // ~2,000 events of ~500 bytes: some 300 WAL pages, far below the writer's own automatic
      // checkpoint (8,192 pages, and SQLite's default of 1,000): only the checkpointer moves them.
      for (let from = 1; from <= 2000; from += 200) {
        yield* Effect.flatten(log.append({ events: events(x, from, from + 199), urgent: true }))
      }
      yield* Effect.sync(() => fileSize() > before + 500_000).pipe(
        Effect.repeat({ until: (grown) => grown, schedule: Schedule.spaced("20 millis") }),
        Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => `the database file stayed at ${fileSize()} bytes` })
      )
    }))

  it.scopedLive("room: a producer waits while the backlog is full, and goes in once the writer commits", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const { log } = yield* openLog({ dbPath: path.join(dir, "log.db"), flushMs: 60_000, batchSize: 100_000 })
      // Far beyond any room the writer grants (at most MAX_ROOM events; at least MIN_ROOM).
      yield* log.room(1)
      yield* log.append({ events: events(x, 1, 20_000) })
      log.release(1)
      const waiting = yield* Effect.fork(log.room(10))
      yield* Effect.sleep("200 millis")
      expect(Option.isNone(yield* Fiber.poll(waiting))).toBe(true)
      // Another producer arriving later waits behind the first, even for less.
      const later = yield* Effect.fork(log.room(1))
      yield* log.flush
      yield* Fiber.join(waiting).pipe(Effect.timeout("10 seconds"))
      yield* Fiber.join(later).pipe(Effect.timeout("10 seconds"))
      log.release(11)
      // With nothing queued, a step bigger than the whole room still goes in, alone.
      yield* log.room(MIN_ROOM * 100).pipe(Effect.timeout("1 second"))
      log.release(MIN_ROOM * 100)
    }))

  it.scopedLive("a commit that keeps failing is kept and retried: degraded with the reason, then ok once it commits", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const dbPath = path.join(dir, "log.db")
      const { log } = yield* openLog({ dbPath, flushMs: 5, batchSize: 50 })
      const statuses: Array<WriterStatus> = []
      yield* log.status.pipe(
        Stream.runForEach((s) => Effect.sync(() => statuses.push(s))),
        Effect.forkScoped
      )
      const failuresBefore = (yield* Metric.value(Metrics.appendRetries)).count
      const locker = new Database(dbPath)
      yield* Effect.addFinalizer(() => Effect.sync(() => locker.close()))
      locker.exec("BEGIN IMMEDIATE")
      const first = yield* log.append({ events: events(x, 1, 5), summary: summary(x, 5) })
      const second = yield* log.append({ events: events(x, 6, 6), summary: summary(x, 6) })
      // The worker's busy timeout is 1 s per attempt: several attempts fail.
      yield* Effect.sleep("3500 millis")
      expect(statuses.at(-1)?.status).toBe("degraded")
      expect(statuses.at(-1)?.reason).toMatch(/SQLITE_BUSY/)
      expect((yield* Metric.value(Metrics.eventLogDegraded)).value).toBe(1)
      expect((yield* Metric.value(Metrics.appendRetries)).count - failuresBefore).toBeGreaterThanOrEqual(2)
      expect((yield* Metric.value(Metrics.eventLogOldestUncommittedSeconds)).value).toBeGreaterThan(1)
      expect(log.uncommitted(x)).toBe(true)
      locker.exec("COMMIT")
      yield* Effect.all([first, second]).pipe(Effect.timeout("10 seconds"))
      expect(statuses.at(-1)).toStrictEqual({ status: "ok", reason: null })
      expect(statuses.map((s) => s.status).filter((s, i, all) => s !== all[i - 1])).toStrictEqual(["ok", "degraded", "ok"])
      expect((yield* Metric.value(Metrics.eventLogDegraded)).value).toBe(0)
      expect((yield* log.readSession(x, 0)).map((e) => e.revision)).toStrictEqual([1, 2, 3, 4, 5, 6])
      expect(log.uncommitted(x)).toBe(false)
    }))
})
