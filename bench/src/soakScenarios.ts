/**
 * OrbitDock's scenario 11 (issue 16): memory under real use over minutes. The real `orbitdock
 * serve` (what `npm start` runs) with 100 sim sessions taking turns steadily, while clients come
 * and go every few seconds, each opening the list and a few sessions (from snapshots) as a page or
 * the CLI does. The server's RSS is sampled throughout.
 */
import * as fs from "node:fs"
import WebSocket from "ws"
import { get, rssOf, S6, serve, TOKEN } from "./coldScenarios.js"
import type { Figures } from "./lib/report.js"
import { nowMs } from "./lib/stats.js"
import type { Options } from "./options.js"
import { connectClients, spawnClients } from "./raw/wsBench.js"
import { tempDir } from "./raw/sqliteAppend.js"

export const S11 = "11. Soak: memory under steady traffic and client churn"

const SESSIONS = 100
const TURNS_PER_SECOND = 30
const STEP_MS = 5_000
const CLIENTS_PER_STEP = 10
const SESSIONS_PER_CLIENT = 5

/** Scenario 6's hydrated-log figure in this run (full size only): the ratio target's reference. */
const HYDRATED = "RSS with all 200 sessions × 5,000 events hydrated, right after every session was read once"

/** One WebSocket connection that sends commands and resolves each with its answer. */
const commander = async (port: number) => {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?token=${TOKEN}`, "orbitdock.v1.json")
  await new Promise((resolve, reject) => (ws.once("open", resolve), ws.once("error", reject)))
  const waiting = new Map<string, (answer: { type: string; session_id?: string; code?: string }) => void>()
  let next = 0
  ws.on("message", (data) => {
    const parsed = JSON.parse(String(data)) as unknown
    for (const m of (Array.isArray(parsed) ? parsed : [parsed]) as Array<{ id?: string; type: string }>) {
      if (m.id === undefined) continue
      waiting.get(m.id)?.(m)
      waiting.delete(m.id)
    }
  })
  return {
    request: (message: Record<string, unknown>) =>
      new Promise<{ type: string; session_id?: string; code?: string }>((resolve) => {
        const id = `c${next++}`
        waiting.set(id, resolve)
        ws.send(JSON.stringify({ ...message, id }))
      }),
    close: () => ws.close()
  }
}

export const soak = async (figures: Figures, o: Options) => {
  // BENCH_SOAK_SECONDS=<s>: a longer (or shorter) soak, to see where the climb levels off.
  const totalMs = process.env.BENCH_SOAK_SECONDS ? Number(process.env.BENCH_SOAK_SECONDS) * 1000 : o.quick ? 30_000 : 300_000
  const dataDir = tempDir("soak")
  const server = await serve(dataDir)
  const pid = server.child.pid!
  const clients = await spawnClients()
  const driver = await commander(server.port)
  try {
    const ids: Array<string> = []
    for (let i = 0; i < SESSIONS; i++) ids.push((await driver.request({ type: "create_session", provider: "sim", cwd: `/soak/${i}` })).session_id!)
    const start = rssOf(pid)
    // Turns, round robin, at a steady rate; a session still busy with its last turn is skipped.
    let turns = 0
    let busy = 0
    let stopped = false
    const traffic = (async () => {
      const t0 = nowMs()
      for (let n = 0; !stopped; n++) {
        const due = t0 + (n * 1000) / TURNS_PER_SECOND
        if (due > nowMs()) await new Promise((r) => setTimeout(r, due - nowMs()))
        void driver.request({ type: "send_message", session_id: ids[n % SESSIONS], content: `turn ${n}: what changed since the last build, and why?` }).then((a) => {
          if (a.type === "ack") turns++
          else busy++
        })
      }
    })()

    const samples: Array<number> = []
    let opened = 0
    for (let t = 0, step = 0; t < totalMs; t += STEP_MS, step++) {
      // This step's clients replace the last step's: each subscribes to the list and to 5 sessions,
      // a different 5 each time, so snapshots of every session are built and dropped in turn.
      await clients.request({ type: "close" }, ["closed"])
      await connectClients(clients, {
        url: `ws://127.0.0.1:${server.port}/ws?token=${TOKEN}`,
        protocol: "orbitdock.v1.json",
        count: CLIENTS_PER_STEP,
        mode: "count",
        subscribe: [
          { type: "subscribe_list", id: "l" },
          ...Array.from({ length: SESSIONS_PER_CLIENT }, (_, k) => ({ type: "subscribe_session", id: `s${k}`, session_id: ids[(step * SESSIONS_PER_CLIENT + k * 17) % SESSIONS] }))
        ],
        acks: 1 + SESSIONS_PER_CLIENT
      })
      opened += CLIENTS_PER_STEP
      await new Promise((r) => setTimeout(r, STEP_MS))
      samples.push(rssOf(pid))
    }
    stopped = true
    await traffic
    await clients.request({ type: "close" }, ["closed"])
    const list = JSON.parse((await get(server.port, "/api/sessions")).body) as Array<{ revision: number }>
    const events = list.reduce((sum, s) => sum + s.revision, 0)

    const end = samples.at(-1)!
    const hydrated = o.quick ? Number.NaN : figures.median(S6, HYDRATED)
    const target = Number.isFinite(hydrated) ? ({ op: "<=", value: 1.3 * hydrated, label: `≤ 1.3× hydrated log (${(1.3 * hydrated).toFixed(0)} MB)` } as const) : undefined
    figures.add(S11, "RSS at the start (100 sessions created, no traffic yet)", "MB", start)
    figures.add(S11, `RSS at the end of ${totalMs / 1000} s`, "MB", end, target)
    // Before V8's first full collection its old generation grows freely: the peak is that, not a leak.
    figures.add(S11, "highest RSS sampled", "MB", Math.max(...samples))
    const half = samples.slice(Math.floor(samples.length / 2))
    figures.add(S11, "RSS growth over the second half", "MB", half.at(-1)! - half[0]!)
    figures.add(S11, "events in the log at the end", "events", events)
    figures.note(
      S11,
      `\`orbitdock serve\` (the bundle \`npm start\` runs) with ${SESSIONS} sim sessions; one client sends ${TURNS_PER_SECOND} turns/s round robin (${turns} taken, ${busy} refused while the session was still busy; ${events.toLocaleString("en")} events in the log at the end, ~${Math.round(events / (totalMs / 1000))} events/s; each session's state grows and older messages are paged out) for ${totalMs / 1000} s. Every ${STEP_MS / 1000} s the ${CLIENTS_PER_STEP} connected clients leave and ${CLIENTS_PER_STEP} new ones subscribe to the list and to ${SESSIONS_PER_CLIENT} sessions each, a different ${SESSIONS_PER_CLIENT} every time (${opened} connections in all). Server RSS every ${STEP_MS / 1000} s: ${samples.map((s) => s.toFixed(0)).join(", ")} MB.${Number.isFinite(hydrated) ? ` Scenario 6's hydrated log in this run: ${hydrated.toFixed(0)} MB.` : ""}`
    )
  } finally {
    driver.close()
    await clients.kill()
    await server.stop()
    fs.rmSync(dataDir, { recursive: true, force: true })
  }
}
