/**
 * One WebSocket connection's send side: a bounded queue of server messages and the writer that
 * turns it into frames. Owns coalescing (one message alone, several as an array of at most 256
 * messages and `MAX_COALESCED_BYTES`), flow control (nothing new is written while the socket still
 * holds unsent bytes), and overflow (a client that stops reading loses its queued session/list
 * messages, keeps its acks/errors, and is resynced once it drains). Does not know about
 * subscriptions: the resync itself is the `onResync` callback's job.
 *
 * Everything here is plain synchronous code: `pushData` is called by session actors and must never
 * block or throw, and the fan-out to many clients is the server's hot path. Sending is total: the
 * writer runs in microtasks and socket callbacks, where a throw would end the process, so a message
 * that cannot be encoded (or any other failure while writing) closes this outbox and is reported
 * through `onBroken`; the connection is then closed, the other connections are not affected.
 *
 * When frames go out: a push schedules one flush as a microtask. Effect's scheduler runs fibers in
 * rounds of microtasks (and yields to the event loop only every 2048 rounds), so the flush runs
 * right after the round that pushed: a single event leaves at once, and everything one round pushes
 * (e.g. an actor folding a chunk of 256 events) leaves together, one frame per client. Anything
 * that waits for `process.nextTick` or I/O instead (a write's callback, `setImmediate`) can be held
 * back for seconds while fibers stay busy; a `/burst` starved acks that way. So a frame is written
 * whenever the socket holds no unsent bytes (`bufferedAmount`, exact and synchronous), and only when
 * it does (the client is not reading) does the writer wait, for a write's or a ping's callback or
 * the transport's periodic `kick`.
 */
import { MAX_COALESCED, MAX_COALESCED_BYTES, type ServerMessage } from "@orbitdock/domain"
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
  /** Called once when sending failed (e.g. a message could not be encoded); the outbox is closed. */
  readonly onBroken: (reason: string) => void
}

/** Acks, errors and hello are never dropped; everything else can be rebuilt from a snapshot. */
const isControl = (message: ServerMessage): boolean =>
  message.type === "ack" || message.type === "error" || message.type === "hello"

const reason = (error: unknown): string => (error instanceof Error ? error.message : String(error)).slice(0, 200)

// Compact the queue array once this many sent entries sit at its front.
const COMPACT_AT = 4096

export class Outbox {
  private queue: Array<ServerMessage> = []
  private head = 0
  private scheduled = false
  /** When the socket last made progress (a frame written, or a write completed). */
  private progressAt = Date.now()
  private closed = false
  /** Data was dropped: data pushes are ignored until the resync. */
  private stale = false
  private resyncing = false
  /** `whenDrained` callers: each with the most bytes the socket may still hold for it. */
  private drainWaiters: Array<{ readonly maxBuffered: number; readonly resume: () => void }> = []
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

  /** Milliseconds the socket has held unsent bytes without progress (0 when it holds none). */
  stuckFor(now: number): number {
    return this.ws.bufferedAmount > 0 ? now - this.progressAt : 0
  }

  /** Sends a message in a frame of its own right now, ahead of nothing (the connection's `hello`). */
  sendAlone(message: ServerMessage): void {
    if (this.closed || this.size > 0) return this.pushControl(message)
    let frame: Buffer
    try {
      frame = this.codec.encodeOne(message)
    } catch (error) {
      this.broken(`could not encode ${message.type}: ${reason(error)}`)
      return
    }
    this.write(frame, 1)
  }

  /** A session or list message. Never blocks: on overflow the data is dropped and resynced later. */
  pushData(message: ServerMessage): void {
    if (this.stale || this.closed) return
    if (this.size >= this.options.limit) {
      this.overflow()
      return
    }
    this.queue.push(message)
    this.schedule()
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
    this.schedule()
  }

  /** Writes what can be written now (the transport calls it periodically as a safety net). */
  kick(): void {
    if (!this.scheduled) this.flush()
  }

  /**
   * Calls `resume` once nothing is queued and the socket holds at most `maxBuffered` unsent bytes
   * (at once when that is so now), or once the outbox is closed. Returns a function that cancels
   * the wait. What a large catch-up waits for, so that a client's catch-ups are built one after the
   * other as it reads them instead of all being held in memory at once.
   */
  whenDrained(maxBuffered: number, resume: () => void): () => void {
    if (this.isDrained(maxBuffered)) {
      resume()
      return () => {}
    }
    const waiter = { maxBuffered, resume }
    this.drainWaiters.push(waiter)
    return () => {
      this.drainWaiters = this.drainWaiters.filter((w) => w !== waiter)
    }
  }

