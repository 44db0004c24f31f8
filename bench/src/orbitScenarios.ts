/**
 * OrbitDock's scenarios 1–4 (issue 6): durable ingest, UI-path latency, event-loop stalls and
 * fan-out, each against a real server process (the bench server: real layers, real SQLite, real
 * sockets) with clients in another process, next to the raw references of the same run.
 */
import type { ClientReport } from "./procs/wsClients.js"
import type { Figures } from "./lib/report.js"
import type { Options } from "./options.js"
import { ask, sessionId, startOrbit, type OrbitServer } from "./orbit.js"
import { Config } from "./lib/server.js"
import { connectClients, drainAndReport, rate, spawnClients } from "./raw/wsBench.js"
import { FANOUT_N, RAW_APPEND, RAW_FANOUT, RAW_LATENCY, RAW_STALL, STRESS_FLOOR } from "./rawScenarios.js"

export const S1 = "1. Durable ingest (connector interface → actors → projections → SQLite, until durable)"
export const S2 = "2. UI-path latency: event ingest → receipt by a client, while the log writes"
export const S3 = "3. Event-loop stalls in the server during 20,000 events/s of ingest"
export const S4 = "4. Fan-out: deltas/s delivered, every client subscribed to every session"

const JSON_PROTOCOL = "orbitdock.v1.json"
const MSGPACK_PROTOCOL = "orbitdock.v1.msgpack"

/** What a mission-control screen subscribes to: the list and some sessions. */
const subscriptions = (sessions: ReadonlyArray<number>, list: boolean) => [
  ...(list ? [{ type: "subscribe_list", id: "list" }] : []),
  ...sessions.map((s) => ({ type: "subscribe_session", id: `s${s}`, session_id: sessionId(s) }))
]

const withServer = async <A>(options: Parameters<typeof startOrbit>[0], sessions: number, f: (server: OrbitServer) => Promise<A>): Promise<A> => {
  const server = await startOrbit(options)
  try {
    await ask(server, { type: "create", count: sessions }, "created")
    return await f(server)
  } finally {
    await server.stop()
  }
}

export const ingest = async (figures: Figures, o: Options) => {
  const total = o.quick ? 5_000 : 50_000
  const batches = o.quick ? [50] : [50, 500]
  for (let run = 0; run < o.runs; run++) {
    for (const batchSize of batches) {
      for (const chunk of o.quick ? [16] : [1, 256]) {
        const r = await withServer({ batchSize }, 100, (server) =>
          ask<{ events: number; seconds: number; cpuUsPerEvent: number; mainCpuUsPerEvent: number }>(server, { type: "ingest", total, sessions: 100, chunk }, "ingested")
        )
        const perSec = r.events / r.seconds
        const label = `batch ${batchSize}, ${chunk === 1 ? "1 event per emit" : `${chunk} events per emit`}`
        figures.add(S1, `${label}: events/s`, "events/s", perSec)
        // The writer never splits an emit's entry: with 256 events per emit, batches hold 256 events.
        const effective = chunk >= batchSize ? chunk : Math.floor(batchSize / chunk) * chunk
        const raw = figures.median(RAW_APPEND, `batch ${effective}: events/s`)
        figures.add(S1, `${label}: ratio to raw at batch ${effective}`, "× raw", perSec / raw, { op: ">=", value: 0.7, label: "≥ 0.7× raw" })
        figures.add(S1, `${label}: server CPU per event (all threads)`, "µs", r.cpuUsPerEvent)
        figures.add(S1, `${label}: server CPU per event (main thread)`, "µs", r.mainCpuUsPerEvent)
        if (chunk === 1 || o.quick) {
          // The same with a source key on every event, as connectors send them: what de-duplication costs.
          const k = await withServer({ batchSize }, 100, (server) =>
            ask<{ events: number; seconds: number; cpuUsPerEvent: number }>(server, { type: "ingest", total, sessions: 100, chunk, keyed: true }, "ingested")
          )
          figures.add(S1, `${label}, every event keyed: events/s`, "events/s", k.events / k.seconds)
          figures.add(S1, `${label}, every event keyed: server CPU per event (all threads)`, "µs", k.cpuUsPerEvent)
        }
      }
    }
  }
  figures.note(S1, `${total.toLocaleString("en")} ~500-byte \`message_appended\` events over 100 sessions, emitted through the registry's \`ConnectorHost.emit\` (what connectors call) as fast as the actors take them, timed until every receipt's \`durable\` completed. The server runs with \`--batch-size\` as shown (flush 100 ms). Ratio: to the raw better-sqlite3 append at the same batch size (R1, median of this run); the writer never splits one emit's entry, so with 256 events per emit every batch holds 256 events and the reference is raw batch 256. "Every event keyed": each event carries a source key, as a connector's do (the actor keeps their digests and the log indexes them); the raw reference has none, so no ratio is given.`)
}

