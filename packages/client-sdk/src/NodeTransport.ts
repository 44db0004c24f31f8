/**
 * The Node transport, over the `ws` package: sends request headers (the `Authorization` token) and
 * opens Unix sockets (`ws+unix:///path/server.sock:/ws`). Imported only by the Node entry, so
 * browser bundles never see `ws`.
 */
import WebSocket from "ws"
import type { Transport, WebSocketLike } from "./Transport.js"

export interface NodeTransportOptions {
  /** Largest frame accepted from the server (bytes, default 64 MiB). */
  readonly maxPayload?: number
}

/** A `ws`-based transport. */
export const make = (options: NodeTransportOptions = {}): Transport => ({
  name: "ws",
  supportsHeaders: true,
  supportsUnixSockets: true,
  open: ({ url, protocols, headers }) => {
    const ws = new WebSocket(url, [...protocols], {
      headers: { ...headers },
      maxPayload: options.maxPayload ?? 64 * 1024 * 1024,
      perMessageDeflate: false
    })
    // A `ws` socket is an EventEmitter: an "error" with no listener (e.g. the one `close()` or
    // `terminate()` of a connecting socket emits on a later tick) would end the host process, so one
    // listener stays for the socket's whole life; `onerror` is the client's, and may be swapped.
    ws.on("error", () => {})
    // `ws` reports pongs as an event; the client reads them as `onpong` (its `ping` and `terminate` are ws's own).
    const socket = ws as unknown as WebSocketLike
    socket.onpong = null
    ws.on("pong", () => socket.onpong?.())
    return socket
  }
})

/** The transport the Node entry registers. */
export const transport: Transport = make()
