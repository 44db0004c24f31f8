/**
 * Entry point of the checkpointer thread, started by the writer worker (compiled to
 * `dist/internal/checkpointWorker.js`): copies the pages the writer committed to the WAL back into
 * the database file. SQLite would otherwise do that inside the commit that takes the WAL past
 * 1,000 pages, in the writer's thread, and every entry queued behind that commit (a command whose
 * ack waits for it) would wait too. A PASSIVE checkpoint on a connection of its own never blocks
 * the writer, so the commits go on meanwhile.
 *
 * Told of each commit by the writer (a message), it checkpoints at most once per `everyMs` while
 * commits arrive and not at all while the log is idle. A failed checkpoint (a full disk) is
 * reported to the writer and tried again after the next commit; the writer's own automatic
 * checkpoint, at a far larger WAL, is the backstop should this thread fall behind or die.
 */
import Database from "better-sqlite3"
import { parentPort, workerData } from "node:worker_threads"
import type { CheckpointerData, CheckpointerReport } from "./checkpointProtocol.js"

const { dbPath, everyMs } = workerData as CheckpointerData
const port = parentPort!
const db = new Database(dbPath, { timeout: 0, fileMustExist: true })
// This connection never commits, but be explicit: it checkpoints only when told to.
db.pragma("wal_autocheckpoint = 0")

let timer: ReturnType<typeof setTimeout> | undefined
let failing = false

const checkpoint = () => {
  timer = undefined
  try {
    db.pragma("wal_checkpoint(PASSIVE)")
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

port.on("message", (message: "committed" | "close") => {
  if (message === "close") {
    if (timer !== undefined) clearTimeout(timer)
    db.close()
    port.close()
    return
  }
  timer ??= setTimeout(checkpoint, everyMs)
})
