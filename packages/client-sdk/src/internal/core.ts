/**
 * The connection core both faces share: one socket at a time, reconnects with backoff, commands
 * matched to their `ack`/`error` by id, offline queueing, and publication of the mirror. State is
 * plain mutable data owned by this closure; it is only touched in synchronous sections (a frame's
 * handling, a call's setup), so no two of them interleave. Effects are used for waiting (commands,
 * reconnect delays) and publishing (SubscriptionRef, PubSub).
 * Does not own decoding (Codec), revision rules (Mirror), subscriptions (subscriptions.ts), the
 * socket's life (socket.ts) or the public API (OrbitClient, Client).
 */
import type { Ack, ClientMessage, ServerId, ServerMessage, SessionId, SessionState } from "@orbitdock/domain"
import { ProtocolError } from "@orbitdock/domain"
import type { Inbox, SessionSummaries } from "@orbitdock/projections"
import { Deferred, Duration, Effect, FiberId, PubSub, Scope, SubscriptionRef } from "effect"
import * as Backoff from "../Backoff.js"
import * as Codec from "../Codec.js"
import { type ClientError, ClosedError, ConnectionLostError, OfflineError, TimeoutError } from "../Errors.js"
import * as Mirror from "../Mirror.js"
import type { Transport, WebSocketLike } from "../Transport.js"
import { Notifier } from "./notifier.js"
import * as Socket from "./socket.js"
import { Subscriptions } from "./subscriptions.js"

export interface CoreOptions {
  readonly url: string
  readonly encoding: Codec.Encoding
  readonly headers: Readonly<Record<string, string>>
  readonly transport: Transport
  readonly commandTimeoutMs: number
  /** How long a new socket may take to open and say `hello`. */
  readonly connectTimeoutMs: number
  /** Ping period and deadline of a socket that can ping (ms; 0: never). */
  readonly heartbeatMs: number
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
  /** Internal requests only: fires when the server leaves it unanswered too long. */
  timer?: ReturnType<typeof setTimeout>
}

const OPEN = 1

