/**
 * OrbitDock's scenarios 5–6 (issue 6): cold start and replay of a large log with the real
 * `orbitdock serve` process, and memory (RSS with the whole log live; RSS while a subscribed client
 * stops reading).
 */
import { SessionMirror, SessionProjection } from "@orbitdock/projections"
import { launchServer, serverBins } from "@orbitdock/test-kit"
import Database from "better-sqlite3"
import type { ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import * as path from "node:path"
import WebSocket from "ws"
import { cpuLimit } from "./lib/cpuLimit.js"
import { eventAt, sessionIdOf } from "./lib/events.js"
import type { Figures } from "./lib/report.js"
import { RECENT_EVENTS, SERVER_NODE_FLAGS, SnapshotStore } from "./lib/server.js"
import { nowMs, summarize } from "./lib/stats.js"
import type { Options } from "./options.js"
import { ask, startOrbit } from "./orbit.js"
import { connectClients, spawnClients } from "./raw/wsBench.js"
import { tempDir } from "./raw/sqliteAppend.js"

export const S5 = "5. Cold start and replay (real `orbitdock serve` on a pre-written log)"
export const S6 = "6. Memory (server RSS)"

export const TOKEN = "c".repeat(64)

interface Serve {
  readonly child: ChildProcess
  readonly port: number
  readonly stop: () => Promise<void>
}

/** `npm run package`'s single executable for this machine, when it was built. */
const singleExecutable = (): string | null => {
  const root = path.resolve(path.dirname(serverBins.bundle), "../../../..")
  const { version } = JSON.parse(fs.readFileSync(path.join(root, "packages/server/package.json"), "utf8")) as { version: string }
  const file = path.join(root, "release", `orbitdock-${version}-${process.platform}-${process.arch}`)
  return fs.existsSync(file) ? file : null
}

/**
 * Starts the real CLI, the bundle `npm start` runs (or the single executable, with `executable`
 * and its unpacking cache), on `dataDir` through the test kit's launcher, under the slow mode's CPU
 * quota when there is one, and resolves once it printed its `listening` line.
 */
export const serve = async (dataDir: string, executable?: { readonly file: string; readonly cacheDir: string }): Promise<Serve> => {
  // BENCH_PROFILE_DIR=<dir>: write a CPU profile of the server (written when it exits on SIGTERM).
  const profile = process.env.BENCH_PROFILE_DIR ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`] : []
  const more = (process.env.BENCH_SERVER_ARGS ?? "").split(" ").filter((arg) => arg !== "")
  const launched = await launchServer({
    dataDir,
    args: ["--socket", "none"],
    entry: "bundle",
    nodeArgs: [...SERVER_NODE_FLAGS, ...profile, ...more],
    ...(executable === undefined ? {} : { command: [executable.file] }),
    // The token in the environment, not the argv (where `serve` warns that every local user sees it).
    env: { ...process.env, ORBITDOCK_TOKEN: TOKEN, ...(executable === undefined ? {} : { ORBITDOCK_CACHE_DIR: executable.cacheDir }) },
    onSpawn: (pid) => cpuLimit()?.place(pid),
    timeoutMs: 60_000
  })
  return { child: launched.child, port: launched.listening.port, stop: () => launched.stop("SIGTERM") }
}

export const get = (port: number, pathAndQuery: string): Promise<{ status: number; body: string }> =>
  new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path: pathAndQuery, headers: { authorization: `Bearer ${TOKEN}` } }, (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (c: Buffer) => chunks.push(c))
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }))
    })
    req.on("error", reject)
  })

export const rssOf = (pid: number): number => {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8")
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN)
  return kb / 1024
}

/**
 * Writes a log of `sessions` × `perSession` events in the real schema and encoding (the schema is
 * created by the real server's migrations; rows are JSON payloads as `payloadCodec.ts` writes them,
 * plus each session's summary and its projection snapshot, built by the server's own
 * `buildSnapshots`), directly with better-sqlite3 so that generating it takes seconds.
 */
export const writeLog = async (
  dataDir: string,
  sessions: number,
  perSession: number
): Promise<{ seconds: number; snapshots: number; snapshotSeconds: number }> => {
  const started = await serve(dataDir) // creates the schema (and the data dir's token)
  await started.stop()
  const db = new Database(path.join(dataDir, "orbitdock.db"))
  db.pragma("journal_mode = WAL")
  db.pragma("synchronous = OFF")
  const insert = db.prepare("INSERT INTO events (session_id, revision, type, occurred_at, source_key, payload) VALUES (?, ?, ?, ?, ?, ?)")
  const upsert = db.prepare("INSERT OR REPLACE INTO session_summaries (session_id, revision, created_at, summary) VALUES (?, ?, ?, ?)")
  // Every synthetic session has the same history: fold one with the real projection for the summary.
  const template = SessionMirror.summarize(
    SessionProjection.replay(sessionIdOf(0) as never, Array.from({ length: perSession }, (_, r) => eventAt(sessionIdOf(0), r + 1))).state
  )
  const t0 = nowMs()
  const writeSession = db.transaction((s: number) => {
    const id = sessionIdOf(s)
    for (let r = 1; r <= perSession; r++) {
      const e = eventAt(id, r)
      // A source key on every event, shaped like the Codex connector's (`msg:<item id>:appended`):
      // hydration loads every key's digest, as it would for a real session.
      insert.run(id, r, e.event.type, e.occurred_at, `msg:${id}-item-${r}:appended`, JSON.stringify(e.event))
    }
    upsert.run(id, perSession, template.created_at, JSON.stringify({ ...template, id, title: id }))
  })
  for (let s = 0; s < sessions; s++) writeSession(s)
  const t1 = nowMs()
  // A server that had committed these events would have left projection snapshots behind (its
  // writer worker keeps them up to date): the same code builds them here.
  const snapshots = SnapshotStore.buildSnapshots(db)
  const snapshotSeconds = (nowMs() - t1) / 1000
  db.pragma("wal_checkpoint(TRUNCATE)")
  db.close()
  return { seconds: (nowMs() - t0) / 1000, snapshots: snapshots.length, snapshotSeconds }
}

export const coldStart = async (figures: Figures, o: Options) => {
  const sessions = o.quick ? 10 : 200
  const perSession = o.quick ? 500 : 5_000
  const total = sessions * perSession
  const dataDir = tempDir("cold")
  try {
    const { seconds, snapshots, snapshotSeconds } = await writeLog(dataDir, sessions, perSession)
    figures.note(S5, `Log: ${sessions} sessions × ${perSession.toLocaleString("en")} events (${total.toLocaleString("en")} events, ~500 bytes each; each session is one \`session_created\` then \`message_appended\` events, so its state holds ${(perSession - 1).toLocaleString("en")} messages; every event carries a source key, as a connector's do) plus, as a server that had committed them would have left, ${snapshots} projection snapshots (one for each session of ≥ ${SnapshotStore.SNAPSHOT_EVERY.toLocaleString("en")} events, at its last revision, keeping its last messages, with the older ones in message pages; built in ${snapshotSeconds.toFixed(1)} s by the server's own \`buildSnapshots\`, the code its writer worker runs), ${(fs.statSync(path.join(dataDir, "orbitdock.db")).size / 2 ** 20).toFixed(0)} MiB in all, written in ${seconds.toFixed(1)} s by the bench. Each run starts \`node packages/server/dist/bundle/bin.js serve --port 0 --socket none\` (what \`npm start\` runs) on it, waits for \`/health\`, then GETs \`/api/sessions/:id\` for every session (4 at a time; each session is hydrated on first use, from its snapshot plus the events after it, and answers with its whole state: the paged messages are written out as the bytes stored in their pages), then \`?at_revision=${perSession / 2}\` on one session (5 times, median). Then (scenario 6) one WebSocket client subscribes to every session at once, as a screen opening them all would, and waits for every \`session_snapshot\`.`)
    for (let run = 0; run < o.runs; run++) {
      // The same start on an empty data directory: what loading the program alone costs.
      const emptyDir = tempDir("empty")
      const e0 = nowMs()
      const empty = await serve(emptyDir)
      let emptyHealth = await get(empty.port, "/health")
      while (emptyHealth.status !== 200) emptyHealth = await get(empty.port, "/health")
      figures.add(S5, "empty log: start → /health answers", "s", (nowMs() - e0) / 1000)
      figures.add(S6, "RSS of an idle server, empty log", "MB", rssOf(empty.child.pid!))
      await empty.stop()
      fs.rmSync(emptyDir, { recursive: true, force: true })
      const file = singleExecutable()
      if (file !== null) {
        // The same with `npm run package`'s single executable: its first start unpacks its files.
        const cacheDir = tempDir("sea-cache")
        for (const label of ["first start (unpacks)", "later start"]) {
          const dir = tempDir("empty")
          const s0 = nowMs()
          const started = await serve(dir, { file, cacheDir })
          while ((await get(started.port, "/health")).status !== 200);
          figures.add(S5, `single executable, empty log, ${label}: start → /health answers`, "s", (nowMs() - s0) / 1000)
          if (label === "later start") figures.add(S6, "RSS of an idle single executable, empty log", "MB", rssOf(started.child.pid!))
          await started.stop()
          fs.rmSync(dir, { recursive: true, force: true })
        }
        fs.rmSync(cacheDir, { recursive: true, force: true })
        if (run === 0) figures.note(S5, `The single executable (${path.basename(file)}, ${(fs.statSync(file).size / 2 ** 20).toFixed(1)} MiB) runs without \`--single-threaded-gc\` (it takes no Node options).`)
      }

      const t0 = nowMs()
      const server = await serve(dataDir)
      try {
        let health = await get(server.port, "/health")
        while (health.status !== 200) health = await get(server.port, "/health")
        const healthAt = nowMs()
        const rssStarted = rssOf(server.child.pid!)
        let next = 0
        const worker = async () => {
          while (next < sessions) {
            const id = sessionIdOf(next++)
            const r = await get(server.port, `/api/sessions/${id}`)
            if (r.status !== 200) throw new Error(`GET /api/sessions/${id}: ${r.status} ${r.body.slice(0, 200)}`)
          }
        }
        await Promise.all([worker(), worker(), worker(), worker()])
        const allAt = nowMs()
        const at: Array<number> = []
        for (let i = 0; i < 5; i++) {
          const a = nowMs()
          const r = await get(server.port, `/api/sessions/${sessionIdOf(1)}?at_revision=${perSession / 2}`)
          if (r.status !== 200) throw new Error(`at_revision: ${r.status}`)
          at.push(nowMs() - a)
        }
        figures.add(S5, `${total.toLocaleString("en")} events: start → /health answers`, "s", (healthAt - t0) / 1000, { op: "<=", value: 3, label: "≤ 3 s" })
        figures.add(S5, `${total.toLocaleString("en")} events: start → every session queryable`, "s", (allAt - t0) / 1000, { op: "<=", value: 3, label: "≤ 3 s" })
        figures.add(S5, `?at_revision=${perSession / 2} on a ${perSession.toLocaleString("en")}-event session`, "ms", summarize(at).median)
        figures.add(S6, `RSS after start on the ${total.toLocaleString("en")}-event log (summaries only; sessions hydrate on first use)`, "MB", rssStarted)
        const target = sessions === 200 ? { op: "<=", value: 250, label: "≤ 250 MB" } as const : undefined
        figures.add(S6, `RSS with all ${sessions} sessions × ${perSession.toLocaleString("en")} events hydrated, right after every session was read once`, "MB", rssOf(server.child.pid!), target)
        figures.add(S6, "same, settled (the lowest RSS over the next 30 s, idle)", "MB", await settledRss(server.child.pid!), target)
        const subscribed = await subscribeAll(server.port, sessions)
        figures.add(S6, `one client subscribes to all ${sessions} sessions at once: every snapshot received`, "s", subscribed.seconds)
        figures.add(S6, "RSS right after that client got every snapshot", "MB", rssOf(server.child.pid!))
        figures.add(S6, "after those snapshots, settled (the lowest RSS over the next 30 s, idle)", "MB", await settledRss(server.child.pid!))
      } finally {
        await server.stop()
      }
    }
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true })
  }
}

