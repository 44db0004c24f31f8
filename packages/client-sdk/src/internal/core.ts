/**
 * The connection core both faces share: one socket at a time, reconnects with backoff, commands
 * matched to their `ack`/`error` by id, and the mirror kept exact across gaps and server restarts.
 * State is plain mutable data owned by this closure; it is only touched in synchronous sections
 * (frame handling, a call's setup), so no two of them interleave. Effects are used for waiting
 * (commands, reconnect delays) and for publishing (SubscriptionRef, PubSub).
 * Does not own decoding (Codec), the mirror rules (Mirror) or the public API (OrbitClient, Client).
 */
import type { Ack, ClientMessage, ServerId, ServerMessage, SessionId, SessionState } from "@orbitdock/domain"
import { ProtocolError } from "@orbitdock/domain"
import { SessionSummaries } from "@orbitdock/projections"
import { Deferred, Duration, Effect, FiberId, PubSub, Queue, Scope, SubscriptionRef } from "effect"
import * as Backoff from "../Backoff.js"
import * as Codec from "../Codec.js"
import { type ClientError, ClosedError, ConnectionLostError, OfflineError, TimeoutError } from "../Errors.js"
import * as Mirror from "../Mirror.js"
import type { Transport, WebSocketLike } from "../Transport.js"
import { type Notice, Notifier } from "./notifier.js"

export interface CoreOptions {
  readonly url: string
  readonly encoding: Codec.Encoding
  readonly headers: Readonly<Record<string, string>>
  readonly transport: Transport
  readonly commandTimeoutMs: number
  /** How long a new socket may take to open and say `hello`. */
  readonly connectTimeoutMs: number
  readonly queueWhileOffline: boolean
  readonly reconnect: Backoff.BackoffOptions | false
}

/** A client message without its `id` (the core assigns it). */
export type Outgoing = ClientMessage extends infer M ? (M extends ClientMessage ? Omit<M, "id"> : never) : never

export interface CallOptions {
  readonly timeoutMs?: number
  /** Queue the command while offline instead of failing with `OfflineError`. */
  readonly queue?: boolean
}

interface Pending {
  readonly operation: string
  readonly message: ClientMessage & { readonly id: string }
  readonly onAck: (ack: Ack) => void
  readonly onError: (error: ClientError) => void
  /** Internal requests (resubscriptions) are redone by the core, not failed to a caller. */
  readonly internal: boolean
}

interface Tracked {
  sync: Mirror.SessionSync
  readonly waiters: Array<Deferred.Deferred<SessionState, ClientError>>
  /** Snapshot refetches in a row; a bound so a misbehaving server cannot make us loop. */
  refetches: number
}

const OPEN = 1
const MAX_REFETCHES = 5

