/**
 * Scenario 9 (issue 17): how fast the person hears that a session needs them, and how fast the
 * inbox answers for a large fleet. A real server process with a webhook channel to a receiver in
 * the bench process; sessions asking questions while 100 others stream.
 */
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { Driver } from "./lib/driver.js"
import type { Figures } from "./lib/report.js"
import { nowMs, percentiles } from "./lib/stats.js"
import type { Options } from "./options.js"
import { ask, sessionId, startOrbit, type OrbitServer } from "./orbit.js"

export const S9 = "9. Reaching the person: attention → webhook received, and the inbox of a large fleet"

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
const gc = () => (globalThis as { gc?: () => void }).gc?.()

const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 1 })

/** The CPU time (ms) a process has used, all its threads: Linux `/proc/<pid>/stat` (NaN elsewhere). */
const cpuMsOf = (pid: number): number => {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100 // utime + stime, in clock ticks of 10 ms
  } catch {
    return Number.NaN
  }
}

/** Waits until the server used under 5 % of a core over half a second (at most 30 s; 2 s where it cannot be read). */
const quiet = async (server: OrbitServer): Promise<void> => {
  const pid = server.proc.child.pid
  if (pid === undefined || Number.isNaN(cpuMsOf(pid))) return sleep(2_000)
  const deadline = nowMs() + 30_000
  for (;;) {
    const before = cpuMsOf(pid)
    await sleep(500)
    if (cpuMsOf(pid) - before < 25 || nowMs() > deadline) return
  }
}

/** `count` requests one after the other, each timed alone (`before` runs untimed first); their percentiles. */
const timedGets = async (count: number, request: () => Promise<unknown>, before?: () => Promise<unknown>) => {
  gc()
  const times: Array<number> = []
  for (let i = 0; i < count; i++) {
    if (before !== undefined) await before()
    const start = nowMs()
    await request()
    times.push(nowMs() - start)
  }
  return percentiles(times)
}

/**
 * A GET's whole body over a kept-alive connection (what serving it costs, not a client's parsing):
 * its bytes counted as they arrive; kept as text only when asked (`keep`), since a 200 KB string per
 * request would have the bench's own collector pause the timings.
 */
const getBody = (server: OrbitServer, pathname: string, keep = false): Promise<string> =>
  new Promise((resolve, reject) => {
    const request = http.get(
      { host: "127.0.0.1", port: server.port, path: pathname, agent: keepAlive, headers: { authorization: `Bearer ${server.token}` } },
      (response) => {
        const chunks: Array<Buffer> = []
        let bytes = 0
        response.on("data", (c: Buffer) => {
          bytes += c.length
          if (keep) chunks.push(c)
        })
        response.on("end", () => {
          if (response.statusCode !== 200 || bytes === 0) return reject(new Error(`GET ${pathname}: ${response.statusCode}, ${bytes} bytes`))
          resolve(keep ? Buffer.concat(chunks).toString("utf8") : "")
        })
      }
    )
    request.on("error", reject)
  })
const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i)

