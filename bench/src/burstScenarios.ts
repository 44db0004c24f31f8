/**
 * OrbitDock's scenarios 7–8 (issue 14): what bursts of agent output do to everyone else. `/health`
 * answered from another process while 50 sim sessions burst to 10 subscribed clients, and the ack
 * latency of a command to an idle session while other sessions burst (on the same connection and
 * from another one). Real server process, clients and probes in other processes.
 */
import type { Figures } from "./lib/report.js"
import { Driver, type Acked } from "./lib/driver.js"
import { spawnProc } from "./lib/proc.js"
import { nowMs, percentiles, type Percentiles } from "./lib/stats.js"
import type { Options } from "./options.js"
import { ask, sessionId, startOrbit, type OrbitServer } from "./orbit.js"
import type { ClientReport } from "./procs/wsClients.js"
import { connectClients, spawnClients } from "./raw/wsBench.js"

export const S7 = "7. `/health` during bursts: sim sessions each `/burst N` at once, clients subscribed to all of them"
export const S8 = "8. Ack latency of a `send_message` to an idle session while other sessions burst"

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i)

const withServer = async <A>(sessions: number, f: (server: OrbitServer) => Promise<A>): Promise<A> => {
  const server = await startOrbit({})
  try {
    await ask(server, { type: "create", count: sessions }, "created")
    return await f(server)
  } finally {
    await server.stop()
  }
}

/**
 * Probes `/health` every 20 ms from its own process: for `idleMs` first (the machine's floor, the
 * server idle), then while `during` runs.
 */
const probingHealth = async <A>(
  server: OrbitServer,
  idleMs: number,
  during: () => Promise<A>
): Promise<{ result: A; idle: Percentiles; health: Percentiles; failed: number }> => {
  const prober = await spawnProc(new URL("./procs/healthProbe.js", import.meta.url))
  try {
    await prober.request({ type: "start", port: server.port, intervalMs: 20 }, ["started"])
    await sleep(idleMs)
    const { latency: idle } = await prober.request<{ latency: Percentiles }>({ type: "lap" }, ["lapped"])
    const result = await during()
    const { latency, failed, reasons } = await prober.request<{ latency: Percentiles; failed: number; reasons: Array<string> }>({ type: "stop" }, ["probed"])
    if (failed > 0) process.stderr.write(` (${failed} /health probes failed: ${reasons.join(", ")})`)
    return { result, idle, health: latency, failed }
  } finally {
    await prober.kill()
  }
}

const burstAll = async (driver: Driver, ids: ReadonlyArray<string>, count: number): Promise<ReadonlyArray<Acked>> =>
  Promise.all(ids.map((id) => driver.send({ type: "send_message", session_id: id, content: `/burst ${count}` })))

