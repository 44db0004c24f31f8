/**
 * Entry point of the writer worker thread (compiled to `dist/eventlog/writerWorker.js` and started
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
import { Worker, workerData } from "node:worker_threads"
import type { CheckpointerCommand, CheckpointerData, CheckpointerReport } from "./checkpointProtocol.js"
import { pragmas } from "./eventLogSchema.js"
import { demandReader } from "./writerDemand.js"
import { openSnapshotScheduler } from "./snapshotStore.js"
import { unpackBatch } from "./payloadCodec.js"
import type { CommitMessage, CommitRequest, CommitResult, PagedReport, WriterWorkerData } from "./writerProtocol.js"
import { makeWriterStore } from "./writerStore.js"

const { dbPath, urgentQueued } = workerData as WriterWorkerData

/** SQLite's default automatic checkpoint, restored should the checkpointer thread stop. */
const DEFAULT_AUTOCHECKPOINT_PAGES = 1000
/** The writer's own automatic checkpoint while the checkpointer runs (~32 MB of WAL; see there). */
const BACKSTOP_PAGES = 8192
/** The checkpointer copies the WAL back at most this often while commits arrive. */
const CHECKPOINT_EVERY_MS = 50

/**
 * Starts the checkpointer thread, stopped with the worker's scope. `onStopped` runs if it cannot
 * start or ends by itself (a crash). A checkpoint failure is logged when it starts and when it clears.
 */
const startCheckpointer = (onStopped: Effect.Effect<void>) =>
  Effect.acquireRelease(
    Effect.suspend(() => {
      const data: CheckpointerData = { dbPath, everyMs: CHECKPOINT_EVERY_MS }
      let thread: Worker
      try {
        thread = new Worker(new URL("./checkpointWorker.js", import.meta.url), { workerData: data })
      } catch (error) {
        return Effect.logError("the checkpointer thread did not start").pipe(
          Effect.annotateLogs({ module: "EventLog", error: String(error) }),
          Effect.zipRight(onStopped),
          Effect.as({ committed: () => {}, close: () => {} })
        )
      }
      let closing = false
      thread.on("message", (report: CheckpointerReport) => {
        const log =
          report._tag === "Failed"
            ? Effect.logWarning("WAL checkpoint failed; retried after the next commit").pipe(
                Effect.annotateLogs({ error: report.message })
              )
            : Effect.logInfo("WAL checkpoints succeed again")
        Effect.runFork(log.pipe(Effect.annotateLogs({ module: "EventLog" })))
      })
      thread.on("error", (error) =>
        Effect.runFork(
          Effect.logError("the checkpointer thread failed").pipe(
            Effect.annotateLogs({ module: "EventLog", error: error.stack ?? error.message })
          )
        )
      )
      thread.on("exit", () => {
        if (!closing) Effect.runFork(onStopped)
      })
      const tell = (command: CheckpointerCommand) => thread.postMessage(command)
      return Effect.succeed({
        committed: () => tell("committed"),
        close: () => {
          closing = true
          tell("close")
        }
      })
    }),
    (checkpointer) => Effect.sync(() => checkpointer.close())
  )

const WriterLive = Layer.scopedDiscard(
  Effect.gen(function* () {
    const sql = yield* SqliteClient.make({ filename: dbPath })
    // A short busy timeout: a locked database (another process, a `sqlite3` shell) then shows up as
    // logged, retried commit failures on the main side instead of a silent stall.
    yield* Effect.provideService(pragmas(1000), SqlClient.SqlClient, sql)
    // Checkpoints run in a thread of their own (`checkpointWorker.ts`); this connection's own
    // automatic one starts the WAL over after a long backlog, when little is left to copy.
    yield* sql.unsafe(`PRAGMA wal_autocheckpoint = ${BACKSTOP_PAGES}`)
    const checkpointer = yield* startCheckpointer(
      Effect.zipRight(
        sql.unsafe(`PRAGMA wal_autocheckpoint = ${DEFAULT_AUTOCHECKPOINT_PAGES}`),
        Effect.logWarning("the checkpointer thread stopped; the writer checkpoints the log itself").pipe(
          Effect.annotateLogs({ module: "EventLog" })
        )
      ).pipe(Effect.ignore)
    )
    const store = makeWriterStore(sql)
    // Paging since the last answer, told with the next commit's answer: live actors drop what is paged.
    const paging = new Map<string, PagedReport>()
    // Snapshots are an optimisation: if they cannot even start, the worker commits without them.
    const snapshots = yield* Effect.acquireRelease(
      Effect.try(() =>
        openSnapshotScheduler(dbPath, {
          ...(urgentQueued === undefined ? {} : { urgentQueued: demandReader(urgentQueued) }),
          onWritten: (written) => {
            // Its commits do not checkpoint by themselves (`openSnapshotScheduler`).
            checkpointer.committed()
            if (written.paged > 0) paging.set(written.sessionId, [written.sessionId, written.revision, written.paged])
          },
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
        const request: CommitRequest = {
          token: message.token,
          entries: unpackBatch(message.batch),
          retry: message.retry,
          lane: message.lane
        }
        commitStarted()
        let result: CommitResult | undefined
        return store.commit(request).pipe(
          Effect.map((r) => {
            result = r
            if (r._tag !== "Committed") return r
            checkpointer.committed()
            if (paging.size === 0) return r
            const paged = [...paging.values()]
            paging.clear()
            return { ...r, paged }
          }),
          Effect.ensuring(Effect.sync(() => commitEnded(request, result)))
        )
      })
    )
  })
).pipe(Layer.provide(Reactivity.layer), Layer.provide(NodeWorkerRunner.layer))

NodeRuntime.runMain(Runner.launch(WriterLive), { disablePrettyLogger: true })