export const api = async (server: OrbitServer, method: "GET" | "POST", pathname: string, body?: unknown): Promise<any> => {
  const response = await fetch(`http://127.0.0.1:${server.port}${pathname}`, {
    method,
    headers: { authorization: `Bearer ${server.token}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
  const answer = await response.json()
  if (!response.ok) throw new Error(`${method} ${pathname}: ${response.status} ${JSON.stringify(answer)}`)
  return answer
}

/** A webhook receiver: for each POST, how long after the attention began it arrived (wall clock, ms). */
const startReceiver = async () => {
  const latencies: Array<number> = []
  const server = http.createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      const at = Date.now()
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { since: string }
      latencies.push(at - Date.parse(body.since))
      res.writeHead(204).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    latencies,
    close: () => new Promise<void>((resolve) => server.close(() => resolve()))
  }
}

export const attentionWebhook = async (figures: Figures, o: Options) => {
  const busy = 100
  const askers = o.quick ? 20 : 100
  const rate = o.quick ? 2_000 : 5_000
  const durationMs = o.quick ? 3_000 : 10_000
  for (let run = 0; run < o.runs; run++) {
    const server = await startOrbit({})
    const receiver = await startReceiver()
    const driver = await Driver.connect(server.wsUrl)
    try {
      await ask(server, { type: "create", count: busy + askers }, "created")
      await api(server, "POST", "/api/notify/channels", { kind: "webhook", url: receiver.url })
      const streaming = ask(server, { type: "load", rate, sessions: busy, durationMs }, "loaded")
      await sleep(300)
      // The questions spread over most of the streaming.
      const every = (durationMs * 0.7) / askers
      for (const i of range(busy, askers)) {
        void driver.send({ type: "send_message", session_id: sessionId(i), content: `/ask question ${i}?` })
        await sleep(every)
      }
      const deadline = nowMs() + 30_000
      while (receiver.latencies.length < askers && nowMs() < deadline) await sleep(50)
      await streaming
      const latency = percentiles(receiver.latencies)
      const label = `${askers} sessions ask a question while ${busy} others stream ${rate.toLocaleString("en")} events/s`
      figures.add(S9, `${label}: attention → webhook received p50`, "ms", latency.p50)
      figures.add(S9, `${label}: attention → webhook received p99`, "ms", latency.p99, { op: "<=", value: 250, label: "≤ 250 ms" })
      figures.add(S9, `${label}: attention → webhook received max`, "ms", latency.max)
      figures.add(S9, `${label}: webhooks received`, "count", receiver.latencies.length)
    } finally {
      driver.close()
      await receiver.close()
      await server.stop()
    }
  }
  figures.note(
    S9,
    `Webhook: a real server process with one webhook channel to an HTTP receiver in the bench process. ${busy} sim sessions receive a stream of \`message_appended\` events from the load generator; meanwhile ${askers} other sim sessions are sent \`/ask …\` one after the other. Latency: from the question's \`since\` (its time on the server) to the webhook's body fully received (wall clock, one machine). It includes waiting for the question's events to be durable, which a notification always does. Inbox: as many sim sessions each run a one-message turn, so each waits for its person (\`turn_finished\`); once the server is quiet (under 5 % of a core over half a second: the writer has written the turns' snapshots), \`GET /api/inbox\` is asked one request after the other over one HTTP keep-alive connection, timed on the client from the request to the body's last byte (the bench process collects its garbage before each series and only counts the answers' bytes, so that its own collector's pauses stay out of the timings; one answer is read and parsed afterwards, untimed); then again, each request right after one session's attention was marked seen (acked), so that every answer is encoded anew.`
  )
}

export const inboxServe = async (figures: Figures, o: Options) => {
  const sessions = o.quick ? 200 : 1_000
  // 1,000 requests a series: a p99 that is the tenth slowest, not the second (what 200 gave).
  const requests = o.quick ? 50 : 1_000
  for (let run = 0; run < o.runs; run++) {
    const server = await startOrbit({})
    const driver = await Driver.connect(server.wsUrl)
    try {
      await ask(server, { type: "create", count: sessions }, "created")
      // The driver tells turns' ends from the list.
      await driver.send({ type: "subscribe_list" })
      const ids = range(0, sessions).map(sessionId)
      const ended = driver.turnsEnd(ids)
      await Promise.all(ids.map((id) => driver.send({ type: "send_message", session_id: id, content: "hello" })))
      await ended
      let items = 0
      const deadline = nowMs() + 30_000
      while (items < sessions && nowMs() < deadline) {
        items = (await api(server, "GET", "/api/inbox")).items.length
        if (items < sessions) await sleep(100)
      }
      // Settled: the writer has written the turns' snapshots (its thread would otherwise compete for
      // the 2 cores with the request being timed); the route is warm.
      await quiet(server)
      for (let i = 0; i < 20; i++) await getBody(server, "/api/inbox")
      // The bench process's own garbage must not pause the timed requests: collected before each
      // series; the answers' bytes are counted, not kept (one is read afterwards, untimed).
      const latency = await timedGets(requests, () => getBody(server, "/api/inbox"))
      items = (JSON.parse(await getBody(server, "/api/inbox", true)) as { items: ReadonlyArray<unknown> }).items.length
      // Each request right after a change (one more session marked seen): the answer is encoded again.
      let marked = 0
      const changed = await timedGets(
        requests,
        () => getBody(server, "/api/inbox"),
        () => driver.send({ type: "mark_attention", session_id: ids[marked++ % ids.length], seen: true })
      )
      // The same server's session list (the same sessions' summaries), for comparison, and the floor:
      // its smallest answer over the same connection.
      const list = await timedGets(requests, () => getBody(server, "/api/sessions"))
      const health = await timedGets(requests, () => getBody(server, "/health"))
      const label = `inbox of ${sessions.toLocaleString("en")} sessions (each waiting for its person)`
      figures.add(S9, `${label}: GET /api/inbox p50`, "ms", latency.p50)
      figures.add(S9, `${label}: GET /api/inbox p99`, "ms", latency.p99, { op: "<=", value: 10, label: "≤ 10 ms" })
      figures.add(S9, `${label}: GET /api/inbox right after a change, p50`, "ms", changed.p50)
      // No target: the writer commits each change meanwhile, on the same 2 cores.
      figures.add(S9, `${label}: GET /api/inbox right after a change, p99`, "ms", changed.p99)
      figures.add(S9, `${label}: GET /api/sessions p50 (for comparison)`, "ms", list.p50)
      figures.add(S9, `${label}: GET /api/sessions p99`, "ms", list.p99)
      figures.add(S9, `${label}: GET /health p50 (the floor, same connection)`, "ms", health.p50)
      figures.add(S9, `${label}: GET /health p99`, "ms", health.p99)
      figures.add(S9, `${label}: entries`, "count", items)
    } finally {
      driver.close()
      await server.stop()
    }
  }
}
