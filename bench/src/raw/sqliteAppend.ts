/**
 * Raw better-sqlite3 append references: throughput and commit time per batch size, and the
 * event-loop stall the commits cause when the writer runs on the main thread versus in a worker.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { monitorEventLoopDelay } from "node:perf_hooks"
import { Worker } from "node:worker_threads"
import { nowMs, percentiles } from "../lib/stats.js"
import { openRawLog, rowSource, type Row } from "./rawLog.js"

export const tempDir = (label: string): string => fs.mkdtempSync(path.join(os.tmpdir(), `orbitdock-bench-${label}-`))

export interface AppendResult {
  readonly eventsPerSec: number
  readonly commitP50: number
  readonly commitP99: number
}

/** Appends `total` rows in batches of `batch`, one transaction each, as fast as possible. */
export const appendThroughput = (batch: number, total: number): AppendResult => {
  const dir = tempDir("raw")
  const log = openRawLog(path.join(dir, "raw.db"))
  const next = rowSource()
  // Rows are built before the clock starts: this measures SQLite, not the encoder.
  const batches: Array<Array<Row>> = []
  for (let done = 0; done < total; done += batch) {
    const rows: Array<Row> = []
    for (let i = 0; i < batch; i++) rows.push(next())
    batches.push(rows)
  }
  const commits: Array<number> = []
  const start = nowMs()
  for (const rows of batches) {
    const t0 = nowMs()
    log.append(rows)
    commits.push(nowMs() - t0)
  }
  const elapsed = nowMs() - start
  log.close()
  fs.rmSync(dir, { recursive: true, force: true })
  const p = percentiles(commits)
  return { eventsPerSec: (batches.length * batch) / (elapsed / 1000), commitP50: p.p50, commitP99: p.p99 }
}

export interface StallResult {
  readonly eldP50: number
  readonly eldP99: number
  readonly eldMax: number
  /** Events committed per second (the writer may fall behind the offered rate). */
  readonly eventsPerSec: number
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * Offers `rate` events/s for `durationMs`, flushed in batches of `batch` by a writer on the main
 * thread or in a worker, and records the main thread's event-loop delay meanwhile.
 */
export const appendStall = async (
  mode: "main" | "worker" | "none",
  batch: number,
  rate: number,
  durationMs: number
): Promise<StallResult> => {
  const dir = tempDir("stall")
  const file = path.join(dir, "raw.db")
  const log = mode === "main" ? openRawLog(file) : undefined
  const worker = mode === "worker" ? new Worker(new URL("./sqliteWorker.js", import.meta.url), { workerData: { file } }) : undefined
  if (worker) await new Promise((resolve) => worker.once("online", resolve))
  const next = rowSource()
  const histogram = monitorEventLoopDelay({ resolution: 1 })
  let pending: Array<Row> = []
  let produced = 0
  let committed = 0
  const tickMs = Math.max(1, Math.min(20, (batch / rate) * 1000))
  const start = nowMs()
  histogram.enable()
  while (nowMs() - start < durationMs) {
    const due = Math.floor(((nowMs() - start) / 1000) * rate)
    for (; produced < due; produced++) pending.push(next())
    while (pending.length >= batch) {
      const rows = pending.slice(0, batch)
      pending = pending.slice(batch)
      if (log) log.append(rows)
      else if (worker) worker.postMessage({ rows })
      committed += rows.length
    }
    await sleep(tickMs)
  }
  histogram.disable()
  const elapsed = nowMs() - start
  if (log) log.close()
  if (worker) {
    worker.postMessage({ done: true })
    await new Promise((resolve) => worker.once("message", resolve))
    await worker.terminate()
  }
  fs.rmSync(dir, { recursive: true, force: true })
  const wall = mode === "worker" ? nowMs() - start : elapsed
  return {
    eldP50: histogram.percentile(50) / 1e6,
    eldP99: histogram.percentile(99) / 1e6,
    eldMax: histogram.max / 1e6,
    eventsPerSec: committed / (wall / 1000)
  }
}
