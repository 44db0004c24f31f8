/**
 * One WebSocket connection: hello, client frames (size check, decoding, validation), the client's
 * subscriptions, acks and errors, liveness (ping) and teardown. Client messages are handled in
 * lanes: those about one session (its commands and subscription) one at a time, in order; the list
 * subscription's in a lane of their own; `create_session` and refused frames each on their own.
 * So a command waiting for durability holds up only later messages about its session, acks about
 * one session leave in request order, and the data a command caused (pushed by the sessions
 * service before the command resolves) always precedes its ack.
 *
 * A failure on one connection never reaches another: every error is answered on this connection,
 * and the socket is only ever closed by the client, by a teardown, by the liveness rules, or (1011)
 * when the server could not send what it owed this client.
 *
 * A connection lives in a scope of its own (`open`), within the transport's: its fibers (the
 * message loop and lanes, snapshot reads keyed by session) end when the socket closes or the server
 * stops, and their end unsubscribes everything.
 */
import {
  type ClientMessage,
  type ErrorCode,
  type Hello,
  MAX_FRAME_BYTES,
  ProtocolError,
  type ServerMessage,
  type SessionId,
  type SessionMessage,
  type SessionSnapshot
} from "@orbitdock/domain"
import { Cause, Effect, Exit, type Fiber, FiberMap, FiberSet, Option, Queue, Runtime, Scope } from "effect"
import type { WebSocket } from "ws"
import type { InboxHubMessage } from "../InboxHub.js"
import * as Metrics from "../Metrics.js"
import type { AckFields, Command, ListMessage, SessionSubscriber, SessionsShape } from "../Sessions.js"
import type { RulesApi } from "../rules/RulesApi.js"
import { FeedSlot } from "./FeedSlot.js"
import type { FrameCodec } from "./FrameCodec.js"
import { type Inbound, validate } from "./Inbound.js"
import { Outbox } from "./Outbox.js"

export interface ConnectionDeps {
  readonly sessions: SessionsShape
  readonly hello: Hello
  readonly outboxLimit: number
  /** Most sessions one connection may be subscribed to at once. */
  readonly maxSubscriptions: number
  /** Called once the connection is gone (the transport forgets it). */
  readonly onClosed: (connection: Connection) => void
  /** The paired device whose token opened it (closed when the device is revoked). */
  readonly deviceId?: string
  /** The approval rules (absent: the rule messages are `unsupported`). */
  readonly rules?: RulesApi
}

/** The close code for connections the server gives up on (unresponsive or hopelessly behind). */
export const CLOSE_DROPPED = 4000
/** The close code when the device whose token opened the connection was unpaired: reconnecting is refused (401). */
export const CLOSE_REVOKED = 4001
/** The close code when the server could not send what it owed the client (e.g. a message failed to encode). */
export const CLOSE_INTERNAL = 1011

// Pause reading a client whose unfinished messages (queued or under way) reach this many, resume
// once caught up. This also bounds the connection's lanes and their fibers.
const INBOX_PAUSE_AT = 256
const INBOX_RESUME_AT = 32
/** A subscription's catch-up is built once the socket holds at most this many unsent bytes. */
const CATCH_UP_BUFFERED = 1 << 20

interface SessionSubscription extends SessionSubscriber {
  active: boolean
  /** Messages at or below this revision are already covered by a snapshot the client got. */
  floor: number
  /** While a resync's snapshot is on its way (its pages are read): what arrives meanwhile, sent after it. */
  held: Array<SessionMessage | SessionSnapshot> | null
}

/**
 * The lane a client message is handled in: messages with the same lane are handled one at a time,
 * in order; undefined: on its own, at once (`create_session`, a refused frame).
 */
const laneOf = (item: Inbound): string | undefined => {
  if (!item.ok) return undefined
  const message = item.message
  switch (message.type) {
    case "subscribe_list":
    case "unsubscribe_list":
      return "list"
    case "subscribe_inbox":
    case "unsubscribe_inbox":
      return "inbox"
    case "create_session":
    case "approve_requests":
      return undefined
    case "set_viewing":
      return "viewing"
    case "list_rules":
    case "add_rule":
    case "remove_rule":
    case "simulate_rules":
      return "rules"
    default:
      return `session:${message.session_id}`
  }
}

