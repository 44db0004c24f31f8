/**
 * The raw references, measured in the same run as OrbitDock's figures: better-sqlite3 append and its
 * event-loop stall, bare `ws` fan-out and latency, replay decode speed.
 */
import type { Figures } from "./lib/report.js"
import { appendStall, appendThroughput } from "./raw/sqliteAppend.js"
import { cpuLimit } from "./lib/cpuLimit.js"

/** A raw reference measured in this process: under the CPU limit in the slow-machine mode. */
const underLimit = <A>(f: () => Promise<A>): Promise<A> => cpuLimit()?.within(f) ?? f()
import { bareFanout, bareLatency } from "./raw/wsBench.js"
import { decodeSpeed } from "./raw/replayDecode.js"
import type { Options } from "./options.js"

export const RAW_APPEND = "R1. Raw better-sqlite3 append (WAL, synchronous=NORMAL, ~500-byte events)"
export const RAW_STALL = "R2. Event-loop stall caused by the writer at 20,000 events/s"
export const RAW_FANOUT = "R3. Bare ws fan-out (server and clients in separate processes)"
export const RAW_LATENCY = "R4. Bare ws latency floor (500 deltas/s per client, one frame each)"
export const RAW_DECODE = "R5. Replay decode speed"
/** Scenario 2's stress case: every one of 100 clients receives all 5,000 events/s. */
export const STRESS_PER_CLIENT = 5_000
export const STRESS_FLOOR = "100 clients at the stress volume (5,000 messages/s each, one frame per tick)"

export const BATCHES = [1, 50, 256, 500, 5000] as const
export const FANOUT_N = [1, 10, 100, 500] as const

const gc = () => (globalThis as { gc?: () => void }).gc?.()

export const rawAppend = async (figures: Figures, o: Options) => {
  for (let run = 0; run < o.runs; run++) {
    for (const batch of BATCHES) {
      const total = o.quick ? Math.max(batch * 4, batch === 1 ? 2_000 : 10_000) : batch === 1 ? 20_000 : batch <= 256 ? 100_000 : 200_000
      gc()
      const r = await underLimit(async () => appendThroughput(batch, total))
      figures.add(RAW_APPEND, `batch ${batch}: events/s`, "events/s", r.eventsPerSec)
      figures.add(RAW_APPEND, `batch ${batch}: commit p50`, "ms", r.commitP50)
      figures.add(RAW_APPEND, `batch ${batch}: commit p99`, "ms", r.commitP99)
    }
  }
  figures.note(RAW_APPEND, "One prepared INSERT per row inside one transaction per batch; rows are built before the clock starts. 100 sessions, gapless revisions, a unique (session_id, revision) and a partial unique (session_id, source_key).")
}

export const rawStall = async (figures: Figures, o: Options) => {
  const duration = o.quick ? 300 : 2_000
  for (let run = 0; run < o.runs; run++) {
    gc()
    const idle = await underLimit(() => appendStall("none", 50, 20_000, duration))
    figures.add(RAW_STALL, "no writer (baseline): loop delay p99", "ms", idle.eldP99)
    figures.add(RAW_STALL, "no writer (baseline): loop delay max", "ms", idle.eldMax)
    for (const batch of o.quick ? [50] : [50, 500, 5000]) {
      for (const mode of ["main", "worker"] as const) {
        gc()
        const r = await underLimit(() => appendStall(mode, batch, 20_000, duration))
        figures.add(RAW_STALL, `batch ${batch}, writer on ${mode === "main" ? "main thread" : "worker thread"}: loop delay p99`, "ms", r.eldP99)
        figures.add(RAW_STALL, `batch ${batch}, writer on ${mode === "main" ? "main thread" : "worker thread"}: loop delay max`, "ms", r.eldMax)
      }
    }
  }
  figures.note(RAW_STALL, "`monitorEventLoopDelay({ resolution: 1 })` on the main thread while a writer commits 20,000 events/s in batches. Worker: the main thread only posts each batch (`postMessage`, structured clone) to a worker thread that owns its own connection.")
}

export const rawFanout = async (figures: Figures, o: Options) => {
  const duration = o.quick ? 300 : 1_000
  const ns = o.quick ? [10] : FANOUT_N
  const encodings = o.quick ? (["json"] as const) : (["json", "msgpack"] as const)
  for (let run = 0; run < o.runs; run++) {
    for (const encoding of encodings) {
      for (const perFrame of [1, 16]) {
        for (const n of ns) {
          const r = await bareFanout(n, encoding, perFrame, duration)
          const label = perFrame === 1 ? "1 delta/frame" : "16 deltas/frame"
          figures.add(RAW_FANOUT, `${encoding}, ${label}, ${n} client${n > 1 ? "s" : ""}`, "deltas/s", r.deltasPerSec)
        }
      }
    }
  }
  figures.note(RAW_FANOUT, "Each frame is encoded once and written to every client; the server never lets a client's `bufferedAmount` pass 1 MiB. Aggregate deltas received per second by all clients (one child process) between the first and the last frame.")
}

export const rawLatency = async (figures: Figures, o: Options) => {
  const duration = o.quick ? 300 : 3_000
  for (let run = 0; run < o.runs; run++) {
    for (const n of o.quick ? [1] : [1, 100]) {
      const p = await bareLatency(n, 500, duration)
      const who = n === 1 ? "1 client" : `${n} clients`
      figures.add(RAW_LATENCY, `${who}: p50`, "ms", p.p50)
      figures.add(RAW_LATENCY, `${who}: p99`, "ms", p.p99)
      figures.add(RAW_LATENCY, `${who}: max`, "ms", p.max)
    }
    if (!o.quick) {
      const p = await bareLatency(100, STRESS_PER_CLIENT, duration, true)
      figures.add(RAW_LATENCY, `${STRESS_FLOOR}: p50`, "ms", p.p50)
      figures.add(RAW_LATENCY, `${STRESS_FLOOR}: p99`, "ms", p.p99)
      figures.add(RAW_LATENCY, `${STRESS_FLOOR}: max`, "ms", p.max)
    }
  }
  figures.note(RAW_LATENCY, `Send time embedded in each message (\`process.hrtime\`, CLOCK_MONOTONIC, shared by all processes of the machine); the client reads the stamp from the frame's bytes without decoding it (as in scenario 2). "At the stress volume": what scenario 2's stress case asks of the network path, 100 clients each receiving ${STRESS_PER_CLIENT.toLocaleString("en")} messages/s, the messages due at each 1 ms tick in one frame, encoded once and written to every client.`)
}

export const rawDecode = (figures: Figures, o: Options) => {
  const total = o.quick ? 50_000 : 1_000_000
  for (const encoding of ["json", "msgpack", "msgpack-records"] as const) {
    gc()
    for (const speed of decodeSpeed(encoding, total, o.runs)) {
      figures.add(RAW_DECODE, `${encoding === "json" ? "JSON.parse" : encoding === "msgpack" ? "msgpackr, plain maps" : "msgpackr, records"}: decode ${total.toLocaleString("en")} events`, "events/s", speed)
    }
  }
  figures.note(RAW_DECODE, "Payload of a ~500-byte `message_appended` event (the `event` object), decoded from one buffer in memory: the decoder alone, no SQLite scan and no fold.")
}
