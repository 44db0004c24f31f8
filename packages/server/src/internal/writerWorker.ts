/**
 * Entry point of the writer worker thread (compiled to `dist/internal/writerWorker.js` and started
 * by `EventLogSqlite`). Owns the write connections to the event log: opens them, then commits the
 * batches the main thread sends, one at a time, until told to close; between commits it keeps the
 * sessions' projection snapshots up to date (`snapshotStore.ts`) on a second connection.
 *
 * The worker-side modules import `effect/Effect`-style paths, not the `effect` barrel, and
 * platform-node's modules one by one: a worker starts with an empty module cache, and the barrels
 * cost ~1 s of its start-up on a loaded 2-core machine.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeWorkerRunner from "@effect/platform-node/NodeWorkerRunner"
import * as Runner from "@effect/platform/WorkerRunner"
import * as Reactivity from "@effect/experimental/Reactivity"
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { workerData } from "node:worker_threads"
import { pragmas } from "./eventLogSchema.js"
import { openSnapshotScheduler } from "./snapshotStore.js"
import { unpackBatch } from "./payloadCodec.js"
import type { CommitMessage, CommitRequest, CommitResult, WriterWorkerData } from "./writerProtocol.js"
import { makeWriterStore } from "./writerStore.js"

const { dbPath } = workerData as WriterWorkerData

const WriterLive = Layer.scopedDiscard(
  Effect.gen(function* () {
    const sql = yield* SqliteClient.make({ filename: dbPath })
    // A short busy timeout: a locked database (another process, a `sqlite3` shell) then shows up as
    // logged, retried commit failures on the main side instead of a silent stall.
    yield* Effect.provideService(pragmas(1000), SqlClient.SqlClient, sql)
    const store = makeWriterStore(sql)
    // Snapshots are an optimisation: if they cannot even start, the worker commits without them.
    const snapshots = yield* Effect.acquireRelease(
      Effect.try(() =>
        openSnapshotScheduler(dbPath, {
          onError: (sessionId, cause) =>
            Effect.runFork(
              Effect.logWarning("projection snapshot not written; retried later").pipe(
                Effect.annotateLogs({ module: "EventLog.snapshots", session_id: sessionId, error: String(cause) })
              )
            )
        })
      ).pipe(
        Effect.tapError((cause) =>
          Effect.logWarning("projection snapshots disabled: their connection did not open").pipe(
            Effect.annotateLogs({ module: "EventLog.snapshots", error: String(cause.error) })
          )
        ),
        Effect.option
      ),
      (scheduler) => Effect.sync(() => Option.map(scheduler, (s) => s.close()))
    )
    const noop = () => {}
    const { commitStarted, commitEnded } = Option.match(snapshots, {
      onNone: () => ({ commitStarted: noop, commitEnded: noop }),
      onSome: (s) => (s.catchUp(), s)
    })
    yield* Runner.make((message: CommitMessage) =>
      Effect.suspend(() => {
        const request: CommitRequest = { token: message.token, entries: unpackBatch(message.batch), retry: message.retry }
        commitStarted()
        let result: CommitResult | undefined
        return store.commit(request).pipe(
          Effect.tap((r) => {
            result = r
          }),
          Effect.ensuring(Effect.sync(() => commitEnded(request, result)))
        )
      })
    )
  })
).pipe(Layer.provide(Reactivity.layer), Layer.provide(NodeWorkerRunner.layer))

NodeRuntime.runMain(Runner.launch(WriterLive), { disablePrettyLogger: true })
