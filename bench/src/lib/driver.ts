/**
 * A WebSocket client that drives OrbitDock from the bench process: sends commands with ids and
 * times their acks, and follows the session list (to know when turns end). Light on purpose: it
 * decodes every frame, so it is never subscribed to busy sessions.
 */
import WebSocket from "ws"
import { nowMs } from "./stats.js"

export interface Acked {
  readonly type: "ack" | "error"
  readonly id: string
  readonly code?: string
  /** Send → ack, on the machine-wide monotonic clock. */
  readonly ms: number
}

export class Driver {
  private readonly pending = new Map<string, { sent: number; resolve: (a: Acked) => void }>()
  private readonly turnWaiters: Array<{ after: ReadonlyMap<string, number>; resolve: () => void }> = []
  private readonly status = new Map<string, string>()
  /** Per session, how many times it went from `working` back to `waiting`. */
  private readonly turnsEnded = new Map<string, number>()
  private nextId = 0

  private constructor(private readonly ws: WebSocket) {
    ws.on("message", (data: Buffer) => {
      const received = nowMs()
      const decoded = JSON.parse(data.toString("utf8")) as unknown
      for (const m of (Array.isArray(decoded) ? decoded : [decoded]) as Array<Record<string, any>>) {
        if ((m.type === "ack" || m.type === "error") && typeof m.id === "string") {
          const p = this.pending.get(m.id)
          if (p === undefined) continue
          this.pending.delete(m.id)
          p.resolve({ type: m.type, id: m.id, ...(m.code === undefined ? {} : { code: m.code }), ms: received - p.sent })
        } else if (m.type === "sessions_list") {
          for (const s of m.sessions) this.status.set(s.id, s.status)
        } else if (m.type === "session_updated" || m.type === "session_created") {
          const id = m.session.id as string
          if (this.status.get(id) === "working" && m.session.status === "waiting") {
            this.turnsEnded.set(id, (this.turnsEnded.get(id) ?? 0) + 1)
            this.checkTurns()
          }
          this.status.set(id, m.session.status)
        }
      }
    })
  }

  /** Connects (JSON subprotocol) and waits for `hello`. */
  static connect(url: string): Promise<Driver> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, ["orbitdock.v1.json"], { perMessageDeflate: false })
      ws.once("error", reject)
      ws.once("message", () => resolve(new Driver(ws)))
    })
  }

  /** Sends `message` with a fresh id; resolves with its ack or error and how long it took. */
  send(message: { type: string } & Record<string, unknown>): Promise<Acked> {
    const id = `d${++this.nextId}`
    return new Promise((resolve) => {
      this.pending.set(id, { sent: nowMs(), resolve })
      this.ws.send(JSON.stringify({ ...message, id }))
    })
  }

  /**
   * Call before starting turns in `ids`; the promise resolves once each of them has ended a turn
   * since (went from `working` back to `waiting` in the list: needs `subscribe_list` first).
   */
  turnsEnd(ids: ReadonlyArray<string>): Promise<void> {
    const after = new Map(ids.map((id) => [id, this.turnsEnded.get(id) ?? 0]))
    return new Promise((resolve) => {
      this.turnWaiters.push({ after, resolve })
    })
  }

  close(): void {
    this.ws.terminate()
  }

  private checkTurns(): void {
    for (let i = this.turnWaiters.length - 1; i >= 0; i--) {
      const w = this.turnWaiters[i]!
      if ([...w.after].every(([id, n]) => (this.turnsEnded.get(id) ?? 0) > n)) {
        this.turnWaiters.splice(i, 1)
        w.resolve()
      }
    }
  }
}