export const make = (options: CoreOptions) =>
  Effect.gen(function* () {
    const mirrorRef = yield* SubscriptionRef.make<Mirror.Mirror>(Mirror.empty)
    const messages = yield* PubSub.unbounded<ServerMessage>()
    const notifier = new Notifier()
    const notice = notifier.notice.bind(notifier)

    let socket: WebSocketLike | null = null
    let abort: (reason: string) => void = () => {}
    let online = false
    let closed = false
    let greeted = false
    let serverId: ServerId | undefined
    let connection: Mirror.ConnectionState = "connecting"
    let seq = 0
    const pending = new Map<string, Pending>()
    const queued: Array<Pending> = []
    const onlineWaiters: Array<Deferred.Deferred<void, ClientError>> = []
    let mirror: Mirror.Mirror = Mirror.empty
    let dirty = false
    // Callbacks to run once the frame being handled is visible in the mirror (acks resolve after it).
    // Every path that settles a waiter ends with `flush`: frame handling, disconnects, close, calls.
    let afterFlush: Array<() => void> = []

    const settle = <A>(deferred: Deferred.Deferred<A, ClientError>, effect: Effect.Effect<A, ClientError>) => {
      afterFlush.push(() => Deferred.unsafeDone(deferred, effect))
    }

    /** Makes every pending change visible: mirror value, listeners, messages, then waiting callers. */
    const flush = (batch: ReadonlyArray<ServerMessage>) =>
      Effect.gen(function* () {
        if (dirty) {
          dirty = false
          mirror = {
            connection,
            serverId,
            list: subscriptions.list,
            inbox: subscriptions.inbox,
            sessions: subscriptions.sessions()
          }
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

    // ── Sending ──────────────────────────────────────────────────────────────────────────────────

    const canSend = () => online && socket !== null && socket.readyState === OPEN

    /** Sends now; false when the socket cannot take it (then nothing left the client). */
    const transmit = (entry: Pending): boolean => {
      if (!canSend()) return false
      try {
        socket!.send(Codec.encode(options.encoding, entry.message))
      } catch {
        return false
      }
      pending.set(entry.message.id, entry)
      return true
    }

    const entry = (message: Outgoing, onAck: Pending["onAck"], onError: Pending["onError"], internal: boolean): Pending => ({
      operation: message.type,
      message: { ...message, id: `c${++seq}` } as Pending["message"],
      onAck,
      onError,
      internal
    })

    /**
     * Sends a resubscription. Offline, nothing is sent: the next `hello` redoes every subscription.
     * A server that leaves one unanswered past the command timeout is treated as a dead connection
     * (closed, so the reconnect redoes them all) rather than left to freeze the mirror.
     */
    const internalRequest = (message: Outgoing, onAck: Pending["onAck"], onError: Pending["onError"]) => {
      const sent = entry(message, onAck, onError, true)
      if (!transmit(sent)) return
      const onSocket = socket
      sent.timer = setTimeout(() => {
        if (pending.get(sent.message.id) !== sent || socket !== onSocket) return
        notice({ _tag: "Unresponsive", detail: `no answer to ${sent.operation} within ${options.commandTimeoutMs} ms` })
        abort("the server stopped answering")
      }, options.commandTimeoutMs)
    }

    const answered = (id: string): Pending | undefined => {
      const found = pending.get(id)
      if (found === undefined) return undefined
      pending.delete(id)
      if (found.timer !== undefined) clearTimeout(found.timer)
      return found
    }

    const subscriptions = new Subscriptions({
      request: (message, onAck, onError) => internalRequest(message as Outgoing, onAck, onError),
      settle,
      notice,
      touch: () => {
        dirty = true
      }
    })

    const sendWithoutAnswer = (message: Outgoing) => {
      if (!canSend()) return
      try {
        socket!.send(Codec.encode(options.encoding, message as ClientMessage))
      } catch {
        // The subscription dies with the connection anyway.
      }
    }

    // ── Receiving ────────────────────────────────────────────────────────────────────────────────

    const onHello = (hello: Extract<ServerMessage, { type: "hello" }>) => {
      const restarted = serverId !== undefined && serverId !== hello.server_id
      if (restarted) notice({ _tag: "ServerRestarted", previous: serverId!, current: hello.server_id })
      serverId = hello.server_id
      online = true
      greeted = true
      connection = "online"
      dirty = true
      subscriptions.resubscribeAll(restarted)
      for (const waiting of queued.splice(0)) {
        if (!transmit(waiting)) waiting.onError(new OfflineError({ operation: waiting.operation }))
      }
      for (const w of onlineWaiters.splice(0)) settle(w, Effect.void)
    }

    const onMessage = (message: ServerMessage) => {
      switch (message.type) {
        case "hello":
          return onHello(message)
        case "server_status":
          return notice({ _tag: "ServerStatus", status: message.status, reason: message.reason })
        case "ack":
          return answered(message.id)?.onAck(message)
        case "error": {
          const request = typeof message.id === "string" ? answered(message.id) : undefined
          if (request === undefined) return notice({ _tag: "ServerError", code: message.code, message: message.message })
          return request.onError(new ProtocolError({ code: message.code, message: message.message }))
        }
        case "sessions_list":
        case "session_updated":
          return subscriptions.onListMessage(message)
        case "session_created":
          subscriptions.onListMessage(message)
          // Only a session subscriber replaying from the start sees it with a revision.
          if (message.revision !== undefined) subscriptions.onSessionMessage(message, message.session_id ?? message.session.id)
          return
        case "session_ended":
          subscriptions.onListMessage(message)
          return subscriptions.onSessionMessage(message, message.session_id)
        case "inbox":
        case "inbox_changed":
          return subscriptions.onInboxMessage(message)
        default:
          return subscriptions.onSessionMessage(message, message.session_id)
      }
    }

    const onFrame = (data: unknown) =>
      Effect.suspend(() => {
        const decoded = Codec.decodeFrame(data)
        for (const problem of decoded.problems) notice({ _tag: "DecodeProblem", detail: problem })
        for (const message of decoded.messages) onMessage(message)
        return flush(decoded.messages)
      })

    const onDisconnected = () => {
      const wasOnline = online
      online = false
      socket = null
      connection = closed || options.reconnect === false ? "closed" : "reconnecting"
      dirty = true
      for (const sent of pending.values()) {
        if (sent.timer !== undefined) clearTimeout(sent.timer)
        if (sent.internal) continue
        const operation = sent.operation
        sent.onError(closed ? new ClosedError({ operation }) : new ConnectionLostError({ operation }))
      }
      pending.clear()
      subscriptions.disconnected()
      if (connection === "closed") failEverything()
      if (wasOnline) notice({ _tag: "Disconnected" })
    }

    const failEverything = () => {
      const error = (operation: string) => new ClosedError({ operation })
      for (const waiting of queued.splice(0)) waiting.onError(error(waiting.operation))
      for (const w of onlineWaiters.splice(0)) settle(w, Effect.fail(error("connect")))
      subscriptions.failWaiters(error)
    }

    // ── The connection loop ──────────────────────────────────────────────────────────────────────

    const socketOptions: Socket.SocketOptions = {
      url: options.url,
      headers: options.headers,
      encoding: options.encoding,
      transport: options.transport,
      connectTimeoutMs: options.connectTimeoutMs,
      heartbeatMs: options.heartbeatMs
    }
    const handlers: Socket.SocketHandlers = {
      opened: (opened, abortSocket) => {
        socket = opened
        abort = abortSocket
      },
      frame: onFrame,
      notice
    }

    const loop = Effect.gen(function* () {
      let attempt = 0
      while (!closed) {
        greeted = false
        yield* Socket.run(socketOptions, handlers)
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

    const isClosed = () => closed || connection === "closed"

    /** Awaits a waiter within the call's timeout; `onTimeout` cleans up and names the error. */
    const awaitWithin = <A>(deferred: Deferred.Deferred<A, ClientError>, operation: string, timeoutMs: number, onTimeout: () => TimeoutError) =>
      Deferred.await(deferred).pipe(
        Effect.timeout(Duration.millis(timeoutMs)),
        Effect.catchTag("TimeoutException", () => Effect.fail(onTimeout())),
        Effect.withSpan(`OrbitClient.${operation}`)
      )

    const request = (message: Outgoing, call: CallOptions = {}): Effect.Effect<Ack, ClientError> =>
      Effect.suspend(() => {
        const operation = message.type
        if (isClosed()) return Effect.fail(new ClosedError({ operation }))
        const deferred = Deferred.unsafeMake<Ack, ClientError>(FiberId.none)
        const command = entry(message, (ack) => settle(deferred, Effect.succeed(ack)), (e) => settle(deferred, Effect.fail(e)), false)
        if (!transmit(command)) {
          if (!(call.queue ?? options.queueWhileOffline)) return Effect.fail(new OfflineError({ operation }))
          queued.push(command)
        }
        const timeoutMs = call.timeoutMs ?? options.commandTimeoutMs
        return awaitWithin(deferred, operation, timeoutMs, () => {
          const at = queued.indexOf(command)
          if (at >= 0) queued.splice(at, 1) // never sent, and now never will be
          pending.delete(command.message.id)
          return new TimeoutError({ operation, timeoutMs, sent: at < 0 })
        })
      })

    const subscribeSession = (sessionId: SessionId, call: CallOptions = {}): Effect.Effect<SessionState, ClientError> =>
      Effect.suspend(() => {
        const operation = "subscribe_session"
        if (isClosed()) return Effect.fail(new ClosedError({ operation }))
        const synced = subscriptions.syncedState(sessionId)
        if (synced !== undefined) return Effect.succeed(synced)
        if (!subscriptions.isTracked(sessionId)) {
          if (!online && !(call.queue ?? options.queueWhileOffline)) return Effect.fail(new OfflineError({ operation }))
          subscriptions.track(sessionId, online)
        }
        const deferred = Deferred.unsafeMake<SessionState, ClientError>(FiberId.none)
        subscriptions.addWaiter(sessionId, deferred)
        const timeoutMs = call.timeoutMs ?? options.commandTimeoutMs
        return awaitWithin(deferred, operation, timeoutMs, () => {
          // Give up a subscription that never became usable, so a failed call leaves nothing behind.
          if (subscriptions.neverSynced(sessionId)) {
            subscriptions.untrack(sessionId)
            sendWithoutAnswer({ type: "unsubscribe_session", session_id: sessionId })
          }
          return new TimeoutError({ operation, timeoutMs, sent: online })
        })
      })

    const unsubscribeSession = (sessionId: SessionId, call: CallOptions = {}): Effect.Effect<void, ClientError> =>
      Effect.suspend(() => {
        subscriptions.untrack(sessionId)
        const local = flush([])
        return online ? Effect.zipRight(local, Effect.asVoid(request({ type: "unsubscribe_session", session_id: sessionId }, call))) : local
      })

    /** Subscribes a whole-server feed (the list, the inbox), kept across reconnects; it once received. */
    const subscribeFeed =
      <S>(
        operation: "subscribe_list" | "subscribe_inbox",
        feed: {
          readonly synced: () => S | undefined
          readonly wants: () => boolean
          readonly want: (online: boolean, waiter: Deferred.Deferred<S, ClientError>) => void
        }
      ) =>
      (call: CallOptions = {}): Effect.Effect<S, ClientError> =>
        Effect.suspend(() => {
          if (isClosed()) return Effect.fail(new ClosedError({ operation }))
          const synced = feed.synced()
          if (synced !== undefined) return Effect.succeed(synced)
          if (!feed.wants() && !online && !(call.queue ?? options.queueWhileOffline)) {
            return Effect.fail(new OfflineError({ operation }))
          }
          const deferred = Deferred.unsafeMake<S, ClientError>(FiberId.none)
          feed.want(online, deferred)
          const timeoutMs = call.timeoutMs ?? options.commandTimeoutMs
          return awaitWithin(deferred, operation, timeoutMs, () => new TimeoutError({ operation, timeoutMs, sent: online }))
        })

    const unsubscribeFeed =
      (type: "unsubscribe_list" | "unsubscribe_inbox", unwant: () => void) =>
      (call: CallOptions = {}): Effect.Effect<void, ClientError> =>
        Effect.suspend(() => {
          unwant()
          const local = flush([])
          return online ? Effect.zipRight(local, Effect.asVoid(request({ type }, call))) : local
        })

    const subscribeList = subscribeFeed<SessionSummaries.SessionList>("subscribe_list", {
      synced: () => subscriptions.syncedList(),
      wants: () => subscriptions.wantsList,
      want: (online, waiter) => subscriptions.wantList(online, waiter)
    })
    const unsubscribeList = unsubscribeFeed("unsubscribe_list", () => subscriptions.unwantList())
    const subscribeInbox = subscribeFeed<Inbox.InboxMirror>("subscribe_inbox", {
      synced: () => subscriptions.syncedInbox(),
      wants: () => subscriptions.wantsInbox,
      want: (online, waiter) => subscriptions.wantInbox(online, waiter)
    })
    const unsubscribeInbox = unsubscribeFeed("unsubscribe_inbox", () => subscriptions.unwantInbox())

    const awaitOnline = (timeoutMs: number): Effect.Effect<void, ClientError> =>
      Effect.suspend(() => {
        if (online) return Effect.void
        if (isClosed()) return Effect.fail(new ClosedError({ operation: "connect" }))
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
      subscribeInbox,
      unsubscribeInbox,
      awaitOnline
    } as const
  })

/** The core a client face is built on. */
export type Core = Effect.Effect.Success<ReturnType<typeof make>>
