/**
 * Child process: probes a server's `GET /health` at a fixed interval, from outside the server's
 * event loop, and reports the response times. A probe is sent on every tick whether or not the
 * previous one was answered, so a stall of the server counts once per tick it covers (no
 * coordinated omission). Keep-alive connections: what is measured is the server serving a request,
 * not the kernel's accept queue.
 *
 * Driven over IPC: `start` {port, intervalMs} → `started`; `lap` → `lapped` {latency} (the probes
 * answered so far, which are then forgotten); `stop` → `probed` {latency, failed, reasons}.
 */
import * as http from "node:http"
import * as os from "node:os"
import { nowMs, percentiles } from "../lib/stats.js"

// A higher priority where allowed, so that on a busy machine the probe's own wake-ups count less.
try {
  os.setPriority(-10)
} catch {
  // not permitted: the default priority
}

const reply = (m: unknown) => process.send!(m)
const agent = new http.Agent({ keepAlive: true })

let timer: NodeJS.Timeout | undefined
let samples: Array<number> = []
let outstanding = 0
let failed = 0
let reasons = new Set<string>()

const probe = (port: number) => {
  const sent = nowMs()
  outstanding++
  const req = http.get({ host: "127.0.0.1", port, path: "/health", agent }, (res) => {
    res.resume()
    res.on("end", () => {
      outstanding--
      if (res.statusCode === 200) samples.push(nowMs() - sent)
      else {
        failed++
        reasons.add(`status ${res.statusCode}`)
      }
    })
  })
  req.on("error", (error: NodeJS.ErrnoException) => {
    outstanding--
    failed++
    reasons.add(error.code ?? error.message)
  })
}

process.on("message", (request: { type: string; port?: number; intervalMs?: number }) => {
  switch (request.type) {
    case "start": {
      samples = []
      failed = 0
      reasons = new Set()
      const port = request.port!
      timer = setInterval(() => probe(port), request.intervalMs ?? 20)
      reply({ type: "started" })
      return
    }
    case "lap": {
      reply({ type: "lapped", latency: percentiles(samples) })
      samples = []
      return
    }
    case "stop": {
      if (timer !== undefined) clearInterval(timer)
      timer = undefined
      // Whatever is still outstanding when the run ends is answered late: wait for it.
      const finish = () => {
        if (outstanding > 0) return void setTimeout(finish, 5)
        reply({ type: "probed", latency: percentiles(samples), failed, reasons: [...reasons] })
      }
      finish()
      return
    }
    case "exit":
      process.exit(0)
  }
})
reply({ type: "up" })
