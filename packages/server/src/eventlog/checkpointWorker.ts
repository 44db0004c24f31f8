/**
 * Entry point of the checkpointer thread, started by the writer worker (compiled to
 * `dist/eventlog/checkpointWorker.js`): copies the pages the writer committed to the WAL back into
 * the database file. SQLite would otherwise do that inside the commit that takes the WAL past
 * 1,000 pages, in the writer's thread, and every entry queued behind that commit (a command whose
 * ack waits for it) would wait too. A PASSIVE checkpoint on a connection of its own never blocks
 * the writer, so the commits go on meanwhile.
 *
 * Told of each commit by the writer (a message), it checkpoints at most once per `everyMs` while
 * commits arrive, until the WAL is copied back whole, and not at all while the log is idle. A
 * failed checkpoint (a full disk) is reported to the writer and tried again after the next commit.
 *
 * A PASSIVE checkpoint never makes SQLite start the WAL over while commits keep coming (only a
 * commit that finds it copied back whole does): under a long backlog the WAL grows until the
 * writer's own automatic checkpoint, set far larger, does that, with little left to copy.
 */
import Database from "better-sqlite3"
import { parentPort, workerData } from "node:worker_threads"
import type { CheckpointerCommand, CheckpointerData, CheckpointerReport } from "./checkpointProtocol.js"

const { dbPath, everyMs } = workerData as CheckpointerData
const port = parentPort!
const db = new Database(dbPath, { timeout: 0, fileMustExist: true })
// This connection never commits, but be explicit: it checkpoints only when told to.
db.pragma("wal_autocheckpoint = 0")

let timer: ReturnType<typeof setTimeout> | undefined
let failing = false

interface CheckpointOutcome {
  /** 1: another checkpoint was under way (the writer's own). */
  readonly busy: number
  /** Frames in the WAL, and how many of them are in the database file now. */
  readonly log: number
  readonly checkpointed: number
}

const checkpoint = () => {
  timer = undefined
  try {
    const [outcome] = db.pragma("wal_checkpoint(PASSIVE)") as Array<CheckpointOutcome>
    // Frames committed meanwhile, or a checkpoint in the way: go on, commits or not.
    if (outcome !== undefined && (outcome.busy !== 0 || outcome.checkpointed < outcome.log)) {
      timer = setTimeout(checkpoint, everyMs)
    }
    if (failing) {
      failing = false
      port.postMessage({ _tag: "Recovered" } satisfies CheckpointerReport)
    }
  } catch (error) {
    if (!failing) {
      failing = true
      port.postMessage({ _tag: "Failed", message: error instanceof Error ? error.message : String(error) } satisfies CheckpointerReport)
    }
  }
}

port.on("message", (message: CheckpointerCommand) => {
  if (message === "close") {
    if (timer !== undefined) clearTimeout(timer)
    db.close()
    port.close()
    return
  }
  timer ??= setTimeout(checkpoint, everyMs)
})