/**
 * A fresh server's first seconds of load run slower code (not yet optimised by the JIT) and grow its
 * heap: a server that has been up serves its load from warm code. Measured runs follow this much of
 * the same load; what the warm-up itself saw is reported apart.
 */
const warmUpMs = (o: Options) => (o.quick ? 250 : 2_000)

const latencyRun = async (server: OrbitServer, plan: ReadonlyArray<ReadonlyArray<number>>, list: boolean, eventsPerSec: number, durationMs: number, warmMs: number) => {
  const clients = await spawnClients()
  try {
    for (const sessions of plan) {
      await connectClients(clients, {
        url: server.wsUrl,
        protocol: JSON_PROTOCOL,
        count: 1,
        mode: "latency",
        subscribe: subscriptions(sessions, list),
        acks: sessions.length + (list ? 1 : 0)
      })
    }
    await clients.request({ type: "reset" }, ["reset"])
    await ask(server, { type: "load", rate: eventsPerSec, sessions: 100, durationMs: warmMs }, "loaded")
    const warmUp = await drainAndReport(clients)
    await clients.request({ type: "reset" }, ["reset"])
    const load = await ask<{ produced: number; eldP99: number; elu: number; cpuUsPerEvent: number; mainCpuUsPerEvent: number }>(server, { type: "load", rate: eventsPerSec, sessions: 100, durationMs }, "loaded")
    const report = await drainAndReport(clients)
    return { report, load, warmUp }
  } finally {
    await clients.kill()
  }
}

