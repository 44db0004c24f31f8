/**
 * Child process: a bare `ws` server, the physical ceiling OrbitDock's fan-out is compared with. It
 * sends realistic `message_appended` messages (~500 bytes), one per frame or coalesced in arrays,
 * encoded once per frame and written to every client, as fast as the clients drain (fan-out) or at a
 * fixed rate per client with the send time embedded (latency floor).
 */
import { Packr } from "msgpackr"
import { WebSocketServer, type WebSocket } from "ws"
import { content, isoAt } from "../lib/events.js"
import { nowMs } from "../lib/stats.js"

const packr = new Packr({ useRecords: false })
const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false })
const reply = (m: unknown) => process.send!(m)
const HIGH_WATER = 1 << 20

let revision = 0
const message = (text: string) => {
  revision++
  return {
    type: "message_appended",
    session_id: "bench-0001",
    revision,
    occurred_at: isoAt(revision),
    message: { id: `m-${revision}`, role: "assistant", content: text, created_at: isoAt(revision) }
  }
}
const encode = (value: unknown, encoding: string): Buffer | string =>
  encoding === "msgpack" ? packr.pack(value) : JSON.stringify(value)

const clients = (): Array<WebSocket> => [...wss.clients]

/** Sends frames of `perFrame` messages to every client for `durationMs`, never past a client's drain. */
const fanout = (encoding: string, perFrame: number, durationMs: number) =>
  new Promise<{ frames: number }>((resolve) => {
    const all = clients()
    const filler = content("fan-out")
    const end = nowMs() + durationMs
    let frames = 0
    const pump = () => {
      const deadline = nowMs() + 5
      while (nowMs() < deadline) {
        let buffered = 0
        for (const ws of all) buffered = Math.max(buffered, ws.bufferedAmount)
        if (buffered > HIGH_WATER) break
        const batch = perFrame === 1 ? message(filler) : Array.from({ length: perFrame }, () => message(filler))
        const data = encode(batch, encoding)
        for (const ws of all) ws.send(data, { binary: encoding === "msgpack" })
        frames++
      }
      if (nowMs() < end) setImmediate(pump)
      else resolve({ frames })
    }
    pump()
  })

/**
 * Sends each client `rate` messages/s for `durationMs`, each stamped with its send time: one frame
 * per message, or (`coalesce`) the messages due at each tick in one frame, encoded once and written
 * to every client.
 */
const latency = (rate: number, durationMs: number, coalesce: boolean) =>
  new Promise<{ sent: number }>((resolve) => {
    const all = clients()
    const filler = content("latency")
    const start = nowMs()
    let sent = 0
    const tick = () => {
      const elapsed = nowMs() - start
      const due = Math.min(Math.floor((elapsed / 1000) * rate), Math.floor((durationMs / 1000) * rate))
      if (coalesce) {
        if (sent < due) {
          const batch: Array<unknown> = []
          for (; sent < due; sent++) batch.push(message(`t=${nowMs()}|${filler}`))
          const data = JSON.stringify(batch)
          for (const ws of all) ws.send(data)
        }
      } else {
        for (; sent < due; sent++) for (const ws of all) ws.send(JSON.stringify(message(`t=${nowMs()}|${filler}`)))
      }
      if (elapsed < durationMs) setTimeout(tick, 1)
      else resolve({ sent })
    }
    tick()
  })

process.on("message", async (request: Record<string, unknown>) => {
  switch (request.type) {
    case "fanout":
      reply({ type: "fanout-done", ...(await fanout(request.encoding as string, request.perFrame as number, request.durationMs as number)) })
      return
    case "latency":
      reply({ type: "latency-done", ...(await latency(request.rate as number, request.durationMs as number, request.coalesce === true)) })
      return
    case "exit":
      wss.close()
      process.exit(0)
  }
})
wss.on("listening", () => {
  const address = wss.address()
  reply({ type: "up", port: typeof address === "object" && address !== null ? address.port : 0 })
})
