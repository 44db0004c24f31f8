/**
 * The SQLite event log: `EventLog` over one database file in WAL mode. Owns wiring: the schema
 * migrations and the read connections on the main thread, the writer worker (the only writer, with
 * its own connections) and the queue that batches appends for it. The write path is in
 * `writeQueue.ts` (main side) and `writerStore.ts` (worker side).
 *
 * Hydration (`loadSession`) reads a session's projection snapshot (the `snapshots` table, kept up
 * to date by the worker from committed events: `snapshotStore.ts`) and the events after it, on a
 * readonly raw better-sqlite3 connection. The worker runs on `@effect/platform`'s Worker, for its
 * lifecycle (a close that waits, respawn after a crash, typed `WorkerError`s) at a cost of tens
 * of µs per batch; the measurements behind both are in bench/FINDINGS.md, finding 18.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as NodeWorker from "@effect/platform-node/NodeWorker"
import * as Worker from "@effect/platform/Worker"
import { WorkerError } from "@effect/platform/WorkerError"
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import type { SessionId } from "@orbitdock/domain"
import Database from "better-sqlite3"
import { Context, Deferred, Effect, ExecutionStrategy, Layer, Option, Scope } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { Worker as NodeThread } from "node:worker_threads"
import { ServerConfig } from "../Config.js"
import { type DeliveryRecord, EventLog, EventLogError, type OutboxEntry, type PagedProgress } from "./EventLog.js"
import { digest } from "./sourceKeyDigest.js"
import * as PrivateFiles from "../internal/privateFiles.js"
import { migrate, migrations, pragmas, versionOf } from "./eventLogSchema.js"
import * as SchemaUpgrade from "./schemaUpgrade.js"
import { decodeGlobalRow, decodeSessionRow, decodeSummary } from "./payloadCodec.js"
import * as MessagePages from "./messagePages.js"
import { decodeSnapshot } from "./snapshotCodec.js"
import { makeWriteQueue } from "./writeQueue.js"
import { demandPublisher, makeDemandBuffer } from "./writerDemand.js"
import type { CommitMessage, CommitResult, WriterWorkerData } from "./writerProtocol.js"

/**
 * The compiled worker script: `writerWorker.js` in `dist/eventlog/`, next to this module once
 * compiled, and in `dist/bundle/eventlog/` for the bundle (whose `bin.js` this module is part of).
 * Under vitest this module runs from `src/eventlog/`, but a worker thread is a plain Node isolate
 * that vitest's TypeScript transform never reaches, so it must start from `dist/` (the root
 * `npm test` builds first; run `npx tsc -b packages/server` before `npx vitest run`).
 */
export const writerWorkerUrl = (): URL => {
  const here = new URL(import.meta.url)
  if (here.pathname.endsWith(".ts")) return new URL("../../dist/eventlog/writerWorker.js", here)
  return new URL(here.pathname.endsWith("/eventlog/EventLogSqlite.js") ? "./writerWorker.js" : "./eventlog/writerWorker.js", here)
}

const fail = (operation: string) => (cause: unknown) => new EventLogError({ operation, cause })

/**
 * The writer thread's young generation, in MB (V8 sizes it at three semi-spaces). V8 would grow it
 * to 32 MB under a steady stream of batches, and what it holds is resident for good; the writer's
 * garbage is short-lived (a batch's text and rows), so a smaller one costs it little. Measured:
 * bench/FINDINGS.md, finding 25.
 */
export const WRITER_YOUNG_GENERATION_MB = 12

export interface EventLogSqliteOptions {
  readonly dbPath: string
  readonly flushMs: number
  readonly batchSize: number
  /** Called with every writer thread started (a crashed one is replaced); tests kill it through this. */
  readonly onWriterStarted?: ((thread: NodeThread) => void) | undefined
  /** The migrations to bring the database to (tests of upgrades); default: `eventLogSchema.migrations`. */
  readonly migrations?: Parameters<typeof migrate>[0]
}

/**
 * Opens the log, after refusing a newer database and backing up an older one (`schemaUpgrade.ts`);
 * the scope's close commits everything queued, then stops the worker.
 */
