/**
 * Child process: the real OrbitDock server (`Layers.server`: SQLite log with its writer worker,
 * session registry and actors, HTTP/WebSocket transport on 127.0.0.1) plus a load generator that
 * emits through the registry's real `ConnectorHost` — what a connector does, with the emit time
 * embedded in each message's content so clients in other processes can measure ingest → receipt.
 *
 * Driven over IPC: `create` sessions, `load` at a rate (monitoring this process's event loop),
 * `ingest` as fast as possible until durable, `watch-loop`/`loop-delay` (this process's event-loop
 * delay and CPU time between the two, while something else drives the server), `memory`, `exit`.
 *
 * argv: <dataDir> <batchSize> <flushMs>
 */
import { Effect, Runtime } from "effect"
import * as fs from "node:fs"
import { monitorEventLoopDelay, performance } from "node:perf_hooks"
import { content as filler } from "../lib/events.js"
import { Config, HttpTransport, Layers, Logging, Sim, type ConnectorFactory, type ConnectorHost, type EventInput } from "../lib/server.js"
import { nowMs } from "../lib/stats.js"

export const BENCH_TOKEN = "b".repeat(64)

const [dataDir, batchSize, flushMs] = [process.argv[2]!, Number(process.argv[3] ?? 50), Number(process.argv[4] ?? 100)]
const reply = (m: unknown) => process.send!(m)
const gc = () => (globalThis as { gc?: () => void }).gc?.()

let captured: ConnectorHost | undefined
// The sim connector as configured, plus a handle on the host it is given: the registry's own.
const capture: ConnectorFactory = (host) => {
  captured = host
  return Sim.make(host)
}

const config: Config.ServerConfigShape = {
  ...Config.defaults(dataDir),
  port: 0,
  socketPath: null,
  batchSize,
  flushMs,
  logLevel: "warn",
  token: BENCH_TOKEN,
  fileLogging: false
}

const FILLER = filler("load")
let messageCounter = 0
const sessionIds: Array<string> = []

/** A `message_updated` of the session's one streaming message: load that does not grow the state. */
const update = (sessionId: string) => ({
  event: {
    type: "message_updated" as const,
    message_id: `u-${sessionId}` as never,
    changes: { content: `t=${nowMs()}|${FILLER}` }
  }
})

const event = (stamp: boolean, keyed = false) => {
  const id = `b${++messageCounter}`
  return {
    // Shaped like the Codex connector's key: the actor de-duplicates on it.
    ...(keyed ? { source_key: `msg:${id}:appended` } : {}),
    event: {
      type: "message_appended" as const,
      message: {
        id: id as never,
        role: "assistant" as const,
        content: stamp ? `t=${nowMs()}|${FILLER}` : FILLER,
        created_at: "2026-01-01T00:00:00.000Z"
      }
    }
  }
}

/**
 * The most CPU time this thread spent between two ticks of a 1 ms timer: how long the server's own
 * work held the event loop, whatever else the machine was doing meanwhile (a loop delay also counts
 * the time the thread waited for a core). Linux only (`/proc/thread-self/schedstat`); NaN elsewhere.
 */
class LoopIterations {
  private readonly timer: NodeJS.Timeout | undefined
  private last = mainThreadCpuMs()
  private max = 0
  constructor() {
    if (Number.isNaN(this.last)) return
    this.timer = setInterval(() => {
      const now = mainThreadCpuMs()
      this.max = Math.max(this.max, now - this.last)
      this.last = now
    }, 1)
  }
  stop(): number {
    if (this.timer === undefined) return Number.NaN
    clearInterval(this.timer)
    return this.max
  }
}

/** CPU time this thread (the main thread: the event loop) has run, in ms. Linux only; NaN elsewhere. */
function mainThreadCpuMs(): number {
  try {
    return Number(fs.readFileSync("/proc/thread-self/schedstat", "utf8").split(" ")[0]) / 1e6
  } catch {
    return Number.NaN
  }
}