export const uiLatency = async (figures: Figures, o: Options) => {
  const durationMs = o.quick ? 500 : 5_000
  const n = o.quick ? 20 : 100
  for (let run = 0; run < o.runs; run++) {
    // Mission control: client i watches the list and sessions 5i … 5i+4 (mod 100).
    const mission = Array.from({ length: n }, (_, i) => Array.from({ length: 5 }, (_, k) => (5 * i + k) % 100))
    const everything = Array.from({ length: n }, () => Array.from({ length: 100 }, (_, k) => k))
    const plans = [["list + 5 sessions each", mission], ["stress: every client ← every session", everything]] as const
    for (const [label, plan] of o.quick ? plans.slice(0, 1) : plans) {
      const { report, load, warmUp } = await withServer({}, 100, (server) => latencyRun(server, plan, true, 5_000, durationMs, warmUpMs(o)))
      const who = `${n} clients, ${label}`
      const p = report.latency
      const stress = label.startsWith("stress")
      figures.add(S2, `${who}: p50`, "ms", p.p50, stress ? undefined : { op: "<=", value: 1, label: "≤ 1 ms" })
      figures.add(S2, `${who}: p99`, "ms", p.p99, stress ? undefined : { op: "<=", value: 5, label: "≤ 5 ms" })
      figures.add(S2, `${who}: max`, "ms", p.max)
      figures.add(S2, `${who}: p99 in the warm-up (the fresh server's first ${warmUpMs(o) / 1000} s of this load)`, "ms", warmUp.latency.p99)
      // Against the floor measured in the same run (R4, bare ws with as many clients): what holds on
      // any machine, where an absolute figure says mostly how fast this one is.
      const floor = figures.median(RAW_LATENCY, `${n} clients: p99`)
      // Not measured in this run (e.g. `--only=latency`): no ratio.
      if (Number.isFinite(floor)) figures.add(S2, `${who}: p99 ÷ bare ws p99 with ${n} clients (same run)`, "× floor", p.p99 / floor, {
        op: "<=",
        value: stress ? 3 : 1.5,
        label: stress ? "≤ 3× floor" : "≤ 1.5× floor"
      })
      // The stress case carries ten times R4's volume; bare ws carrying the same volume is its floor too.
      const volumeFloor = stress ? figures.median(RAW_LATENCY, `${STRESS_FLOOR}: p99`) : Number.NaN
      if (Number.isFinite(volumeFloor)) figures.add(S2, `${who}: p99 ÷ bare ws p99 at the same volume (same run)`, "× floor", p.p99 / volumeFloor)
      figures.add(S2, `${who}: deltas received/s`, "deltas/s", rate(report, report.deltas))
      figures.add(S2, `${who}: frames received/s (all clients)`, "frames/s", rate(report, report.frames))
      figures.add(S2, `${who}: resyncs (snapshots)`, "count", report.snapshots)
      figures.add(S2, `${who}: server main-thread utilization`, "%", 100 * load.elu)
      figures.add(S2, `${who}: server CPU per event (all threads)`, "µs", load.cpuUsPerEvent)
      figures.add(S2, `${who}: server CPU per event (main thread)`, "µs", load.mainCpuUsPerEvent)
    }
  }
  figures.note(S2, `100 sessions produce 5,000 events/s in all (each a ~500-byte \`message_appended\` whose content starts with its emit time on the machine-wide monotonic clock), emitted through \`ConnectorHost.emit\` in the server process; ${n} WebSocket clients (JSON) in another process; latency = receipt time − emit time, over ${durationMs / 1000} s, every message, after ${warmUpMs(o) / 1000} s of the same load (the warm-up, whose p99 is shown apart; the clients drain it before the measured run). The log writes meanwhile (the server's defaults: batch ${Config.DEFAULT_BATCH_SIZE}, flush ${Config.DEFAULT_FLUSH_MS} ms). The ratio divides the p99 by R4's bare \`ws\` p99 with as many clients, measured in the same run; main-thread CPU per event includes the load generator.`)
}

export const stalls = async (figures: Figures, o: Options) => {
  const durationMs = o.quick ? 500 : 5_000
  for (let run = 0; run < o.runs; run++) {
    const load = await withServer({}, 100, async (server) => {
      await ask(server, { type: "load", rate: 20_000, sessions: 100, durationMs: warmUpMs(o) }, "loaded")
      return ask<{ produced: number; seconds: number; eldP50: number; eldP99: number; eldMax: number; elu: number; cpuUsPerEvent: number; mainCpuUsPerEvent: number }>(
        server,
        { type: "load", rate: 20_000, sessions: 100, durationMs },
        "loaded"
      )
    })
    figures.add(S3, `20,000 events/s, batch ${Config.DEFAULT_BATCH_SIZE}: loop delay p50`, "ms", load.eldP50)
    figures.add(S3, `20,000 events/s, batch ${Config.DEFAULT_BATCH_SIZE}: loop delay p99`, "ms", load.eldP99, { op: "<=", value: 5, label: "≤ 5 ms" })
    figures.add(S3, `20,000 events/s, batch ${Config.DEFAULT_BATCH_SIZE}: loop delay max`, "ms", load.eldMax)
    // The floor of the same run: the raw worker writer at the same rate and batch (R2).
    const floor = figures.median(RAW_STALL, `batch ${Config.DEFAULT_BATCH_SIZE}, writer on worker thread: loop delay p99`)
    if (Number.isFinite(floor)) figures.add(S3, `loop delay p99 ÷ raw worker writer's at batch ${Config.DEFAULT_BATCH_SIZE} (same run)`, "× floor", load.eldP99 / floor, {
      op: "<=",
      value: 1.25,
      label: "≤ 1.25× floor"
    })
    figures.add(S3, "events emitted/s (offered 20,000)", "events/s", load.produced / load.seconds)
    figures.add(S3, "main-thread event-loop utilization", "%", 100 * load.elu)
    figures.add(S3, "server CPU per event (all threads)", "µs", load.cpuUsPerEvent)
    figures.add(S3, "server CPU per event (main thread)", "µs", load.mainCpuUsPerEvent)
  }
  figures.note(S3, `\`monitorEventLoopDelay({ resolution: 1 })\` in the server process (values include the 1 ms sampling interval; compare with R2's no-writer baseline), while 100 sessions receive 20,000 events/s through \`ConnectorHost.emit\` (no clients connected), measured after ${warmUpMs(o) / 1000} s of the same load. The load generator runs in the server process, as a connector would (its cost is in the main thread's CPU per event). The ratio divides this p99 by R2's worker writer at batch 500, measured in the same run.`)
}