export const open = (options: EventLogSqliteOptions) =>
  Effect.gen(function* () {
    const { dbPath } = options
    const schema = options.migrations ?? migrations
    const upgrade = yield* SchemaUpgrade.prepare(dbPath, versionOf(schema))
    yield* Effect.try({
      try: () => {
        fs.mkdirSync(path.dirname(dbPath), { recursive: true, mode: 0o700 })
        // Before any connection (this one, the writer worker's) opens it: 0600 whatever the umask.
        PrivateFiles.sqliteFiles.beforeOpen(dbPath)
      },
      catch: fail("EventLog.open:directory")
    })
    // Main-thread connection: migrations once at startup, then reads only (WAL lets them run
    // while the worker commits; they see committed batches only).
    const sql = yield* SqliteClient.make({ filename: dbPath }).pipe(
      Effect.provide(Reactivity.layer),
      // better-sqlite3 throws from its constructor (unreadable file, not a database): a defect there.
      Effect.catchAllDefect((cause) => Effect.fail(fail("EventLog.open:connection")(cause)))
    )
    yield* Effect.zipRight(pragmas(5000), migrate(schema)).pipe(
      Effect.provideService(SqlClient.SqlClient, sql),
      // The Migrator turns a failed migration into a defect (its transaction rolled back): a typed failure here.
      Effect.catchAllDefect(Effect.fail),
      Effect.mapError((cause) => {
        // A MigrationError names the migration, its SqlError the step, that one's cause what SQLite said.
        const messages: Array<string> = []
        for (let c: unknown = cause, depth = 0; c instanceof Error && depth < 4; c = (c as { cause?: unknown }).cause, depth++) {
          const text = c.message.trim()
          if (text !== "" && !messages.includes(text)) messages.push(text)
        }
        const message = messages.join(": ")
        const where = upgrade.backup === null ? "" : ` (the database is as it was; a copy from before is at ${upgrade.backup})`
        return fail("EventLog.open:migrate")(new Error(`${message || String(cause)}${where}`))
      })
    )
    // WAL mode is on now, so its files exist: ones an older version created readable become 0600.
    yield* Effect.try({ try: () => PrivateFiles.sqliteFiles.sidecars(dbPath), catch: fail("EventLog.open:permissions") })

    // The hot reads (hydrating a session) on a raw better-sqlite3 connection of their own, opened
    // after the migrations: prepared statements in raw mode (rows as arrays) skip what @effect/sql
    // adds per row and per query; measured on 5,000-event sessions: ~300k events/s through
    // @effect/sql, ~670k with raw statements (JSON.parse included). Readonly: it can never write.
    const reader = yield* Effect.acquireRelease(
      Effect.try({
        try: () => new Database(dbPath, { readonly: true, fileMustExist: true, timeout: 5000 }),
        catch: fail("EventLog.open:reader")
      }),
      (db) => Effect.sync(() => db.close())
    )
    const hot = yield* Effect.try({
      try: () => ({
        sessionEvents: reader
          .prepare<[string, number, number], Array<unknown>>(
            `SELECT revision, occurred_at, payload FROM events
             WHERE session_id = ? AND revision > ? ORDER BY revision LIMIT ?`
          )
          .raw(true),
        sourceKeys: reader
          .prepare<[string], string>("SELECT source_key FROM events WHERE session_id = ? AND source_key IS NOT NULL")
          .pluck(true),
        hasSourceKey: reader
          .prepare<[string, string], number>("SELECT 1 FROM events WHERE session_id = ? AND source_key = ?")
          .pluck(true),
        eventAt: reader.prepare<[string, number], number>("SELECT 1 FROM events WHERE session_id = ? AND revision = ?").pluck(true),
        snapshot: reader
          .prepare<[string], Array<unknown>>("SELECT revision, projection, paged FROM snapshots WHERE session_id = ?")
          .raw(true),
        pages: reader
          .prepare<[string, number], unknown>(
            "SELECT messages FROM message_pages WHERE session_id = ? AND first_seq < ? ORDER BY first_seq"
          )
          .pluck(true),
        paged: reader.prepare<[string], Array<unknown>>("SELECT revision, paged FROM snapshots WHERE session_id = ?").raw(true)
      }),
      catch: fail("EventLog.open:reader")
    })
    const readEvents = (sessionId: SessionId, afterRevision: number, limit: number) =>
      hot.sessionEvents.all(sessionId, afterRevision, limit).map((row) => decodeSessionRow(sessionId, row))

    // How far each session is paged, as the worker tells with its answers (and hydration reads).
    const paging = new Map<SessionId, PagedProgress>()
    const learnPaging = (sessionId: SessionId, revision: number, paged: number) => {
      const known = paging.get(sessionId)
      if (known === undefined || known.revision < revision) paging.set(sessionId, { revision, paged })
    }

    const workerUrl = writerWorkerUrl()
    if (!fs.existsSync(workerUrl)) {
      // Otherwise the worker would fail to start, be respawned every second, and we would time out.
      return yield* Effect.fail(
        fail("EventLog.open:worker")(`${workerUrl.pathname} is missing: build with \`npx tsc -b packages/server\``)
      )
    }
    const urgentQueued = makeDemandBuffer()
    const workerData: WriterWorkerData = { dbPath, urgentQueued }
    // The worker starts in the background: loading its modules takes ~300 ms on a busy 2-core
    // machine, and nothing but commits needs it (reads, hence hydration and `/health`, do not).
    // Appends queue meanwhile; the first batch waits for the worker. Its own scope is made before
    // the queue's finalizer is added, so it closes after it: drain the queue, then stop the worker.
    const workerScope = yield* Effect.scope.pipe(Effect.flatMap((scope) => Scope.fork(scope, ExecutionStrategy.sequential)))
    const started = yield* Deferred.make<Worker.Worker<CommitMessage, CommitResult, never>, WorkerError>()
    yield* Worker.WorkerManager.pipe(
      Effect.flatMap((manager) => manager.spawn<CommitMessage, CommitResult, never>({})),
      Effect.provide(
        NodeWorker.layer(() => {
          const thread = new NodeThread(workerUrl, { workerData, resourceLimits: { maxYoungGenerationSizeMb: WRITER_YOUNG_GENERATION_MB } })
          options.onWriterStarted?.(thread)
          return thread
        })
      ),
      Effect.timeoutFail({
        duration: "30 seconds",
        onTimeout: () => new WorkerError({ reason: "spawn", cause: "the writer worker did not start in 30 s" })
      }),
      Effect.tapError((error) =>
        Effect.logError("the event log's writer worker did not start; appends cannot commit").pipe(
          Effect.annotateLogs({ module: "EventLog", error: error.message })
        )
      ),
      Effect.exit,
      Effect.flatMap((exit) => Deferred.done(started, exit)),
      Scope.extend(workerScope),
      Effect.forkIn(workerScope)
    )
    const writes = yield* makeWriteQueue({
      batchSize: options.batchSize,
      flushMs: options.flushMs,
      onUrgentQueued: demandPublisher(urgentQueued),
      commit: (request) =>
        Effect.flatMap(Deferred.await(started), (worker) => worker.executeEffect(request)).pipe(
          Effect.tap((result) => {
            if (result._tag === "Committed" && result.paged !== undefined) {
              for (const [sessionId, revision, paged] of result.paged) learnPaging(sessionId as SessionId, revision, paged)
            }
          })
        )
    })
    // Added after the worker scope's finalizer, so it runs first: drain, then stop the worker. A
    // worker still starting is waited for: one interrupted mid-start would never answer the close.
    yield* Effect.addFinalizer(() => writes.close.pipe(Effect.zipRight(Effect.ignore(Deferred.await(started)))))

    const read = <A>(operation: string, query: Effect.Effect<A, unknown>) =>
      Effect.mapError(query, fail(operation))

    const eventLog = EventLog.of({
      append: writes.append,
      appendNow: writes.appendNow,
      room: writes.room,
      tryRoom: writes.tryRoom,
      release: writes.release,
      uncommitted: writes.uncommitted,
      status: writes.status,
      flush: writes.flush,
      readSession: (sessionId: SessionId, afterRevision: number, limit?: number) =>
        Effect.try({ try: () => readEvents(sessionId, afterRevision, limit ?? -1), catch: fail("EventLog.readSession") }),
      loadSession: (sessionId: SessionId) =>
        Effect.gen(function* () {
          const row = yield* Effect.try({ try: () => hot.snapshot.get(sessionId), catch: fail("EventLog.loadSession") })
          let decoded = row === undefined ? null : decodeSnapshot(sessionId, row[0], row[1], row[2])
          if (decoded?._tag === "Snapshot") {
            // Only a restored or hand-edited log can lack the event a snapshot was taken at; then the
            // snapshot holds events the log does not, and is ignored like an unreadable one.
            const revision = decoded.projection.state.revision
            const exists = yield* Effect.try({ try: () => hot.eventAt.get(sessionId, revision), catch: fail("EventLog.loadSession") })
            if (exists === undefined) decoded = { _tag: "Corrupt", reason: `ahead of the log: no event at revision ${revision}` }
          }
          if (decoded?._tag === "Outdated") {
            yield* Effect.logInfo("projection snapshot from an older version; replaying the session").pipe(
              Effect.annotateLogs({ module: "EventLog", session_id: sessionId, reason: decoded.reason })
            )
          } else if (decoded?._tag === "Corrupt") {
            // Derived data gone bad (a torn disk page, a hand edit): the events are the truth.
            yield* Effect.logWarning("unreadable projection snapshot ignored; replaying the session").pipe(
              Effect.annotateLogs({ module: "EventLog", session_id: sessionId, reason: decoded.reason })
            )
          }
          const snapshot = decoded?._tag === "Snapshot" ? decoded : null
          const after = snapshot?.projection.state.revision ?? 0
          if (snapshot !== null && snapshot.paged > 0) learnPaging(sessionId, after, snapshot.paged)
          const events = yield* Effect.try({ try: () => readEvents(sessionId, after, -1), catch: fail("EventLog.loadSession") })
          return { snapshot: snapshot?.projection ?? null, paged: snapshot?.paged ?? 0, events }
        }),
      readPages: (sessionId: SessionId, count: number) =>
        count <= 0
          ? Effect.succeed([])
          : Effect.try({ try: () => hot.pages.all(sessionId, count), catch: fail("EventLog.readPages") }).pipe(
              Effect.flatMap((pages) => {
                const expected = Math.ceil(count / MessagePages.PAGE_MESSAGES)
                const readable = pages.filter(MessagePages.plausiblePage).length
                return pages.length === expected && readable === expected
                  ? Effect.succeed(pages as Array<string>)
                  : Effect.fail(
                      fail("EventLog.readPages")(`the message pages of session ${sessionId} are damaged: ${readable} readable of ${expected}`)
                    )
              })
            ),
      // What the worker told; else (a report lost with a crashed worker) what its snapshot row says.
      pagedProgress: (sessionId: SessionId) =>
        Effect.suspend(() => {
          const known = paging.get(sessionId)
          if (known !== undefined) return Effect.succeed(known)
          return Effect.try({
            try: () => {
              const row = hot.paged.get(sessionId)
              if (row === undefined || (row[1] as number) === 0) return null
              learnPaging(sessionId, row[0] as number, row[1] as number)
              return paging.get(sessionId)!
            },
            catch: fail("EventLog.pagedProgress")
          })
        }),
      readAll: (afterPosition: number, limit: number) =>
        read(
          "EventLog.readAll",
          sql
            .unsafe(
              `SELECT position, session_id, revision, occurred_at, payload FROM events
               WHERE position > ? ORDER BY position LIMIT ?`,
              [afterPosition, limit]
            )
            .values.pipe(Effect.map((rows) => rows.map(decodeGlobalRow)))
        ),
      readApprovals: (afterPosition: number, limit: number) =>
        read(
          "EventLog.readApprovals",
          sql
            .unsafe(
              `SELECT position, session_id, revision, occurred_at, payload FROM events INDEXED BY events_approvals
               WHERE type IN ('approval_requested', 'approval_resolved') AND position > ? ORDER BY position LIMIT ?`,
              [afterPosition, limit]
            )
            .values.pipe(Effect.map((rows) => rows.map(decodeGlobalRow)))
        ),
      summaries: read(
        "EventLog.summaries",
        sql
          .unsafe("SELECT summary FROM session_summaries ORDER BY created_at, rowid")
          .values.pipe(Effect.map((rows) => rows.map((row) => decodeSummary(row[0] as string))))
      ),
      outbox: (createdAfter: string) =>
        read(
          "EventLog.outbox",
          Effect.all([
            sql.unsafe(
              "SELECT id, session_id, revision, created_at, payload FROM notification_outbox WHERE created_at > ? ORDER BY created_at, id",
              [createdAfter]
            ).values,
            sql.unsafe(
              `SELECT d.notification_id, d.channel_id, d.status, d.attempts, d.updated_at, d.detail
               FROM notification_deliveries d JOIN notification_outbox o ON o.id = d.notification_id
               WHERE o.created_at > ?`,
              [createdAfter]
            ).values
          ]).pipe(Effect.map(([rows, deliveries]) => outboxEntries(rows, deliveries)))
        ),
      ruleEvents: read("EventLog.ruleEvents", sql.unsafe("SELECT payload FROM rule_events ORDER BY position").values.pipe(
        Effect.map((rows) => rows.map((row) => row[0] as string))
      )),
      deliveries: (limit: number) =>
        read(
          "EventLog.deliveries",
          sql
            .unsafe(
              `SELECT notification_id, channel_id, status, attempts, updated_at, detail FROM notification_deliveries
               ORDER BY updated_at DESC LIMIT ?`,
              [limit]
            )
            .values.pipe(Effect.map((rows) => rows.map(deliveryRecord)))
        ),
      checkpoint: (key: string) =>
        read(
          "EventLog.checkpoint",
          sql
            .unsafe("SELECT value FROM checkpoints WHERE key = ?", [key])
            .values.pipe(Effect.map((rows) => Option.fromNullable(rows[0]?.[0] as string | undefined)))
        ),
      sourceKeyDigests: (sessionId: SessionId) =>
        Effect.try({
          try: () => {
            const digests = new Set<number>()
            for (const key of hot.sourceKeys.iterate(sessionId)) digests.add(digest(key))
            return digests
          },
          catch: fail("EventLog.sourceKeyDigests")
        }),
      hasSourceKey: (sessionId: SessionId, key: string) =>
        Effect.try({ try: () => hot.hasSourceKey.get(sessionId, key) !== undefined, catch: fail("EventLog.hasSourceKey") })
    })
    return { eventLog, upgrade }
  })

