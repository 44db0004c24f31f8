/**
 * One socket's life, from open to close: opens it with the transport, feeds its frames in order to
 * the core, gives up when no frame (the `hello`) arrives in time, and drops it when it goes silent
 * (no frame and no pong within `heartbeatMs` of a ping). Callbacks from the socket only
 * enqueue; all handling happens in the one fiber that drains the queue, so frames never interleave.
 * Does not own reconnects (the core's loop) or what frames mean.
 */
import { Duration, Effect, Queue } from "effect"
import * as Codec from "../Codec.js"
import type { Transport, WebSocketLike } from "../Transport.js"
import type { Notice } from "./notifier.js"

export interface SocketOptions {
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
  readonly encoding: Codec.Encoding
  readonly transport: Transport
  readonly connectTimeoutMs: number
  /** Ping period and deadline (ms; 0: no pings); used when the socket can ping (`WebSocketLike.ping`). */
  readonly heartbeatMs: number
}

export interface SocketHandlers {
  /** The socket is created (not necessarily open yet); `abort` ends it at once, without a close handshake. */
  readonly opened: (socket: WebSocketLike, abort: (reason: string) => void) => void
  readonly frame: (data: unknown) => Effect.Effect<void>
  readonly notice: (notice: Notice) => void
}

const CONNECTING = 0
const OPEN = 1
const ignore = (): void => {}

type Inbound = { readonly _tag: "Frame"; readonly data: unknown } | { readonly _tag: "Closed"; readonly reason: string }

/** Runs one socket until it closes; false when it closed (or failed) before its first frame. */
export const run = (options: SocketOptions, handlers: SocketHandlers): Effect.Effect<boolean> =>
  Effect.gen(function* () {
    const inbox = yield* Queue.unbounded<Inbound>()
    let socket: WebSocketLike
    try {
      socket = options.transport.open({
        url: options.url,
        protocols: [Codec.subprotocol(options.encoding)],
        headers: options.headers
      })
    } catch (cause) {
      handlers.notice({ _tag: "ConnectFailed", detail: String(cause) })
      return false
    }
    socket.binaryType = "arraybuffer"
    /** Whether a frame or a pong arrived since the last ping. */
    let heard = true
    /** Dropped for silence: terminated, not closed (a close handshake would wait for the silent peer). */
    let silent = false
    socket.onmessage = (event) => {
      heard = true
      inbox.unsafeOffer({ _tag: "Frame", data: event.data })
    }
    socket.onpong = () => {
      heard = true
    }
    socket.onclose = (event) => inbox.unsafeOffer({ _tag: "Closed", reason: `${event.code} ${event.reason}`.trim() })
    socket.onerror = (event) => inbox.unsafeOffer({ _tag: "Closed", reason: errorText(event) })
    handlers.opened(socket, (reason) => inbox.unsafeOffer({ _tag: "Closed", reason }))
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        socket.onmessage = socket.onclose = socket.onpong = null
        // An error listener stays until the very end: closing a socket that is still connecting
        // makes `ws` emit an "error" on a later tick, and an EventEmitter's error without a
        // listener ends the host process.
        socket.onerror = ignore
        try {
          // While connecting there is no close handshake to wait for; a silent peer never answers one.
          if ((silent || socket.readyState === CONNECTING) && socket.terminate !== undefined) socket.terminate()
          else if (socket.readyState === CONNECTING || socket.readyState === OPEN) socket.close(1000)
        } catch {
          // Closing a socket that never opened may throw in some environments.
        }
      })
    )
    const first = yield* Queue.take(inbox).pipe(Effect.timeout(Duration.millis(options.connectTimeoutMs)), Effect.option)
    if (first._tag === "None") {
      handlers.notice({ _tag: "ConnectFailed", detail: "no hello before the connect timeout" })
      return false
    }
    if (first.value._tag === "Closed") {
      handlers.notice({ _tag: "ConnectFailed", detail: first.value.reason })
      return false
    }
    yield* handlers.frame(first.value.data)
    if (options.heartbeatMs > 0 && socket.ping !== undefined) {
      const ping = () => {
        heard = false
        try {
          socket.ping!()
        } catch {
          // Not open any more: its close event is on the way.
        }
      }
      const check = Effect.gen(function* () {
        if (heard) return ping()
        // A pong may be waiting to be read if this process was busy: let pending I/O run first.
        yield* Effect.async<void>((resume) => void afterPendingIo(() => resume(Effect.void)))
        if (heard) return ping()
        silent = true
        handlers.notice({ _tag: "Unresponsive", detail: `no frame and no pong within ${options.heartbeatMs} ms of a ping` })
        inbox.unsafeOffer({ _tag: "Closed", reason: "the server stopped answering pings" })
      })
      ping()
      yield* check.pipe(
        Effect.delay(Duration.millis(options.heartbeatMs)),
        Effect.repeat({ while: () => !silent }),
        Effect.forkScoped
      )
    }
    while (true) {
      const next = yield* Queue.take(inbox)
      if (next._tag === "Closed") return true
      yield* handlers.frame(next.data)
    }
  }).pipe(Effect.scoped)

/** Node's `setImmediate` runs after the I/O callbacks already due; elsewhere a zero timeout is the closest. */
const afterPendingIo = (f: () => void): void => {
  const immediate = (globalThis as { setImmediate?: (f: () => void) => unknown }).setImmediate
  if (immediate !== undefined) immediate(f)
  else setTimeout(f, 0)
}

const errorText = (event: unknown): string => {
  const error = (event as { error?: unknown; message?: unknown } | null) ?? {}
  return String(error.message ?? error.error ?? "socket error")
}