const isCommand = (message: ClientMessage): message is Command =>
  message.type !== "subscribe_list" &&
  message.type !== "unsubscribe_list" &&
  message.type !== "subscribe_inbox" &&
  message.type !== "unsubscribe_inbox" &&
  message.type !== "set_viewing" &&
  message.type !== "list_rules" &&
  message.type !== "add_rule" &&
  message.type !== "remove_rule" &&
  message.type !== "simulate_rules" &&
  message.type !== "subscribe_session" &&
  message.type !== "unsubscribe_session"

const tooLarge = (message: string) => new ProtocolError({ code: "too_large", message })

let nextConnectionNumber = 0

/** Runs an effect as one of the connection's fibers (interrupted when it closes). */
type RunFork = <A, E>(effect: Effect.Effect<A, E>, options?: Runtime.RunForkOptions) => Fiber.RuntimeFiber<A, E>
/** The same, keyed by session: a session's snapshot read, interrupted when it is unsubscribed. */
type RunForkKeyed = <A, E>(key: SessionId, effect: Effect.Effect<A, E>, options?: Runtime.RunForkOptions) => Fiber.RuntimeFiber<A, E>

/**
 * Serves a WebSocket in `scope`, the connection's own: every fiber it runs (its message loop and
 * lanes, its subscriptions' snapshot reads, logs) lives in it, and closing it ends them all,
 * unsubscribing everything. The socket's close closes the scope.
 */
export const open = (
  scope: Scope.CloseableScope,
  ws: WebSocket,
  codec: FrameCodec,
  deps: ConnectionDeps,
  via: "tcp" | "unix"
): Effect.Effect<Connection> =>
  Effect.gen(function* () {
    const runtime = yield* Effect.runtime<never>()
    const inbox = yield* Queue.unbounded<Inbound>()
    yield* Effect.addFinalizer(() => Queue.shutdown(inbox))
    const run: RunFork = yield* FiberSet.makeRuntime<never>()
    const runKeyed: RunForkKeyed = yield* FiberMap.makeRuntime<never, SessionId>()
    const catchUps = yield* Effect.makeSemaphore(1)
    // Not one of its own fibers: closing the scope interrupts those.
    const close = () => void Runtime.runFork(runtime)(Scope.close(scope, Exit.void))
    return new Connection(ws, codec, deps, via, { inbox, run, runKeyed, catchUps, close })
  }).pipe(Scope.extend(scope))

interface Resources {
  readonly inbox: Queue.Queue<Inbound>
  readonly run: RunFork
  readonly runKeyed: RunForkKeyed
  /** One subscription's catch-up at a time (`CATCH_UP_BUFFERED`). */
  readonly catchUps: Effect.Semaphore
  /** Closes the connection's scope. */
  readonly close: () => void
}

export class Connection {
  readonly id: string
  private readonly outbox: Outbox
  private readonly inbox: Queue.Queue<Inbound>
  /** Client messages received and not finished (queued, in a lane, or under way). */
  private inboxSize = 0
  /** Each lane with messages, its first one under way; a lane is removed once it is empty. */
  private readonly lanes = new Map<string, Array<Inbound>>()
  private paused = false
  private alive = true
  private closed = false
  /** Given up on: closing, waiting for the socket to go. */
  private dropping = false
  private readonly listSlot: FeedSlot<ListMessage>
  private readonly inboxSlot: FeedSlot<InboxHubMessage>
  private readonly subscriptions = new Map<SessionId, SessionSubscription>()