/**
 * What a mission-control screen opening every session does: one WebSocket client (JSON, the `ws`
 * library's default payload limit) subscribes to every session in one go and waits for all their
 * snapshots. Each snapshot of a long session comes in a frame of its own (`MAX_COALESCED_BYTES`).
 */
const subscribeAll = (port: number, sessions: number): Promise<{ seconds: number }> =>
  new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?token=${TOKEN}`, "orbitdock.v1.json")
    const snapshot = Buffer.from('{"type":"session_snapshot"')
    let received = 0
    let t0 = 0
    const timer = setTimeout(() => {
      ws.terminate()
      reject(new Error(`subscribed to every session: ${received} of ${sessions} snapshots in 120 s`))
    }, 120_000)
    ws.on("error", (error) => {
      clearTimeout(timer)
      reject(error)
    })
    ws.on("open", () => {
      t0 = nowMs()
      for (let i = 0; i < sessions; i++) ws.send(JSON.stringify({ type: "subscribe_session", id: `s${i}`, session_id: sessionIdOf(i) }))
    })
    ws.on("message", (data: Buffer) => {
      // A long session's snapshot is megabytes: recognised by its start, not parsed.
      if (data.subarray(0, snapshot.length).equals(snapshot)) received++
      else if (data[0] === 0x5b) for (const m of JSON.parse(data.toString("utf8")) as Array<{ type: string }>) if (m.type === "session_snapshot") received++
      if (received === sessions) {
        clearTimeout(timer)
        const seconds = (nowMs() - t0) / 1000
        ws.once("close", () => resolve({ seconds }))
        ws.close()
      }
    })
  })

/**
 * RSS once an idle server has given back what it can: V8 shrinks its heap only some seconds after
 * allocation stops (its memory reducer; ~10–20 s here), so this is the lowest of samples taken
 * every second for `ms`.
 */
const settledRss = async (pid: number, ms = 30_000): Promise<number> => {
  let lowest = rssOf(pid)
  for (let waited = 0; waited < ms; waited += 1000) {
    await new Promise((resolve) => setTimeout(resolve, 1000))
    lowest = Math.min(lowest, rssOf(pid))
  }
  return lowest
}

/** Server RSS (after a GC) every `stepMs` while 10 sessions get 2,000 updates/s and one client watches them all. */
const rssUnderLoad = async (stall: boolean, totalMs: number, stepMs: number): Promise<Array<number>> => {
  const server = await startOrbit({})
  const clients = await spawnClients()
  try {
    await ask(server, { type: "create", count: 10 }, "created")
    await connectClients(clients, {
      url: server.wsUrl,
      protocol: "orbitdock.v1.json",
      count: 1,
      mode: stall ? "stall" : "count",
      subscribe: [{ type: "subscribe_list", id: "l" }, ...Array.from({ length: 10 }, (_, k) => ({ type: "subscribe_session", id: `s${k}`, session_id: `load-${String(k).padStart(4, "0")}` }))],
      acks: 11
    })
    if (stall) await clients.request({ type: "stall" }, ["stalled"])
    const samples: Array<number> = []
    for (let t = 0; t < totalMs; t += stepMs) {
      await ask(server, { type: "load", rate: 2_000, sessions: 10, durationMs: stepMs, kind: "update" }, "loaded")
      samples.push((await ask<{ rss: number }>(server, { type: "memory" }, "memory")).rss / 2 ** 20)
    }
    return samples
  } finally {
    await clients.kill()
    await server.stop()
  }
}

export const stalledClient = async (figures: Figures, o: Options) => {
  const totalMs = o.quick ? 2_000 : 60_000
  const stepMs = o.quick ? 500 : 5_000
  const control = await rssUnderLoad(false, totalMs, stepMs)
  const stalled = await rssUnderLoad(true, totalMs, stepMs)
  const at = (samples: ReadonlyArray<number>, ms: number) => samples[Math.min(samples.length - 1, Math.round(ms / stepMs) - 1)]!
  const half = totalMs / 2
  figures.add(S6, `reading client, ${totalMs / 1000} s at 2,000 events/s: RSS at the end`, "MB", at(control, totalMs))
  figures.add(S6, `stalled client, same load: RSS at the end`, "MB", at(stalled, totalMs))
  figures.add(S6, `stalled client: RSS above the reading client's at the end`, "MB", at(stalled, totalMs) - at(control, totalMs), { op: "<=", value: 20, label: "flat (≤ 20 MB)" })
  figures.add(S6, `stalled client: RSS growth over the second half (${half / 1000}–${totalMs / 1000} s)`, "MB", at(stalled, totalMs) - at(stalled, half), { op: "<=", value: 20, label: "flat (≤ 20 MB)" })
  figures.note(
    S6,
    `Stalled client: one client subscribed to the list and 10 sessions stops reading its socket (\`ws.pause()\`) while the sessions receive 2,000 events/s of \`message_updated\` (replacing one message's content, so the session state itself does not grow) for ${totalMs / 1000} s; the same run with a client that reads is the control. Server RSS after a GC, every ${stepMs / 1000} s — reading: ${control.map((s) => s.toFixed(0)).join(", ")} MB; stalled: ${stalled.map((s) => s.toFixed(0)).join(", ")} MB. Both rise during the first seconds as each session's in-memory ring of recent events (\`RECENT_EVENTS\` = ${RECENT_EVENTS.toLocaleString("en")}) fills.`
  )
}