/** The log alone (see `open`). */
export const make = (options: EventLogSqliteOptions) => Effect.map(open(options), ({ eventLog }) => eventLog)

const deliveryRecord = (row: ReadonlyArray<unknown>): DeliveryRecord => ({
  notificationId: row[0] as string,
  channelId: row[1] as string,
  status: row[2] as string,
  attempts: row[3] as number,
  updatedAt: row[4] as string,
  detail: row[5] as string
})

const outboxEntries = (rows: ReadonlyArray<ReadonlyArray<unknown>>, deliveries: ReadonlyArray<ReadonlyArray<unknown>>): Array<OutboxEntry> => {
  const byNotification = new Map<string, Map<string, DeliveryRecord>>()
  for (const row of deliveries) {
    const record = deliveryRecord(row)
    const map = byNotification.get(record.notificationId) ?? new Map<string, DeliveryRecord>()
    map.set(record.channelId, record)
    byNotification.set(record.notificationId, map)
  }
  return rows.map((row) => ({
    id: row[0] as string,
    sessionId: row[1] as SessionId,
    revision: row[2] as number,
    createdAt: row[3] as string,
    payload: row[4] as string,
    deliveries: byNotification.get(row[0] as string) ?? new Map()
  }))
}

/** The event log at `ServerConfig.dbPath`, batching by `batchSize` / `flushMs`, and the schema upgrade its opening made. */
export const layer: Layer.Layer<EventLog | SchemaUpgrade.SchemaUpgrade, EventLogError, ServerConfig> = Layer.scopedContext(
  Effect.flatMap(ServerConfig, (config) =>
    open({ dbPath: config.dbPath, flushMs: config.flushMs, batchSize: config.batchSize }).pipe(
      Effect.map(({ eventLog, upgrade }) => Context.make(EventLog, eventLog).pipe(Context.add(SchemaUpgrade.SchemaUpgrade, upgrade)))
    )
  )
)

/** The same, with explicit options (tests, tools). */
export const layerWith = (options: EventLogSqliteOptions): Layer.Layer<EventLog, EventLogError> =>
  Layer.scoped(EventLog, make(options))
