/**
 * One socket's life, from open to close: opens it with the transport, feeds its frames in order to
 * the core, and gives up when no frame (the `hello`) arrives in time. Callbacks from the socket only
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
}

export interface SocketHandlers {
  /** The socket is created (not necessarily open yet); `abort` ends it at once, without a close handshake. */
  readonly opened: (socket: WebSocketLike, abort: (reason: string) => void) => void
  readonly frame: (data: unknown) => Effect.Effect<void>
  readonly notice: (notice: Notice) => void
}

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
    socket.onmessage = (event) => inbox.unsafeOffer({ _tag: "Frame", data: event.data })
    socket.onclose = (event) => inbox.unsafeOffer({ _tag: "Closed", reason: `${event.code} ${event.reason}`.trim() })
    socket.onerror = (event) => inbox.unsafeOffer({ _tag: "Closed", reason: errorText(event) })
    handlers.opened(socket, (reason) => inbox.unsafeOffer({ _tag: "Closed", reason }))
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        socket.onmessage = socket.onclose = socket.onerror = null
        try {
          socket.close(1000)
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
    while (true) {
      const next = yield* Queue.take(inbox)
      if (next._tag === "Closed") return true
      yield* handlers.frame(next.data)
    }
  }).pipe(Effect.scoped)

const errorText = (event: unknown): string => {
  const error = (event as { error?: unknown; message?: unknown } | null) ?? {}
  return String(error.message ?? error.error ?? "socket error")
}