export const burstStall = async (figures: Figures, o: Options) => {
  const sessions = o.quick ? 10 : 50
  const perSession = o.quick ? 500 : 2_000
  const clientCount = o.quick ? 2 : 10
  const ids = range(0, sessions).map(sessionId)
  const expected = clientCount * sessions * perSession
  const idleMs = o.quick ? 300 : 2_000
  for (let run = 0; run < o.runs; run++) {
    const { result, idle, health, failed } = await withServer(sessions, async (server) => {
      const clients = await spawnClients()
      const driver = await Driver.connect(server.wsUrl)
      try {
        await connectClients(clients, {
          url: server.wsUrl,
          protocol: "orbitdock.v1.json",
          count: clientCount,
          mode: "count",
          // `"content":"burst 17"`: the burst's messages, not the prompt `/burst N`.
          needle: '"burst ',
          subscribe: ids.map((id, i) => ({ type: "subscribe_session", id: `s${i}`, session_id: id })),
          acks: sessions
        })
        await driver.send({ type: "subscribe_list" })
        return await probingHealth(server, idleMs, async () => {
          await clients.request({ type: "reset" }, ["reset"])
          await ask(server, { type: "watch-loop" }, "watching")
          const ended = driver.turnsEnd(ids)
          const start = nowMs()
          const acks = await burstAll(driver, ids, perSession)
          const refused = acks.filter((a) => a.type !== "ack")
          if (refused.length > 0) throw new Error(`burst refused: ${JSON.stringify(refused[0])}`)
          let turnsEnded = false
          void ended.then(() => (turnsEnded = true))
          // Every client got every message, or (a client was resynced) the turns ended and nothing more arrives.
          let report: ClientReport
          let previous = -1
          const deadline = Date.now() + 300_000
          for (;;) {
            ;({ report } = await clients.request<{ report: ClientReport }>({ type: "report" }, ["report"]))
            if (report.deltas >= expected || Date.now() > deadline) break
            if (turnsEnded && report.frames === previous) break
            previous = turnsEnded ? report.frames : -1
            await sleep(turnsEnded ? 500 : 25)
          }
          await ended
          const loop = await ask<{ p99: number; max: number; cpuMax: number; cpuMs: number }>(server, { type: "loop-delay" }, "loop-delay")
          return { delivery: report.last - start, report, loop }
        })
      } finally {
        driver.close()
        await clients.kill()
      }
    })
    const label = `${sessions} × ${perSession.toLocaleString("en")} events, ${clientCount} clients`
    figures.add(S7, `${label}: /health p99 before the bursts (server idle: the machine's floor)`, "ms", idle.p99)
    figures.add(S7, `${label}: /health p50`, "ms", health.p50)
    figures.add(S7, `${label}: /health p99`, "ms", health.p99, { op: "<=", value: 50, label: "≤ 50 ms" })
    figures.add(S7, `${label}: /health max`, "ms", health.max, { op: "<=", value: 100, label: "≤ 100 ms" })
    figures.add(S7, `${label}: /health probes answered`, "count", health.count)
    if (failed > 0) figures.add(S7, `${label}: /health probes failed`, "count", failed)
    figures.add(S7, `${label}: server loop delay p99`, "ms", result.loop.p99)
    figures.add(S7, `${label}: server loop delay max`, "ms", result.loop.max)
    figures.add(S7, `${label}: longest loop iteration, server main-thread CPU time`, "ms", result.loop.cpuMax)
    figures.add(S7, `${label}: total delivery time (every client got every message)`, "ms", result.delivery)
    figures.add(S7, `${label}: server CPU time until then (all threads)`, "ms", result.loop.cpuMs)
    figures.add(S7, `${label}: deltas delivered per client`, "deltas", result.report.deltas / clientCount)
    figures.add(S7, `${label}: resyncs (snapshots)`, "count", result.report.snapshots)
  }
  figures.note(S7, `${sessions} sim sessions; ${clientCount} WebSocket clients (JSON, another process) each subscribed to all of them; one more connection sends \`/burst ${perSession}\` to every session at once. \`GET /health\` is sent every 20 ms from a third process (at a raised priority where allowed) over keep-alive connections, whether or not the previous probe was answered (a stall counts once per 20 ms it lasts), from just before the bursts until the last client got its last message; the same probes in the ${idleMs / 1000} s before, the server idle, give the machine's floor. Loop delay: \`monitorEventLoopDelay\` in the server during the bursts; it counts the time the server's thread waited for a core too, while "longest loop iteration, CPU time" (from \`/proc/thread-self/schedstat\`, between two ticks of a 1 ms timer) is what the server's own work held the loop, whatever the machine's load. Total delivery time: from sending the bursts to the last message received by any client (${expected.toLocaleString("en")} burst messages in all); the server's CPU time over the same span does not depend on how busy the machine was. The log writes meanwhile (the server's defaults).`)
}

interface Probes {
  /** `send_message` (a plain-text turn): acked once its first events are durable. */
  readonly commands: ReadonlyArray<Acked>
  /** `subscribe_session` of another idle session: acked once its snapshot is pushed (no log wait). */
  readonly subscriptions: ReadonlyArray<Acked>
}

/**
 * Every 20 ms until `until` settles, a `send_message` to one of `idle` (in turn) and a subscription
 * to one of `watched` (then its unsubscription, which keeps the connection's subscriptions few).
 * Disjoint sets: a subscription would wait for an earlier command about its session.
 */