  /** Stops sending and forgets the queue (the connection is closing). */
  close(): void {
    this.closed = true
    this.queue = []
    this.head = 0
    this.wakeDrainWaiters()
  }

  private isDrained(maxBuffered: number): boolean {
    return this.closed || (this.size === 0 && this.ws.bufferedAmount <= maxBuffered)
  }

  private wakeDrainWaiters(): void {
    if (this.drainWaiters.length === 0) return
    const ready = this.drainWaiters.filter((w) => this.isDrained(w.maxBuffered))
    if (ready.length === 0) return
    this.drainWaiters = this.drainWaiters.filter((w) => !ready.includes(w))
    for (const waiter of ready) waiter.resume()
  }

  private schedule(): void {
    if (this.scheduled) return
    this.scheduled = true
    // Runs after the microtasks already queued, i.e. after the Effect round that pushed this.
    queueMicrotask(this.flushTask)
  }

  private readonly flushTask = (): void => {
    this.scheduled = false
    this.flush()
  }

  private overflow(): void {
    if (this.resyncing) {
      // The catch-up alone does not fit: resyncing again would loop.
      this.options.onHopeless("too many subscriptions to resync")
      this.close()
      return
    }
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
    try {
      this.drain()
    } catch (error) {
      this.broken(this.culprit() ?? `sending failed: ${reason(error)}`)
    }
    this.wakeDrainWaiters()
  }

  /** The first queued message that cannot be encoded, described (only looked for after a failure). */
  private culprit(): string | undefined {
    for (let i = this.head; i < this.queue.length; i++) {
      try {
        this.codec.encodeOne(this.queue[i])
      } catch (error) {
        return `could not encode ${this.queue[i].type}: ${reason(error)}`
      }
    }
    return undefined
  }

  private broken(why: string): void {
    if (this.closed) return
    this.close()
    this.options.onBroken(why)
  }

  private drain(): void {
    while (!this.closed) {
      // Still holding bytes: the kernel is full (the client is not reading); a write callback wakes us.
      if (this.ws.bufferedAmount > 0) return
      const size = this.size
      if (size === 0) {
        if (!this.stale) return
        // Drained after an overflow: the catch-up goes out now, then live messages again.
        this.stale = false
        this.resyncing = true
        try {
          this.options.onResync()
        } finally {
          this.resyncing = false
        }
        continue
      }
      const from = this.head
      const count = this.coalescible(from, size > MAX_COALESCED ? MAX_COALESCED : size)
      const frame = count === 1 ? this.codec.encodeOne(this.queue[from]) : this.codec.encodeMany(this.queue, from, from + count)
      this.head += count
      if (this.head === this.queue.length) {
        this.queue.length = 0
        this.head = 0
      } else if (this.head >= COMPACT_AT) {
        this.queue = this.queue.slice(this.head)
        this.head = 0
      }
      this.write(frame, count)
    }
  }

  /**
   * How many of the `at most` messages from `from` go in one frame: while their encodings (cached
   * on each message, so `encodeMany` reuses them) fit in `MAX_COALESCED_BYTES`; always at least one.
   */
  private coalescible(from: number, atMost: number): number {
    let bytes = this.codec.encodeOne(this.queue[from]).length
    let count = 1
    while (count < atMost) {
      bytes += this.codec.encodeOne(this.queue[from + count]).length
      if (bytes > MAX_COALESCED_BYTES) break
      count++
    }
    return count
  }

  private write(frame: Buffer, count: number): void {
    this.progressAt = Date.now()
    Metrics.framesSent.unsafeUpdate(1, [])
    Metrics.messagesSent.unsafeUpdate(count, [])
    try {
      this.ws.send(frame, this.sendOptions, this.onWritten)
    } catch {
      // Only thrown while CONNECTING, which an accepted connection never is; the close handler cleans up.
      this.closed = true
    }
  }

  // A write completed (or failed because the connection closed).
  private readonly onWritten = (error?: Error): void => {
    if (error !== undefined && error !== null) {
      this.closed = true
      return
    }
    this.progressAt = Date.now()
    if (this.size > 0 || this.stale) this.kick()
    else this.wakeDrainWaiters()
  }
}