  constructor(
    private readonly ws: WebSocket,
    private readonly codec: FrameCodec,
    private readonly deps: ConnectionDeps,
    readonly via: "tcp" | "unix",
    private readonly resources: Resources
  ) {
    this.id = `c${++nextConnectionNumber}`
    this.inbox = resources.inbox
    this.outbox = new Outbox(ws, codec, {
      limit: deps.outboxLimit,
      onResync: () => this.resync(),
      onHopeless: (reason) => this.drop(reason),
      onBroken: (reason) => this.broken(reason)
    })
    const sessions = deps.sessions
    const send = (message: ListMessage | InboxHubMessage) => this.outbox.pushData(message)
    this.listSlot = new FeedSlot(
      { subscribe: sessions.subscribeList, unsubscribe: sessions.unsubscribeList, now: sessions.listNow },
      send
    )
    this.inboxSlot = new FeedSlot(
      { subscribe: sessions.subscribeInbox, unsubscribe: sessions.unsubscribeInbox, now: sessions.inboxNow },
      send
    )
    // First, and alone in its frame: nothing else is queued yet, so it is sent right away.
    this.outbox.sendAlone(deps.hello)
    Metrics.connections.unsafeModify(1, [])
    ws.on("message", this.onMessage)
    ws.on("pong", this.onAlive)
    ws.on("ping", this.onAlive)
    ws.on("error", (error) => this.log("debug", `socket error: ${error.message}`))
    ws.on("close", () => this.dispose())
    resources.run(this.serve.pipe(Effect.annotateLogs({ connection: this.id, via }), Effect.withLogSpan("connection")))
    this.log("debug", `connected (${codec.subprotocol})`)
  }

  /** Called by the transport on each ping interval: drops a client silent since the previous one. */
  pingTick(): void {
    if (this.closed || this.dropping) return
    if (!this.alive) {
      this.drop("no frame or pong since the previous ping")
      return
    }
    this.alive = false
    try {
      // The ping's bytes count in the socket's buffer too: its completion may be what frees the writer.
      this.ws.ping(undefined, undefined, this.kick)
    } catch {
      // Not open any more; the close handler cleans up.
    }
  }

  /** Called by the transport periodically: drops a client whose socket has not taken a frame for long. */
  checkStuck(now: number, limitMs: number): void {
    if (this.closed || this.dropping) return
    if (this.outbox.stuckFor(now) > limitMs) this.drop(`send buffer stuck for over ${limitMs} ms`)
    // A safety net: bytes written by `ws` itself (pongs) complete without waking the writer.
    else this.outbox.kick()
  }

  private readonly kick = (): void => this.outbox.kick()

  /**
   * Once what the outbox holds is mostly out (`CATCH_UP_BUFFERED`). A subscription's catch-up (a
   * whole session's snapshot: megabytes) waits for the one before it to leave, so that a client
   * subscribing to 200 large sessions at once has about one of them in the server's memory at a
   * time rather than all 200 (bench scenario 6).
   */
  private readonly outboxDrained: Effect.Effect<void> = Effect.async<void>((resume) => {
    const cancel = this.outbox.whenDrained(CATCH_UP_BUFFERED, () => resume(Effect.void))
    return Effect.sync(cancel)
  })

  /** Sends a message that concerns the whole server (`server_status`), in order with acks and errors. */
  notify(message: ServerMessage): void {
    if (!this.closed && !this.dropping) this.outbox.pushControl(message)
  }

  /** Closes the connection with `code` (the server is stopping, or the client is dropped). */
  close(code: number, reason: string): void {
    if (this.ws.readyState === this.ws.CLOSED) return
    try {
      this.ws.close(code, reason)
    } catch {
      // Already closing.
    }
    // A client that does not read will never complete the closing handshake.
    setTimeout(() => this.ws.terminate(), 1000).unref()
  }

  get deviceId(): string | undefined {
    return this.deps.deviceId
  }

  /** Its device was unpaired: nothing more goes out or is handled, and the client learns why. */
  revoked(): void {
    if (this.closed || this.dropping) return
    this.dropping = true
    this.log("info", "closing: its device was unpaired")
    this.outbox.close()
    this.close(CLOSE_REVOKED, "this device was unpaired")
  }

