/**
 * How the client opens a WebSocket. The core only needs the small subset of the WHATWG WebSocket API
 * that browsers and the Node `ws` package share, so the browser path never imports Node code: the
 * Node entry (`node.ts`) registers a `ws`-based transport that adds headers and Unix sockets.
 * Does not own reconnects or encodings.
 */

/** The part of a WebSocket the client uses (browser `WebSocket` and `ws` both have it). */
export interface WebSocketLike {
  /** The subprotocol the server selected ("" when none). */
  readonly protocol: string
  /** 1 when open (the WHATWG value). */
  readonly readyState: number
  binaryType: string
  send(data: string | Uint8Array): void
  close(code?: number, reason?: string): void
  onopen: ((event: unknown) => void) | null
  onmessage: ((event: { readonly data: unknown }) => void) | null
  onclose: ((event: { readonly code: number; readonly reason: string }) => void) | null
  onerror: ((event: unknown) => void) | null
  /**
   * Optional (the Node transport has them, browsers do not): sends a WebSocket ping, whose pong
   * calls `onpong`. With them the client notices a connection that went silent (a suspended
   * machine, a dead network path), which no close event would report for minutes.
   */
  ping?(): void
  onpong?: (() => void) | null
  /** Optional: drops the connection at once, without a close handshake (which a silent peer never answers). */
  terminate?(): void
}

/** What to open. */
export interface OpenRequest {
  /** `ws://host:port/ws`, `wss://…`, or (Node) `ws+unix:///path/to/server.sock:/ws`. */
  readonly url: string
  readonly protocols: ReadonlyArray<string>
  /** Extra request headers; only transports that can send them (Node) use them. */
  readonly headers: Readonly<Record<string, string>>
}

/** Opens a socket. May throw (a bad URL); failures after that arrive as `onerror`/`onclose`. */
export interface Transport {
  readonly name: string
  /** Whether `headers` reach the server (browsers cannot set headers on a WebSocket). */
  readonly supportsHeaders: boolean
  /** Whether `ws+unix://` URLs work. */
  readonly supportsUnixSockets: boolean
  readonly open: (request: OpenRequest) => WebSocketLike
}

type WebSocketConstructor = new (url: string, protocols?: string | Array<string>) => WebSocketLike

/** The environment's own WebSocket (browsers, Deno, Node ≥ 22); no headers, no Unix sockets. */
export const native = (constructor?: WebSocketConstructor): Transport => ({
  name: "native",
  supportsHeaders: false,
  supportsUnixSockets: false,
  open: ({ url, protocols }) => {
    const Ctor = constructor ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
    if (Ctor === undefined) {
      throw new Error("No WebSocket in this environment: import the Node entry or pass a transport")
    }
    return new Ctor(url, [...protocols])
  }
})

let registered: Transport | undefined

/** Sets the transport used when the options name none (the Node entry registers `ws`). */
export const setDefault = (transport: Transport): void => {
  registered = transport
}

/** The transport the client uses: the given one, else the registered default, else the native one. */
export const resolve = (given?: Transport): Transport => given ?? registered ?? native()