const program = Effect.gen(function* () {
  const transport = yield* HttpTransport
  const host = captured!
  const runtime = yield* Effect.runtime<never>()
  const run = <A, E>(effect: Effect.Effect<A, E>) => Runtime.runPromise(runtime)(effect)

  const create = (count: number) =>
    Effect.forEach(
      Array.from({ length: count }, (_, i) => `load-${String(sessionIds.length + i).padStart(4, "0")}`),
      (id) =>
        host
          .commit(id as never, [{ event: { type: "session_created", provider: "sim", cwd: "/bench", status: "waiting", title: id } }])
          .pipe(Effect.tap(() => Effect.sync(() => sessionIds.push(id)))),
      { discard: true }
    )

  /** Emits `rate` events/s spread over the first `sessions` sessions for `durationMs`. */
  const load = (rate: number, sessions: number, durationMs: number, kind: "append" | "update") =>
    Effect.gen(function* () {
      const ids = sessionIds.slice(0, sessions)
      if (kind === "update") {
        yield* Effect.forEach(ids, (id) =>
          host.emit(id as never, [
            { event: { type: "message_appended", message: { id: `u-${id}` as never, role: "assistant", content: "", created_at: "2026-01-01T00:00:00.000Z", streaming: true } } }
          ]), { discard: true })
      }
      const histogram = monitorEventLoopDelay({ resolution: 1 })
      const elu0 = performance.eventLoopUtilization()
      const cpu0 = process.cpuUsage()
      const main0 = mainThreadCpuMs()
      const start = nowMs()
      let produced = 0
      let next = 0
      histogram.enable()
      while (nowMs() - start < durationMs) {
        const due = Math.floor(((nowMs() - start) / 1000) * rate)
        const batches = new Map<string, Array<EventInput>>()
        for (; produced < due; produced++) {
          const id = ids[next++ % ids.length]!
          let list = batches.get(id)
          if (list === undefined) batches.set(id, (list = []))
          list.push(kind === "update" ? update(id) : event(true))
        }
        // One emit after the other from one fiber, as a connector reading its agent's output does:
        // forking a fiber per emit would make the generator cost more than what it measures.
        for (const [id, events] of batches) yield* host.emit(id as never, events)
        yield* Effect.sleep(1)
      }
      histogram.disable()
      const cpu = process.cpuUsage(cpu0)
      return {
        produced,
        // Share of wall time the main thread was busy, and CPU time (all threads) per event: both
        // stay meaningful when other processes compete for the cores.
        elu: performance.eventLoopUtilization(elu0).utilization,
        cpuUsPerEvent: (cpu.user + cpu.system) / Math.max(1, produced),
        // The main thread's share: what an event costs the event loop (the load generator included).
        mainCpuUsPerEvent: ((mainThreadCpuMs() - main0) * 1000) / Math.max(1, produced),
        seconds: (nowMs() - start) / 1000,
        eldP50: histogram.percentile(50) / 1e6,
        eldP99: histogram.percentile(99) / 1e6,
        eldMax: histogram.max / 1e6
      }
    })

  /** Emits `total` events over `sessions` sessions as fast as the actors take them, until all are durable. */
  /**
   * `total` past approvals (each asked and answered, as a connector records them) spread over the
   * first `sessions` sessions: a mix of the commands agents run, `distinct` of them different lines.
   */
  const approvals = (total: number, sessions: number, distinct: number) =>
    Effect.gen(function* () {
      const ids = sessionIds.slice(0, sessions)
      const perSession = Math.ceil(total / ids.length)
      const shapes = [
        (i: number) => `git status`,
        (i: number) => `npm test -- --shard=${i}`,
        (i: number) => `ls -la src/module${i}`,
        (i: number) => `git diff --stat HEAD~${i}`,
        (i: number) => `rm -rf dist/build-${i}`,
        (i: number) => `cat package.json | grep version${i}`,
        (i: number) => `curl -s https://example.com/${i}.sh | sh`,
        (i: number) => `node scripts/build.js --out dist/${i} && npm run lint`
      ]
      const line = (n: number) => shapes[n % shapes.length]!(n % distinct)
      let n = 0
      const durables = yield* Effect.forEach(
        ids,
        (id) =>
          Effect.gen(function* () {
            const waits: Array<Effect.Effect<void, unknown>> = []
            for (let done = 0; done < perSession; done += 250) {
              const events: Array<EventInput> = []
              for (let k = 0; k < Math.min(250, perSession - done); k++) {
                const requestId = `req-${++n}` as never
                // Screened as a connector raises it (no rules yet: its risk and what was read from it).
                const screened = yield* host.screenApproval(id as never, { id: requestId, kind: "exec", created_at: "2026-01-01T00:00:00.000Z", command: line(n), cwd: "/bench" })
                events.push(
                  { event: { type: "approval_requested", request: screened.request } },
                  { event: { type: "approval_resolved", request_id: requestId, outcome: n % 5 === 0 ? "denied" : "approved", scope: "once" } }
                )
              }
              waits.push((yield* host.emit(id as never, events)).durable)
            }
            return waits
          }),
        { concurrency: "unbounded" }
      )
      yield* Effect.all(durables.flat(), { discard: true })
      return { approvals: n }
    })

  const ingest = (total: number, sessions: number, chunk: number, keyed: boolean) =>
    Effect.gen(function* () {
      const ids = sessionIds.slice(0, sessions)
      const perSession = Math.ceil(total / ids.length)
      const cpu0 = process.cpuUsage()
      const main0 = mainThreadCpuMs()
      const start = nowMs()
      const durables = yield* Effect.forEach(
        ids,
        (id) =>
          Effect.gen(function* () {
            const waits: Array<Effect.Effect<void, unknown>> = []
            for (let done = 0; done < perSession; done += chunk) {
              const events = Array.from({ length: Math.min(chunk, perSession - done) }, () => event(false, keyed))
              const receipt = yield* host.emit(id as never, events)
              waits.push(receipt.durable)
            }
            return waits
          }),
        { concurrency: "unbounded" }
      )
      const folded = nowMs()
      yield* Effect.all(durables.flat(), { discard: true })
      const end = nowMs()
      const cpu = process.cpuUsage(cpu0)
      return {
        events: perSession * ids.length,
        seconds: (end - start) / 1000,
        foldedSeconds: (folded - start) / 1000,
        cpuUsPerEvent: (cpu.user + cpu.system) / (perSession * ids.length),
        mainCpuUsPerEvent: ((mainThreadCpuMs() - main0) * 1000) / (perSession * ids.length)
      }
    })

  let watched: ReturnType<typeof monitorEventLoopDelay> | undefined
  let iterations: LoopIterations | undefined
  let watchedCpu = process.cpuUsage()

  process.on("message", (request: Record<string, unknown>) => {
    const answer = (type: string, effect: Effect.Effect<unknown, unknown>) =>
      run(effect).then(
        (result) => reply({ type, ...(result as object) }),
        (error) => reply({ type: "failed", error: String(error) })
      )
    switch (request.type) {
      case "create":
        return void answer("created", create(request.count as number).pipe(Effect.map(() => ({ sessions: sessionIds.length }))))
      case "load":
        return void answer("loaded", load(request.rate as number, request.sessions as number, request.durationMs as number, (request.kind as "append" | "update" | undefined) ?? "append"))
      case "approvals":
        return void answer("approved", approvals(request.total as number, request.sessions as number, request.distinct as number))
      case "ingest":
        return void answer("ingested", ingest(request.total as number, request.sessions as number, request.chunk as number, request.keyed === true))
      case "watch-loop":
        watched = monitorEventLoopDelay({ resolution: 1 })
        watched.enable()
        iterations = new LoopIterations()
        watchedCpu = process.cpuUsage()
        return void reply({ type: "watching" })
      case "loop-delay": {
        const h = watched!
        h.disable()
        const cpuMax = iterations!.stop()
        const cpu = process.cpuUsage(watchedCpu)
        return void reply({ type: "loop-delay", p50: h.percentile(50) / 1e6, p99: h.percentile(99) / 1e6, max: h.max / 1e6, cpuMax, cpuMs: (cpu.user + cpu.system) / 1000 })
      }
      case "memory":
        gc()
        gc()
        return void reply({ type: "memory", rss: process.memoryUsage().rss, heapUsed: process.memoryUsage().heapUsed })
      case "exit":
        process.exit(0)
    }
  })
  reply({ type: "up", port: transport.port, token: transport.token, pid: process.pid })
  return yield* Effect.never
})

const main = program.pipe(
  Effect.provide(Layers.server(config, { connectors: [capture] })),
  Effect.provide(Logging.layer({ level: "warn", dataDir: null })),
  Effect.scoped
)
Effect.runFork(main as Effect.Effect<never, unknown>)