  private drop(reason: string): void {
    if (this.closed || this.dropping) return
    this.dropping = true
    Metrics.subscribersDropped.unsafeUpdate(1, [])
    this.log("warn", `dropping connection: ${reason}`)
    this.outbox.close()
    this.close(CLOSE_DROPPED, reason.slice(0, 120))
  }

  /** Sending failed (the outbox is closed): the client's view can no longer be kept, so it must reconnect. */
  private broken(reason: string): void {
    if (this.closed || this.dropping) return
    this.dropping = true
    this.log("error", `closing the connection: ${reason}`)
    this.close(CLOSE_INTERNAL, "internal error while sending")
  }

  private readonly onAlive = (): void => {
    this.alive = true
  }

  private readonly onMessage = (data: Buffer | ArrayBuffer | Array<Buffer>, isBinary: boolean): void => {
    this.alive = true
    if (this.closed) return
    let item: Inbound
    try {
      item = this.read(data, isBinary)
    } catch (error) {
      // Called by `ws` from the socket's data event: a throw here would end the process.
      this.log("error", `reading a frame failed: ${error instanceof Error ? error.stack : String(error)}`)
      item = { ok: false, code: "internal", message: "internal server error", hasId: false }
    }
    this.inboxSize++
    this.inbox.unsafeOffer(item)
    if (!this.paused && this.inboxSize >= INBOX_PAUSE_AT) {
      this.paused = true
      this.ws.pause()
    }
  }