export const fanout = async (figures: Figures, o: Options) => {
  const durationMs = o.quick ? 400 : 1_500
  const ns = o.quick ? [10] : FANOUT_N
  const encodings = o.quick ? (["json"] as const) : (["json", "msgpack"] as const)
  const all = Array.from({ length: 10 }, (_, k) => k)
  for (let run = 0; run < o.runs; run++) {
    for (const encoding of encodings) {
      // One server per encoding; the load replaces one message per session (message_updated), so
      // the sessions' state does not grow from one client count to the next.
      await withServer({}, 10, async (server) => {
        for (const n of ns) {
          // Offer enough to saturate: 20,000 events/s, or 3M deltas/s in all when that is less.
          const eventsPerSec = Math.min(20_000, Math.floor(3_000_000 / n))
          const clients = await spawnClients()
          let report: ClientReport
          try {
            await connectClients(clients, {
              url: server.wsUrl,
              protocol: encoding === "json" ? JSON_PROTOCOL : MSGPACK_PROTOCOL,
              count: n,
              mode: "count",
              needle: "message_updated",
              subscribe: subscriptions(all, false),
              acks: all.length
            })
            await clients.request({ type: "reset" }, ["reset"])
            await ask(server, { type: "load", rate: eventsPerSec, sessions: 10, durationMs, kind: "update" }, "loaded")
            report = await drainAndReport(clients)
          } finally {
            await clients.kill()
          }
          const delivered = rate(report, report.deltas)
          const label = `${encoding}, ${n} client${n > 1 ? "s" : ""}`
          figures.add(S4, `${label}: deltas/s delivered (offered ${((eventsPerSec * n) / 1000).toFixed(0)}k/s)`, "deltas/s", delivered)
          const bare = figures.median(RAW_FANOUT, `${encoding}, 16 deltas/frame, ${n} client${n > 1 ? "s" : ""}`)
          figures.add(S4, `${label}: ratio to bare ws (16/frame)`, "× bare", delivered / bare, n === 100 ? { op: ">=", value: 0.5, label: "≥ 0.5× bare" } : undefined)
          figures.add(S4, `${label}: deltas per frame`, "deltas", report.deltas / Math.max(1, report.frames))
          figures.add(S4, `${label}: resyncs (snapshots)`, "count", report.snapshots)
        }
      })
    }
  }
  figures.note(S4, "10 sessions, every client subscribed to all 10; the server is offered 20,000 events/s (at most 3M deltas/s in all: 6,000 events/s for 500 clients) of `message_updated` (~480 bytes; replacing one message's content so the state does not grow). Delivered = deltas counted by the clients per second. A client that falls 8,192 messages behind is resynced with snapshots (counted), as the protocol requires.")
}
