/**
 * Bare `ws` references: fan-out ceiling (one frame per delta and 16 per frame, JSON and msgpack) and
 * the latency floor, with server and clients in separate processes.
 */
import type { ClientReport, ConnectRequest } from "../procs/wsClients.js"
import { spawnProc, type Proc } from "../lib/proc.js"
import type { Percentiles } from "../lib/stats.js"

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
const script = (name: string) => new URL(`../procs/${name}.js`, import.meta.url)

export const spawnClients = () => spawnProc(script("wsClients"))

export const connectClients = async (clients: Proc, request: Omit<ConnectRequest, "type">) => {
  const r = await clients.request<{ type: string; error?: string }>({ type: "connect", ...request }, ["connected", "failed"])
  if (r.type === "failed") throw new Error(`clients failed to connect: ${r.error}`)
}

/** Waits until the clients stop receiving (the tail of what the server had queued), then reports. */
export const drainAndReport = async (clients: Proc, quietMs = 150, maxMs = 10_000): Promise<ClientReport> => {
  const start = Date.now()
  let previous = -1
  for (;;) {
    const { report } = await clients.request<{ report: ClientReport }>({ type: "report" }, ["report"])
    if (report.frames === previous || Date.now() - start > maxMs) return report
    previous = report.frames
    await sleep(quietMs)
  }
}

export interface FanoutResult {
  readonly deltasPerSec: number
  readonly framesPerSec: number
}

export const rate = (report: ClientReport, count: number): number =>
  report.last > report.first ? count / ((report.last - report.first) / 1000) : Number.NaN

/** Aggregate deltas/s the bare server delivers to `n` clients. */
export const bareFanout = async (n: number, encoding: "json" | "msgpack", perFrame: number, durationMs: number): Promise<FanoutResult> => {
  const server = await spawnProc(script("bareWsServer"), [], [], { underTest: true })
  const clients = await spawnClients()
  try {
    await connectClients(clients, { url: `ws://127.0.0.1:${server.up.port}`, count: n, mode: "count" })
    await server.request({ type: "fanout", encoding, perFrame, durationMs }, ["fanout-done"])
    const report = await drainAndReport(clients)
    return { deltasPerSec: rate(report, report.deltas), framesPerSec: rate(report, report.frames) }
  } finally {
    await clients.request({ type: "exit" }, ["never"], 50).catch(() => undefined)
    await clients.kill()
    await server.kill()
  }
}

/**
 * Send-to-receipt latency with `n` clients receiving `perClientRate` messages/s each, one frame per
 * message or (`coalesce`) one frame per tick.
 */
export const bareLatency = async (n: number, perClientRate: number, durationMs: number, coalesce = false): Promise<Percentiles> => {
  const server = await spawnProc(script("bareWsServer"), [], [], { underTest: true })
  const clients = await spawnClients()
  try {
    await connectClients(clients, { url: `ws://127.0.0.1:${server.up.port}`, count: n, mode: "latency" })
    await server.request({ type: "latency", rate: perClientRate, durationMs, coalesce }, ["latency-done"])
    const report = await drainAndReport(clients)
    return report.latency
  } finally {
    await clients.kill()
    await server.kill()
  }
}