  private read(data: Buffer | ArrayBuffer | Array<Buffer>, isBinary: boolean): Inbound {
    const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)
    if (bytes.length > MAX_FRAME_BYTES) {
      return { ok: false, code: "too_large", message: `a frame may hold at most ${MAX_FRAME_BYTES} bytes`, hasId: false }
    }
    const decoded = this.codec.decode(bytes, isBinary)
    return decoded.ok ? validate(decoded.value) : { ok: false, code: "invalid_message", message: decoded.reason, hasId: false }
  }

  // ── The connection's fiber: client messages, each to its lane ──────────────────────────────

  private get serve(): Effect.Effect<void> {
    const self = this
    return Effect.gen(function* () {
      // The lanes' fibers: interrupted with the connection's.
      const fork = yield* FiberSet.runtime(yield* FiberSet.make<void, never>())<never>()
      while (true) {
        const item = yield* Queue.take(self.inbox)
        const key = laneOf(item)
        if (key === undefined) {
          fork(self.finished(self.handle(item)))
          continue
        }
        const lane = self.lanes.get(key)
        if (lane !== undefined) {
          lane.push(item)
          continue
        }
        self.lanes.set(key, [item])
        fork(self.drain(key))
      }
    }).pipe(Effect.scoped, Effect.ensuring(Effect.suspend(() => self.unsubscribeAll())))
  }

  /** Handles a lane's messages in order; the lane stays registered until it is empty. */
  private drain(key: string): Effect.Effect<void> {
    const self = this
    return Effect.gen(function* () {
      const lane = self.lanes.get(key)!
      while (lane.length > 0) {
        yield* self.finished(self.handle(lane[0]!))
        lane.shift()
      }
      self.lanes.delete(key)
    })
  }

  /** `handle`, then one message less in the inbox (reading resumes once caught up). */
  private finished(handling: Effect.Effect<void>): Effect.Effect<void> {
    return Effect.ensuring(
      handling,
      Effect.sync(() => {
        this.inboxSize--
        if (this.paused && this.inboxSize <= INBOX_RESUME_AT) {
          this.paused = false
          this.ws.resume()
        }
      })
    )
  }

  private handle(item: Inbound): Effect.Effect<void> {
    if (!item.ok) {
      return this.fail(item.hasId, item.id, item.code, item.message)
    }
    const message = item.message
    // Suspended: a throw while building the effect is a defect answered `internal`, not the fiber's end.
    return Effect.suspend(() => this.execute(message)).pipe(
      Effect.matchCauseEffect({
        onSuccess: (fields) => {
          if (message.id !== undefined) this.outbox.pushControl({ type: "ack", id: message.id, ...fields })
          return Effect.void
        },
        onFailure: (cause) => {
          const failure = Cause.failureOption(cause)
          if (failure._tag === "Some") {
            return this.fail(message.id !== undefined, message.id, failure.value.code, failure.value.message)
          }
          if (Cause.isInterruptedOnly(cause)) return Effect.interrupt
          return Effect.logError(`${message.type} failed`, cause).pipe(
            Effect.zipRight(this.fail(message.id !== undefined, message.id, "internal", "internal server error"))
          )
        }
      })
    )
  }

  private fail(hasId: boolean, id: string | null | undefined, code: ErrorCode, message: string): Effect.Effect<void> {
    const error: ServerMessage = hasId ? { type: "error", id: id ?? null, code, message } : { type: "error", code, message }
    this.outbox.pushControl(error)
    Metrics.clientErrors.unsafeUpdate(1, [])
    return Effect.logDebug(`refused: ${code}: ${message}`)
  }

  private execute(message: ClientMessage): Effect.Effect<AckFields, ProtocolError> {
    const sessions = this.deps.sessions
    switch (message.type) {
      case "subscribe_list":
        return this.listSlot.subscribe().pipe(Effect.as({}))
      case "unsubscribe_list":
        return this.listSlot.remove().pipe(Effect.as({}))
      case "subscribe_inbox":
        return this.inboxSlot.subscribe().pipe(Effect.as({}))
      case "unsubscribe_inbox":
        return this.inboxSlot.remove().pipe(Effect.as({}))
      case "list_rules":
      case "add_rule":
      case "remove_rule":
      case "simulate_rules": {
        const rules = this.deps.rules
        if (rules === undefined) return Effect.fail(new ProtocolError({ code: "unsupported", message: "this server has no approval rules" }))
        return message.type === "list_rules"
          ? rules.list(message.at).pipe(Effect.map((list) => ({ rules: list })))
          : message.type === "add_rule"
            ? rules.add(message.rule).pipe(Effect.map((rule) => ({ rule })))
            : message.type === "remove_rule"
              ? rules.remove(message.rule_id).pipe(Effect.map((rule) => ({ rule })))
              : rules.simulate(message).pipe(Effect.map((report) => ({ report })))
      }
      case "set_viewing":
        return Effect.sync(() => {
          sessions.setViewing(this, message.session_ids)
          return {}
        })
      case "subscribe_session":
        return Effect.suspend(() => {
          const sessionId = message.session_id
          const limit = this.deps.maxSubscriptions
          if (this.subscriptions.size >= limit && !this.subscriptions.has(sessionId)) {
            return Effect.fail(tooLarge(`a connection may subscribe to at most ${limit} sessions at once; unsubscribe from some first`))
          }
          const subscription: SessionSubscription = {
            active: true,
            floor: 0,
            held: null,
            push: (m: SessionMessage | SessionSnapshot) => this.pushSession(subscription, m)
          }
          return this.removeSession(sessionId).pipe(
            Effect.zipRight(
              Effect.suspend(() => {
                // Registered before the catch-up so that a resync during it covers this session too.
                this.subscriptions.set(sessionId, subscription)
                Metrics.subscribers.unsafeModify(1, [])
                return sessions.subscribe(sessionId, subscription, message.since_revision)
              })
            ),
            Effect.tapError(() => Effect.sync(() => this.forgetSession(sessionId, subscription))),
            Effect.map(({ revision }) => ({ session_id: sessionId, revision })),
            (subscribe) => Effect.zipRight(this.outboxDrained, subscribe),
            this.resources.catchUps.withPermits(1)
          )
        })
      case "unsubscribe_session":
        return this.removeSession(message.session_id).pipe(Effect.as({}))
      default:
        return isCommand(message) ? sessions.execute(message) : Effect.succeed({})
    }
  }

  private pushSession(subscription: SessionSubscription, message: SessionMessage | SessionSnapshot): void {
    if (!subscription.active) return
    if (subscription.held !== null) {
      subscription.held.push(message)
      return
    }
    if (message.type === "session_snapshot") {
      // An older snapshot than one the client already has (a subscription's, held during a resync).
      if (message.revision < subscription.floor) return
      subscription.floor = message.revision
    } else if (message.revision !== undefined && message.revision <= subscription.floor) {
      return // already in a snapshot this client got
    }
    this.outbox.pushData(message)
  }

  /** After an overflow: the current list and a snapshot of every subscribed session, then live again. */
  private resync(): void {
    for (const subscription of this.subscriptions.values()) {
      if (subscription.held !== null) {
        // The last catch-up has not even gone out, and the client fell behind again: resyncing
        // again would loop (the outbox's own guard sees only what is pushed while it resyncs).
        this.drop("too many subscriptions to resync")
        return
      }
    }
    let count = 0
    if (this.listSlot.resend()) count++
    if (this.inboxSlot.resend()) count++
    for (const [sessionId, subscription] of this.subscriptions) {
      subscription.held = []
      count++
      let snapshot: Option.Option<SessionSnapshot> = Option.none()
      // Whatever happens to the read, what was held goes out: the snapshot's floor drops what it covers.
      const release = Effect.sync(() => {
        const held = subscription.held ?? []
        subscription.held = null
        if (Option.isSome(snapshot)) this.pushSession(subscription, snapshot.value)
        for (const message of held) this.pushSession(subscription, message)
      })
      // At once, not in a later microtask: a snapshot with nothing to read from the log goes out
      // while the outbox is resyncing, so its guard against a catch-up that cannot fit still holds.
      this.resources.runKeyed(
        sessionId,
        this.deps.sessions.snapshot(sessionId).pipe(
          Effect.map((taken) => {
            snapshot = taken
          }),
          Effect.ensuring(release)
        ),
        { immediate: true }
      )
    }
    Metrics.subscribersResynced.unsafeUpdate(count, [])
    this.log("info", `resynced ${count} subscription(s) after falling behind`)
  }

  private forgetSession(sessionId: SessionId, subscription: SessionSubscription): void {
    subscription.active = false
    if (this.subscriptions.get(sessionId) === subscription) {
      this.subscriptions.delete(sessionId)
      Metrics.subscribers.unsafeModify(-1, [])
    }
  }

  private removeSession(sessionId: SessionId): Effect.Effect<void> {
    return Effect.suspend(() => {
      const subscription = this.subscriptions.get(sessionId)
      if (subscription === undefined) return Effect.void
      this.forgetSession(sessionId, subscription)
      return this.deps.sessions.unsubscribe(sessionId, subscription)
    })
  }

  private unsubscribeAll(): Effect.Effect<void> {
    return Effect.suspend(() =>
      Effect.zipRight(
        Effect.zipRight(this.listSlot.remove(), this.inboxSlot.remove()).pipe(
          Effect.zipRight(Effect.sync(() => this.deps.sessions.setViewing(this, [])))
        ),
        Effect.forEach([...this.subscriptions.keys()], (sessionId) => this.removeSession(sessionId), { discard: true })
      )
    )
  }

  // ── Plumbing ─────────────────────────────────────────────────────────────────────────────────

  private dispose(): void {
    if (this.closed) return
    this.closed = true
    this.outbox.close()
    Metrics.connections.unsafeModify(-1, [])
    // Interrupting the message loop runs its finalizer, which unsubscribes everything.
    this.resources.close()
    this.log("debug", "closed")
    this.deps.onClosed(this)
  }

  private log(level: "debug" | "info" | "warn" | "error", message: string): void {
    const log =
      level === "debug" ? Effect.logDebug : level === "info" ? Effect.logInfo : level === "warn" ? Effect.logWarning : Effect.logError
    this.resources.run(log(message).pipe(Effect.annotateLogs({ connection: this.id, via: this.via })))
  }
}
