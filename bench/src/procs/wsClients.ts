/**
 * Child process holding many WebSocket clients, so that clients and server do not share an event
 * loop. Driven over IPC by the bench (see lib/proc.ts). Used against the bare `ws` server and against
 * OrbitDock alike.
 *
 * Clients do not decode frames: counting mode counts the `message_appended` tags in each frame (one
 * per delta, in JSON and in msgpack maps alike) and latency mode also reads the send time embedded in
 * each message's content (`t=<ms>|…`, on the machine-wide monotonic clock) straight from the bytes.
 * So the figures measure the server and the network path, not this process's decoder (which, on a
 * 2-core machine, would compete with the server for the second core). Control replies (acks) are
 * decoded.
 */
import { pack, unpack } from "msgpackr"
import WebSocket from "ws"
import { nowMs, percentiles, type Percentiles } from "../lib/stats.js"

export interface ConnectRequest {
  readonly type: "connect"
  readonly url: string
  readonly count: number
  readonly protocol?: string
  readonly mode: "count" | "latency" | "stall"
  /** Client messages each connection sends after `hello` (OrbitDock) or at once (bare `ws`). */
  readonly subscribe?: ReadonlyArray<unknown>
  /** Wait for this many acks per connection before reporting ready. */
  readonly acks?: number
  /** The message type counted as one delta (default `message_appended`). */
  readonly needle?: string
}

export interface ClientReport {
  readonly frames: number
  readonly deltas: number
  readonly bytes: number
  readonly first: number
  readonly last: number
  readonly latency: Percentiles
  readonly snapshots: number
  readonly errors: ReadonlyArray<string>
}

const NEEDLE = Buffer.from("message_appended")
const STAMP = Buffer.from("t=")
const BAR = 0x7c // "|"
const SNAPSHOT = Buffer.from("session_snapshot")
const sockets: Array<WebSocket> = []
let frames = 0
let deltas = 0
let bytes = 0
let first = 0
let last = 0
let snapshots = 0
let latencies: Array<number> = []
const errors: Array<string> = []

const decode = (data: Buffer, binary: boolean): unknown => (binary ? unpack(data) : JSON.parse(data.toString("utf8")))

/** Every `t=<ms>|` stamp in the frame, as latency samples. */
const stamps = (data: Buffer, received: number) => {
  let at = data.indexOf(STAMP)
  while (at !== -1) {
    const end = data.indexOf(BAR, at + 2)
    if (end === -1 || end - at > 40) break
    const sent = Number(data.toString("latin1", at + 2, end))
    if (Number.isFinite(sent)) latencies.push(received - sent)
    at = data.indexOf(STAMP, end)
  }
}

const countOf = (data: Buffer, needle: Buffer): number => {
  let n = 0
  let at = data.indexOf(needle)
  while (at !== -1) {
    n++
    at = data.indexOf(needle, at + needle.length)
  }
  return n
}

const connectOne = (request: ConnectRequest): Promise<WebSocket> =>
  new Promise((resolve, reject) => {
    const ws = new WebSocket(request.url, request.protocol ? [request.protocol] : [], { perMessageDeflate: false })
    let acks = 0
    let ready = false
    const needle = request.needle ? Buffer.from(request.needle) : NEEDLE
    const done = () => {
      if (!ready) {
        ready = true
        resolve(ws)
      }
    }
    const sendAll = () => {
      for (const m of request.subscribe ?? []) ws.send(request.protocol?.endsWith("msgpack") ? pack(m) : JSON.stringify(m))
      if (!request.acks) done()
    }
    ws.on("error", (e) => (ready ? errors.push(String(e)) : reject(e)))
    ws.on("open", () => {
      // OrbitDock sends hello first; the bare server sends nothing until the run starts.
      if (!request.subscribe) done()
    })
    let greeted = false
    ws.on("message", (data: Buffer, binary: boolean) => {
      const received = nowMs()
      if (!greeted && request.subscribe) {
        // The first frame is `hello`, always alone.
        greeted = true
        sendAll()
        return
      }
      if (!ready && request.acks) {
        // Count acks until subscribed; catch-up data is not measured.
        const decoded = decode(data, binary)
        for (const m of Array.isArray(decoded) ? decoded : [decoded]) {
          const message = m as Record<string, unknown>
          if (message.type === "ack") acks++
          if (message.type === "error") errors.push(JSON.stringify(message))
        }
        if (acks >= request.acks) done()
        return
      }
      if (request.mode === "stall") return
      if (first === 0) first = received
      last = received
      frames++
      bytes += data.length
      deltas += countOf(data, needle)
      if (data.indexOf(SNAPSHOT) !== -1) snapshots += countOf(data, SNAPSHOT)
      if (request.mode === "latency") stamps(data, received)
    })
  })


const reset = () => {
  frames = 0
  deltas = 0
  bytes = 0
  first = 0
  last = 0
  snapshots = 0
  latencies = []
  errors.length = 0
}

const reply = (message: unknown) => process.send!(message)

process.on("message", async (request: { type: string } & Record<string, unknown>) => {
  switch (request.type) {
    case "connect": {
      const r = request as unknown as ConnectRequest
      try {
        // Connect in small waves: hundreds of simultaneous upgrades only measure the accept queue.
        for (let i = 0; i < r.count; i += 25) {
          const wave = await Promise.all(Array.from({ length: Math.min(25, r.count - i) }, () => connectOne(r)))
          sockets.push(...wave)
        }
        reset()
        reply({ type: "connected", count: sockets.length })
      } catch (e) {
        reply({ type: "failed", error: String(e) })
      }
      return
    }
    case "stall":
      // Stop reading: the kernel buffers fill and the server sees a client that does not drain.
      for (const ws of sockets) ws.pause()
      reply({ type: "stalled" })
      return
    case "reset":
      reset()
      reply({ type: "reset" })
      return
    case "report": {
      const report: ClientReport = { frames, deltas, bytes, first, last, latency: percentiles(latencies), snapshots, errors: [...errors] }
      reply({ type: "report", report })
      return
    }
    case "close":
      for (const ws of sockets) ws.terminate()
      sockets.length = 0
      reply({ type: "closed" })
      return
    case "exit":
      process.exit(0)
  }
})
reply({ type: "up" })