const probeAcks = async (driver: Driver, idle: ReadonlyArray<string>, watched: ReadonlyArray<string>, until: Promise<void>): Promise<Probes> => {
  let done = false
  void until.then(() => (done = true))
  const commands: Array<Promise<Acked>> = []
  const subscriptions: Array<Promise<Acked>> = []
  for (let k = 0; !done; k++) {
    commands.push(driver.send({ type: "send_message", session_id: idle[k % idle.length]!, content: `ping ${k}` }))
    const session = watched[k % watched.length]!
    subscriptions.push(driver.send({ type: "subscribe_session", session_id: session }))
    void driver.send({ type: "unsubscribe_session", session_id: session })
    await sleep(20)
  }
  return { commands: await Promise.all(commands), subscriptions: await Promise.all(subscriptions) }
}

export const burstAcks = async (figures: Figures, o: Options) => {
  const bursting = o.quick ? 2 : 4
  const perSession = o.quick ? 5_000 : 20_000
  // Enough idle sessions that each has ended its short turn before its next probe.
  const idleCount = 16
  const busy = range(0, bursting).map(sessionId)
  const idle = range(bursting, idleCount).map(sessionId)
  const watched = range(bursting + idleCount, 4).map(sessionId)
  for (let run = 0; run < o.runs; run++) {
    await withServer(bursting + idleCount + watched.length, async (server) => {
      const prober = await Driver.connect(server.wsUrl)
      const other = await Driver.connect(server.wsUrl)
      try {
        await prober.send({ type: "subscribe_list" })
        for (const where of ["same connection", "another connection"] as const) {
          const bursts = where === "same connection" ? prober : other
          const ended = prober.turnsEnd(busy)
          const start = nowMs()
          const sent = burstAll(bursts, busy, perSession)
          const probes = await probeAcks(prober, idle, watched, ended)
          const burstSeconds = (nowMs() - start) / 1000
          await sent
          const label = `${bursting} × /burst ${perSession.toLocaleString("en")} sent first ${where === "same connection" ? "on the same connection" : "from another connection"}`
          const acked = (acks: ReadonlyArray<Acked>) => acks.filter((a) => a.type === "ack").map((a) => a.ms)
          const commands = percentiles(acked(probes.commands))
          figures.add(S8, `${label}: send_message ack p50`, "ms", commands.p50)
          figures.add(S8, `${label}: send_message ack p99`, "ms", commands.p99, { op: "<=", value: 50, label: "≤ 50 ms" })
          figures.add(S8, `${label}: send_message ack max`, "ms", commands.max)
          figures.add(S8, `${label}: send_message probes acked`, "count", commands.count)
          figures.add(S8, `${label}: send_message probes refused`, "count", probes.commands.length - commands.count)
          const subscriptions = percentiles(acked(probes.subscriptions))
          figures.add(S8, `${label}: subscribe_session ack p99 (no log wait)`, "ms", subscriptions.p99)
          figures.add(S8, `${label}: subscribe_session ack max`, "ms", subscriptions.max)
          figures.add(S8, `${label}: burst duration`, "s", burstSeconds)
        }
      } finally {
        prober.close()
        other.close()
      }
    })
  }
  figures.note(S8, `${bursting} sim sessions each run \`/burst ${perSession.toLocaleString("en")}\`; meanwhile, every 20 ms until the bursts' turns have ended, the probing client sends a \`send_message\` (a plain-text turn) to one of ${idleCount} idle sim sessions in turn, and a \`subscribe_session\` (then \`unsubscribe_session\`) of one of ${watched.length} others; latency = send → ack on the probing client. "On the same connection": the bursts' \`send_message\`s were sent first on the probing connection; "from another connection": from a second one. A \`send_message\` is acked once its first events are durable, so it also waits for the log's backlog; a subscription is acked once its snapshot is pushed, so it measures what the connection and the event loop add. No clients are subscribed to the bursting sessions. A probe that finds its session's previous turn still running is refused (\`conflict\`): counted apart, not timed.`)
}