export const make = (options: CoreOptions) =>
  Effect.gen(function* () {
    const mirrorRef = yield* SubscriptionRef.make<Mirror.Mirror>(Mirror.empty)
    const messages = yield* PubSub.unbounded<ServerMessage>()
    const notifier = new Notifier()

    let socket: WebSocketLike | null = null
    let online = false
    let closed = false
    let serverId: ServerId | undefined
    let connection: Mirror.ConnectionState = "connecting"
    let seq = 0
    const pending = new Map<string, Pending>()
    const queued: Array<Pending> = []
    const tracked = new Map<SessionId, Tracked>()
    let listWanted = false
    let list: SessionSummaries.SessionList | undefined
    let listInFlight = false
    const listWaiters: Array<Deferred.Deferred<SessionSummaries.SessionList, ClientError>> = []
    const onlineWaiters: Array<Deferred.Deferred<void, ClientError>> = []
    let mirror: Mirror.Mirror = Mirror.empty
    let dirty = false
    // Callbacks to run once the frame being handled is visible in the mirror (acks resolve after it).
    // Every path that settles a waiter ends with `flush`: frame handling, disconnects, close.
    let afterFlush: Array<() => void> = []

    const settle = <A>(deferred: Deferred.Deferred<A, ClientError>, effect: Effect.Effect<A, ClientError>) => {
      afterFlush.push(() => Deferred.unsafeDone(deferred, effect))
    }

    /** Makes every pending change visible: mirror value, listeners, then waiting callers. */
    const flush = (batch: ReadonlyArray<ServerMessage>) =>
      Effect.gen(function* () {
        if (dirty) {
          dirty = false
          const sessions = new Map<SessionId, SessionState>()
          for (const [id, t] of tracked) if (t.sync.state !== null) sessions.set(id, t.sync.state)
          mirror = { connection, serverId, list, sessions }
          yield* SubscriptionRef.set(mirrorRef, mirror)
          notifier.change(mirror)
        }
        if (batch.length > 0) {
          yield* PubSub.publishAll(messages, batch)
          notifier.messages(batch)
        }
        const callbacks = afterFlush
        afterFlush = []
        for (const callback of callbacks) callback()
      })

    const notice = (n: Notice) => notifier.notice(n)

    // ── Sending ──────────────────────────────────────────────────────────────────────────────────

    const nextId = () => `c${++seq}`

    /** Sends now; false when the socket cannot take it (then nothing left the client). */
    const transmit = (entry: Pending): boolean => {
      if (!online || socket === null || socket.readyState !== OPEN) return false
      try {
        socket.send(Codec.encode(options.encoding, entry.message))
      } catch {
        return false
      }
      pending.set(entry.message.id, entry)
      return true
    }

    const internalRequest = (message: Outgoing, onAck: (ack: Ack) => void, onError: (e: ClientError) => void) => {
      const entry: Pending = {
        operation: message.type,
        message: { ...message, id: nextId() } as Pending["message"],
        onAck,
        onError,
        internal: true
      }
      transmit(entry) // offline: the next `hello` redoes every subscription
    }

    const fireAndForget = (message: Outgoing) => {
      if (online && socket !== null && socket.readyState === OPEN) {
        try {
          socket.send(Codec.encode(options.encoding, message as ClientMessage))
        } catch {
          // The subscription dies with the connection anyway.
        }
      }
    }

    // ── Subscriptions ────────────────────────────────────────────────────────────────────────────

    const subscribeSessionNow = (sessionId: SessionId, since: number | undefined) => {
      const t = tracked.get(sessionId)
      if (t === undefined) return
      t.sync = { ...t.sync, resyncing: true }
      const message = since === undefined
        ? { type: "subscribe_session" as const, session_id: sessionId }
        : { type: "subscribe_session" as const, session_id: sessionId, since_revision: since }
      internalRequest(
        message,
        (ack) => {
          if (tracked.get(sessionId) !== t) return // unsubscribed meanwhile
          const verdict = Mirror.acknowledged(t.sync, ack.revision)
          t.sync = verdict.sync
          if (verdict._tag === "Synced") {
            t.refetches = 0
            for (const w of t.waiters.splice(0)) settle(w, Effect.succeed(verdict.state))
            return
          }
          notice({ _tag: "Gap", session_id: sessionId, have: t.sync.state?.revision, got: ack.revision ?? 0, source: "ack" })
          if (++t.refetches > MAX_REFETCHES) return dropSession(sessionId, new ProtocolError({ code: "internal", message: "the server's catch-up never reached its acked revision" }))
          subscribeSessionNow(sessionId, undefined)
        },
        (error) => {
          if (tracked.get(sessionId) !== t) return
          dropSession(sessionId, error)
        }
      )
    }

    const dropSession = (sessionId: SessionId, error: ClientError) => {
      const t = tracked.get(sessionId)
      if (t === undefined) return
      tracked.delete(sessionId)
      dirty = true
      for (const w of t.waiters.splice(0)) settle(w, Effect.fail(error))
      notice({ _tag: "SessionDropped", session_id: sessionId, error })
    }

    const subscribeListNow = () => {
      listInFlight = true
      internalRequest(
        { type: "subscribe_list" },
        () => {
          listInFlight = false
          if (!listWanted || list === undefined) return
          for (const w of listWaiters.splice(0)) settle(w, Effect.succeed(list))
        },
        (error) => {
          listInFlight = false
          listWanted = false
          list = undefined
          dirty = true
          for (const w of listWaiters.splice(0)) settle(w, Effect.fail(error))
        }
      )
    }

    // ── Receiving ────────────────────────────────────────────────────────────────────────────────

    const onHello = (hello: Extract<ServerMessage, { type: "hello" }>) => {
      const restarted = serverId !== undefined && serverId !== hello.server_id
      if (restarted) {
        // What we mirrored may include activity the old process never made durable: start over.
        for (const t of tracked.values()) t.sync = Mirror.forget(t.sync)
        list = undefined
        notice({ _tag: "ServerRestarted", previous: serverId!, current: hello.server_id })
      }
      serverId = hello.server_id
      online = true
      connection = "online"
      dirty = true
      if (listWanted) subscribeListNow()
      for (const [id, t] of tracked) subscribeSessionNow(id, restarted ? undefined : Mirror.resumeFrom(t.sync))
      for (const entry of queued.splice(0)) {
        if (!transmit(entry)) entry.onError(new OfflineError({ operation: entry.operation }))
      }
      for (const w of onlineWaiters.splice(0)) settle(w, Effect.void)
    }

    const onSessionMessage = (message: Extract<ServerMessage, { session_id: SessionId }>, sessionId: SessionId) => {
      const t = tracked.get(sessionId)
      if (t === undefined) return
      const verdict = Mirror.receive(t.sync, message as Parameters<typeof Mirror.receive>[1])
      if (verdict._tag === "Ignored") return
      t.sync = verdict.sync
      if (verdict._tag === "Applied") {
        dirty = true
        return
      }
      notice({ _tag: "Gap", session_id: sessionId, have: verdict.since, got: Mirror.revisionOf(message as Parameters<typeof Mirror.revisionOf>[0]), source: "message" })
      subscribeSessionNow(sessionId, verdict.since)
    }

    const onMessage = (message: ServerMessage) => {
      switch (message.type) {
        case "hello":
          return onHello(message)
        case "ack": {
          const entry = pending.get(message.id)
          if (entry === undefined) return
          pending.delete(message.id)
          return entry.onAck(message)
        }
        case "error": {
          const entry = typeof message.id === "string" ? pending.get(message.id) : undefined
          if (entry === undefined) return notice({ _tag: "ServerError", code: message.code, message: message.message })
          pending.delete(entry.message.id)
          return entry.onError(new ProtocolError({ code: message.code, message: message.message }))
        }
        case "sessions_list":
        case "session_updated":
          if (listWanted) {
            list = SessionSummaries.applyListMessage(list ?? new Map(), message)
            dirty = true
          }
          return
        case "session_created":
          if (listWanted && list !== undefined) {
            list = SessionSummaries.applyListMessage(list, message)
            dirty = true
          }
          if (message.revision !== undefined) onSessionMessage(message as never, message.session_id ?? message.session.id)
          return
        case "session_ended":
          if (listWanted && list !== undefined) {
            list = SessionSummaries.applyListMessage(list, message)
            dirty = true
          }
          return onSessionMessage(message, message.session_id)
        default:
          return onSessionMessage(message, message.session_id)
      }
    }

    const onFrame = (data: unknown) => {
      const decoded = Codec.decodeFrame(data)
      for (const problem of decoded.problems) notice({ _tag: "DecodeProblem", detail: problem })
      for (const message of decoded.messages) onMessage(message)
      return flush(decoded.messages)
    }

    const onDisconnected = () => {
      const wasOnline = online
      online = false
      socket = null
      listInFlight = false
      connection = closed || options.reconnect === false ? "closed" : "reconnecting"
      dirty = true
      for (const entry of pending.values()) {
        if (entry.internal) continue
        entry.onError(closed ? new ClosedError({ operation: entry.operation }) : new ConnectionLostError({ operation: entry.operation }))
      }
      pending.clear()
      for (const t of tracked.values()) t.sync = { ...t.sync, resyncing: false }
      if (connection === "closed") failEverything()
      if (wasOnline) notice({ _tag: "Disconnected" })
    }

    const failEverything = () => {
      const error = (operation: string) => new ClosedError({ operation })
      for (const entry of queued.splice(0)) entry.onError(error(entry.operation))
      for (const w of onlineWaiters.splice(0)) settle(w, Effect.fail(error("connect")))
      for (const w of listWaiters.splice(0)) settle(w, Effect.fail(error("subscribe_list")))
      for (const t of tracked.values()) for (const w of t.waiters.splice(0)) settle(w, Effect.fail(error("subscribe_session")))
    }

    // ── The connection loop ──────────────────────────────────────────────────────────────────────

    type Inbound = { readonly _tag: "Frame"; readonly data: unknown } | { readonly _tag: "Closed"; readonly reason: string }

    /** One socket from open to close; true when it got as far as `hello`. */
    const runSocket = Effect.gen(function* () {
      const inbox = yield* Queue.unbounded<Inbound>()
      let opened: WebSocketLike
      try {
        opened = options.transport.open({
          url: options.url,
          protocols: [Codec.subprotocol(options.encoding)],
          headers: options.headers
        })
      } catch (cause) {
        notice({ _tag: "ConnectFailed", detail: String(cause) })
        return false
      }
      opened.binaryType = "arraybuffer"
      opened.onmessage = (event) => inbox.unsafeOffer({ _tag: "Frame", data: event.data })
      opened.onclose = (event) => inbox.unsafeOffer({ _tag: "Closed", reason: `${event.code} ${event.reason}`.trim() })
      opened.onerror = (event) => inbox.unsafeOffer({ _tag: "Closed", reason: errorText(event) })
      socket = opened
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          opened.onmessage = opened.onclose = opened.onerror = null
          try {
            opened.close(1000)
          } catch {
            // Closing a socket that never opened may throw in some environments.
          }
        })
      )
      const first = yield* Queue.take(inbox).pipe(Effect.timeout(Duration.millis(options.connectTimeoutMs)), Effect.option)
      if (first._tag === "None") {
        notice({ _tag: "ConnectFailed", detail: "not open before the connect timeout" })
        return false
      }
      if (first.value._tag === "Closed") {
        notice({ _tag: "ConnectFailed", detail: first.value.reason })
        return false
      }
      yield* onFrame(first.value.data)
      while (true) {
        const next = yield* Queue.take(inbox)
        if (next._tag === "Closed") return online
        yield* onFrame(next.data)
      }
    }).pipe(Effect.scoped)

    const loop = Effect.gen(function* () {
      let attempt = 0
      while (!closed) {
        const greeted = yield* runSocket
        onDisconnected()
        yield* flush([])
        if (connection === "closed" || options.reconnect === false) return
        if (greeted) attempt = 0
        yield* Effect.sleep(Duration.millis(Backoff.delay(options.reconnect, attempt++, Math.random())))
      }
    })

    const scope = yield* Effect.scope
    yield* Effect.forkIn(loop, scope)
    yield* Scope.addFinalizer(
      scope,
      Effect.suspend(() => {
        closed = true
        onDisconnected()
        failEverything()
        return flush([])
      })
    )

    // ── Calls ────────────────────────────────────────────────────────────────────────────────────

    /** Awaits a waiter with the call's timeout; `cleanup` forgets the waiter when time runs out. */
    const awaitWithin = <A>(
      deferred: Deferred.Deferred<A, ClientError>,
      operation: string,
      timeoutMs: number,
      onTimeout: () => TimeoutError
    ) =>
      Deferred.await(deferred).pipe(
        Effect.timeout(Duration.millis(timeoutMs)),
        Effect.catchTag("TimeoutException", () => Effect.fail(onTimeout())),
        Effect.withSpan(`OrbitClient.${operation}`)
      )

    const request = (message: Outgoing, call: CallOptions = {}): Effect.Effect<Ack, ClientError> =>
      Effect.suspend(() => {
        const operation = message.type
        if (closed || connection === "closed") return Effect.fail(new ClosedError({ operation }))
        const deferred = Deferred.unsafeMake<Ack, ClientError>(FiberId.none)
        const entry: Pending = {
          operation,
          message: { ...message, id: nextId() } as Pending["message"],
          onAck: (ack) => settle(deferred, Effect.succeed(ack)),
          onError: (error) => settle(deferred, Effect.fail(error)),
          internal: false
        }
        if (!transmit(entry)) {
          if (!(call.queue ?? options.queueWhileOffline)) return Effect.fail(new OfflineError({ operation }))
          queued.push(entry)
        }
        const timeoutMs = call.timeoutMs ?? options.commandTimeoutMs
        return awaitWithin(deferred, operation, timeoutMs, () => {
          const at = queued.indexOf(entry)
          if (at >= 0) queued.splice(at, 1)
          pending.delete(entry.message.id)
          return new TimeoutError({ operation, timeoutMs, sent: at < 0 })
        })
      })

    const subscribeSession = (sessionId: SessionId, call: CallOptions = {}): Effect.Effect<SessionState, ClientError> =>
      Effect.suspend(() => {
        const operation = "subscribe_session"
        if (closed || connection === "closed") return Effect.fail(new ClosedError({ operation }))
        let t = tracked.get(sessionId)
        if (t !== undefined && t.sync.state !== null && !t.sync.resyncing) return Effect.succeed(t.sync.state)
        if (t === undefined) {
          if (!online && !(call.queue ?? options.queueWhileOffline)) return Effect.fail(new OfflineError({ operation }))
          t = { sync: Mirror.unsynced, waiters: [], refetches: 0 }
          tracked.set(sessionId, t)
          if (online) subscribeSessionNow(sessionId, undefined)
        }
        const deferred = Deferred.unsafeMake<SessionState, ClientError>(FiberId.none)
        t.waiters.push(deferred)
        const timeoutMs = call.timeoutMs ?? options.commandTimeoutMs
        const mine = t
        return awaitWithin(deferred, operation, timeoutMs, () => {
          // Give up the subscription this call started, unless it became usable meanwhile.
          if (tracked.get(sessionId) === mine && mine.sync.state === null) {
            tracked.delete(sessionId)
            fireAndForget({ type: "unsubscribe_session", session_id: sessionId })
          }
          return new TimeoutError({ operation, timeoutMs, sent: online })
        })
      })

    const unsubscribeSession = (sessionId: SessionId, call: CallOptions = {}): Effect.Effect<void, ClientError> =>
      Effect.suspend(() => {
        const had = tracked.delete(sessionId)
        if (had) dirty = true
        const local = flush([])
        if (!online) return local
        return Effect.zipRight(local, Effect.asVoid(request({ type: "unsubscribe_session", session_id: sessionId }, call)))
      })

    const subscribeList = (call: CallOptions = {}): Effect.Effect<SessionSummaries.SessionList, ClientError> =>
      Effect.suspend(() => {
        const operation = "subscribe_list"
        if (closed || connection === "closed") return Effect.fail(new ClosedError({ operation }))
        if (listWanted && list !== undefined && !listInFlight) return Effect.succeed(list)
        if (!listWanted) {
          if (!online && !(call.queue ?? options.queueWhileOffline)) return Effect.fail(new OfflineError({ operation }))
          listWanted = true
          if (online) subscribeListNow()
        }
        const deferred = Deferred.unsafeMake<SessionSummaries.SessionList, ClientError>(FiberId.none)
        listWaiters.push(deferred)
        const timeoutMs = call.timeoutMs ?? options.commandTimeoutMs
        return awaitWithin(deferred, operation, timeoutMs, () => new TimeoutError({ operation, timeoutMs, sent: online }))
      })

    const unsubscribeList = (call: CallOptions = {}): Effect.Effect<void, ClientError> =>
      Effect.suspend(() => {
        listWanted = false
        list = undefined
        dirty = true
        const local = flush([])
        if (!online) return local
        return Effect.zipRight(local, Effect.asVoid(request({ type: "unsubscribe_list" }, call)))
      })

    const awaitOnline = (timeoutMs: number): Effect.Effect<void, ClientError> =>
      Effect.suspend(() => {
        if (online) return Effect.void
        if (closed || connection === "closed") return Effect.fail(new ClosedError({ operation: "connect" }))
        const deferred = Deferred.unsafeMake<void, ClientError>(FiberId.none)
        onlineWaiters.push(deferred)
        return awaitWithin(deferred, "connect", timeoutMs, () => new TimeoutError({ operation: "connect", timeoutMs, sent: false }))
      })

    return {
      mirrorRef,
      messages,
      notifier,
      current: () => mirror,
      request,
      subscribeSession,
      unsubscribeSession,
      subscribeList,
      unsubscribeList,
      awaitOnline
    } as const
  })

/** The core a client face is built on. */
export type Core = Effect.Effect.Success<ReturnType<typeof make>>

const errorText = (event: unknown): string => {
  const error = (event as { error?: unknown; message?: unknown } | null) ?? {}
  return String(error.message ?? error.error ?? "socket error")
}
