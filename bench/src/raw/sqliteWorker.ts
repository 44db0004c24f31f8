/**
 * Worker thread that owns a raw log connection: the "writer off the main thread" variant of the
 * stall measurement. Receives batches of rows, commits each in one transaction, reports counts.
 */
import { parentPort, workerData } from "node:worker_threads"
import { openRawLog, type Row } from "./rawLog.js"

const log = openRawLog((workerData as { file: string }).file)
let written = 0
parentPort!.on("message", (message: { rows?: ReadonlyArray<Row>; done?: boolean }) => {
  if (message.rows) {
    log.append(message.rows.map((r) => [r[0], r[1], r[2], r[3], r[4], Buffer.from(r[5])] as const))
    written += message.rows.length
  }
  if (message.done) {
    log.close()
    parentPort!.postMessage({ written })
  }
})
