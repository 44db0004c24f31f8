/**
 * One WebSocket connection's send side: a bounded queue of server messages and the writer that
 * turns it into frames. Owns coalescing (one message alone, several as an array of at most 256),
 * flow control (one frame in flight: the next frame waits for the socket to take the previous one),
 * and overflow (a client that stops reading loses its queued session/list messages, keeps its
 * acks/errors, and is resynced once it drains). Does not know about subscriptions: the resync itself
 * is the `onResync` callback's job.
 *
 * Everything here is plain synchronous code: `pushData` is called by session actors and must never
 * block or throw, and the fan-out to many clients is the server's hot path.
 */
import { MAX_COALESCED, type ServerMessage } from "@orbitdock/domain"
import type { WebSocket } from "ws"
import * as Metrics from "../Metrics.js"
import type { FrameCodec } from "./FrameCodec.js"

export interface OutboxOptions {
  /** Most messages queued before the client counts as fallen behind. */
  readonly limit: number
  /** Called once the socket has drained after an overflow: push the catch-up (list, snapshots). */
  readonly onResync: () => void
  /** Called when the connection cannot be kept (even its acks and errors would not fit). */
  readonly onHopeless: (reason: string) => void
}

/** Acks, errors and hello are never dropped; everything else can be rebuilt from a snapshot. */
const isControl = (message: ServerMessage): boolean =>
  message.type === "ack" || message.type === "error" || message.type === "hello"

// Compact the queue array once this many sent entries sit at its front.
const COMPACT_AT = 4096

export class Outbox {
  private queue: Array<ServerMessage> = []
  private head = 0
  private inFlight = false
  private sendStartedAt = 0
  private closed = false
  /** Data was dropped: data pushes are ignored until the resync. */
  private stale = false
  private readonly sendOptions: { readonly binary: boolean }

  constructor(
    private readonly ws: WebSocket,
    private readonly codec: FrameCodec,
    private readonly options: OutboxOptions
  ) {
    this.sendOptions = { binary: codec.binary }
  }

  /** Messages waiting to be sent. */
  get size(): number {
    return this.queue.length - this.head
  }

  /** Whether the client fell behind and waits for its resync. */
  get isStale(): boolean {
    return this.stale
  }

  /** Milliseconds the frame in flight has been waiting for the socket (0 when none). */
  stuckFor(now: number): number {
    return this.inFlight ? now - this.sendStartedAt : 0
  }

  /** A session or list message. Never blocks: on overflow the data is dropped and resynced later. */
  pushData(message: ServerMessage): void {
    if (this.stale || this.closed) return
    if (this.size >= this.options.limit) {
      this.overflow()
      return
    }
    this.queue.push(message)
    if (!this.inFlight) this.flush()
  }

  /** An ack, error or hello: kept through overflows, in order with the data around it. */
  pushControl(message: ServerMessage): void {
    if (this.closed) return
    if (this.size >= this.options.limit) {
      this.overflow()
      if (this.size >= this.options.limit) {
        this.options.onHopeless("the client does not read its replies")
        return
      }
    }
    this.queue.push(message)
    if (!this.inFlight) this.flush()
  }

  /** Stops sending and forgets the queue (the connection is closing). */
  close(): void {
    this.closed = true
    this.queue = []
    this.head = 0
  }

  private overflow(): void {
    const kept: Array<ServerMessage> = []
    for (let i = this.head; i < this.queue.length; i++) {
      const message = this.queue[i]
      if (isControl(message)) kept.push(message)
    }
    this.queue = kept
    this.head = 0
    this.stale = true
  }

  private flush(): void {
    if (this.inFlight || this.closed) return
    const size = this.size
    if (size === 0) {
      if (this.stale) {
        // Drained after an overflow: the catch-up goes out now, then live messages again.
        this.stale = false
        this.options.onResync()
      }
      return
    }
    const count = size > MAX_COALESCED ? MAX_COALESCED : size
    const from = this.head
    const frame = count === 1 ? this.codec.encodeOne(this.queue[from]) : this.codec.encodeMany(this.queue, from, from + count)
    this.head += count
    if (this.head === this.queue.length) {
      this.queue.length = 0
      this.head = 0
    } else if (this.head >= COMPACT_AT) {
      this.queue = this.queue.slice(this.head)
      this.head = 0
    }
    this.inFlight = true
    this.sendStartedAt = Date.now()
    Metrics.framesSent.unsafeUpdate(1, [])
    Metrics.messagesSent.unsafeUpdate(count, [])
    try {
      this.ws.send(frame, this.sendOptions, this.onSent)
    } catch {
      // Only thrown while CONNECTING, which an accepted connection never is; the close handler cleans up.
      this.closed = true
    }
  }

  // The socket took the frame (written to the kernel, or failed because the connection closed).
  private readonly onSent = (error?: Error): void => {
    this.inFlight = false
    if (error !== undefined && error !== null) {
      this.closed = true
      return
    }
    this.flush()
  }
}
