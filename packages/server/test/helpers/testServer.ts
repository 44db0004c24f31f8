/**
 * Starts the whole real server (`Layers.server`: SQLite log in a temp data dir, session registry,
 * connectors, HTTP/WebSocket transport on 127.0.0.1 with an ephemeral port and a Unix socket) and
 * gives tests real clients: `connect` (a `ws` client that records every frame and lets a test wait
 * for a message, no sleeps) and `request` (plain `node:http`, over TCP or the Unix socket).
 *
 *   const server = await startTestServer()
 *   const client = await server.connect()
 *   const ack = await client.request({ type: "create_session", provider: "sim", cwd: "/tmp" })
 *   ...
 *   await server.close()
 */
import {
  JSON_SUBPROTOCOL,
  MSGPACK_SUBPROTOCOL,
  type ServerMessage
} from "@orbitdock/domain"
import { Effect, Exit, Layer, Logger, LogLevel, Scope } from "effect"
import * as fs from "node:fs"
import * as http from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import { Unpackr, Packr } from "msgpackr"
import WebSocket from "ws"
import * as Config from "../../src/Config.js"
import type { ServerConfigShape } from "../../src/Config.js"
import { HttpTransport, type HttpTransportShape } from "../../src/http/HttpTransport.js"
import * as Layers from "../../src/Layers.js"
import * as Sim from "../../src/connectors/Sim.js"
import { Sessions, type SessionsShape } from "../../src/Sessions.js"

export interface TestServerOptions extends Layers.ServerOptions {
  /** Overrides of the test config (port 0, temp data dir, socket inside it, no file logging). */
  readonly config?: Partial<ServerConfigShape>
  /** An existing data dir (e.g. to restart a server on the same database). */
  readonly dataDir?: string
  /** Default: warnings and errors only. */
  readonly logLevel?: LogLevel.LogLevel
}

export interface HttpAnswer {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  readonly text: string
  /** The body parsed as JSON (undefined when it is not JSON). */
  readonly body: any
}

export interface RequestOptions {
  readonly method?: string
  /** Headers to send; `host` defaults to `127.0.0.1:<port>`. */
  readonly headers?: Record<string, string>
  readonly body?: string | Buffer
  /** Default "tcp". */
  readonly via?: "tcp" | "unix"
  /** Send `Authorization: Bearer <server token>` (default true over TCP). */
  readonly auth?: boolean
}

export interface ConnectOptions {
  /** "json" (default), "msgpack", or "none" (no subprotocol header: the server uses JSON). */
  readonly protocol?: "json" | "msgpack" | "none"
  readonly via?: "tcp" | "unix"
  /** Send the token as `Authorization: Bearer` (default true over TCP). */
  readonly auth?: boolean
  readonly headers?: Record<string, string>
  /** Extra query string, e.g. `token=…`. */
  readonly query?: string
}

export interface TestClient {
  readonly ws: WebSocket
  /** Every frame as decoded (an object, or an array when the server coalesced). */
  readonly frames: Array<unknown>
  /** Every message, frames flattened, in order. */
  readonly messages: Array<ServerMessage>
  /** Sends a message object (encoded with the connection's subprotocol) or raw bytes/text. */
  readonly send: (message: object | string | Buffer) => void
  /** Waits for the next message matching `predicate` after the last one `next` returned (skipping others). */
  readonly next: (predicate?: (m: ServerMessage) => boolean, timeoutMs?: number) => Promise<ServerMessage>
  /** The first message (of all received, ignoring the `next` cursor) matching `predicate`, waiting for it. */
  readonly waitFor: (predicate: (m: ServerMessage) => boolean, timeoutMs?: number) => Promise<ServerMessage>
  /** Sends a message with a fresh `id` (unless it has one) and waits for its ack or error (the cursor stays). */
  readonly request: (message: object, timeoutMs?: number) => Promise<ServerMessage & { type: "ack" | "error" }>
  /** Resolves with the close code and reason. */
  readonly closed: Promise<{ code: number; reason: string }>
  readonly close: () => Promise<void>
}

export interface TestServer {
  readonly transport: HttpTransportShape
  readonly sessions: SessionsShape
  readonly port: number
  readonly token: string
  readonly socketPath: string
  readonly dataDir: string
  readonly config: ServerConfigShape
  readonly request: (pathAndQuery: string, options?: RequestOptions) => Promise<HttpAnswer>
  readonly connect: (options?: ConnectOptions) => Promise<TestClient>
  /** Closes the server only: open clients see it go (close code 1001). */
  readonly stop: () => Promise<void>
  /** Closes the clients opened with `connect`, then the server (the data dir stays until `cleanup`). */
  readonly close: () => Promise<void>
  /** `close`, then removes the data dir. */
  readonly cleanup: () => Promise<void>
}

const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true })
const packr = new Packr({ useRecords: false })

/** Starts a server; always `await server.cleanup()` (e.g. in `afterEach`). */
export const startTestServer = async (options: TestServerOptions = {}): Promise<TestServer> => {
  const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "orbitdock-test-"))
  const config: ServerConfigShape = {
    ...Config.defaults(dataDir),
    port: 0,
    logLevel: "warn",
    fileLogging: false,
    ...options.config
  }
  // Only the sim unless a test asks for more: the agents' watchers would pick up whatever sessions
  // the machine's own ~/.codex and ~/.claude hold.
  const layer = Layers.server(config, { ...options, connectors: options.connectors ?? [Sim.make] }).pipe(
    Layer.provide(Logger.minimumLogLevel(options.logLevel ?? LogLevel.Warning))
  )
  const scope = Effect.runSync(Scope.make())
  const context = await Effect.runPromise(Layer.buildWithScope(layer, scope)).catch(async (error) => {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    throw error
  })
  const transport = context.unsafeMap.get(HttpTransport.key) as HttpTransportShape
  const sessions = context.unsafeMap.get(Sessions.key) as SessionsShape
  const clients = new Set<TestClient>()
  let closed = false

  const request = (pathAndQuery: string, requestOptions: RequestOptions = {}): Promise<HttpAnswer> =>
    new Promise((resolve, reject) => {
      const via = requestOptions.via ?? "tcp"
      const headers: Record<string, string> = {
        ...(via === "tcp" ? { host: `127.0.0.1:${transport.port}` } : {}),
        ...((requestOptions.auth ?? via === "tcp") ? { authorization: `Bearer ${transport.token}` } : {}),
        ...requestOptions.headers
      }
      const req = http.request(
        {
          ...(via === "tcp" ? { host: "127.0.0.1", port: transport.port } : { socketPath: config.socketPath! }),
          method: requestOptions.method ?? "GET",
          path: pathAndQuery,
          headers,
          agent: false
        },
        (res) => {
          const chunks: Array<Buffer> = []
          res.on("data", (chunk: Buffer) => chunks.push(chunk))
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8")
            let body: unknown = undefined
            try {
              body = text === "" ? undefined : JSON.parse(text)
            } catch {
              body = undefined
            }
            resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body })
          })
          res.on("error", reject)
        }
      )
      req.on("error", reject)
      req.end(requestOptions.body)
    })

  const connect = (connectOptions: ConnectOptions = {}): Promise<TestClient> =>
    new Promise((resolve, reject) => {
      const via = connectOptions.via ?? "tcp"
      const protocol = connectOptions.protocol ?? "json"
      const query = connectOptions.query === undefined ? "" : `?${connectOptions.query}`
      const url = via === "tcp" ? `ws://127.0.0.1:${transport.port}/ws${query}` : `ws+unix://${config.socketPath}:/ws${query}`
      const protocols = protocol === "json" ? [JSON_SUBPROTOCOL] : protocol === "msgpack" ? [MSGPACK_SUBPROTOCOL] : []
      const ws = new WebSocket(url, protocols, {
        headers: {
          ...((connectOptions.auth ?? via === "tcp") ? { authorization: `Bearer ${transport.token}` } : {}),
          ...connectOptions.headers
        },
        maxPayload: 256 * 1024 * 1024
      })
      const client = makeClient(ws, protocol === "msgpack")
      ws.once("open", () => {
        clients.add(client)
        resolve(client)
      })
      ws.once("unexpected-response", (_req, res) => {
        const chunks: Array<Buffer> = []
        res.on("data", (chunk: Buffer) => chunks.push(chunk))
        res.on("end", () => reject(new UpgradeRefused(res.statusCode ?? 0, Buffer.concat(chunks).toString("utf8"))))
      })
      ws.once("error", reject)
    })

  const stop = async () => {
    if (closed) return
    closed = true
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }
  const close = async () => {
    if (!closed) await Promise.all([...clients].map((client) => client.close()))
    await stop()
  }

  return {
    transport,
    sessions,
    port: transport.port,
    token: transport.token,
    socketPath: config.socketPath!,
    dataDir,
    config,
    request,
    connect,
    stop,
    close,
    cleanup: async () => {
      await close()
      if (options.dataDir === undefined) fs.rmSync(dataDir, { recursive: true, force: true })
    }
  }
}

/** A refused WebSocket upgrade, with the HTTP status and body the server answered. */
export class UpgradeRefused extends Error {
  constructor(
    readonly status: number,
    readonly body: string
  ) {
    super(`upgrade refused: ${status} ${body}`)
  }
}

let nextRequestId = 0

/** Wraps a connected (or connecting) `ws` client. */
export const makeClient = (ws: WebSocket, msgpack: boolean): TestClient => {
  const frames: Array<unknown> = []
  const messages: Array<ServerMessage> = []
  let cursor = 0
  const waiters = new Set<() => void>()
  ws.on("message", (data: Buffer, isBinary: boolean) => {
    const value = isBinary ? unpackr.unpack(data) : JSON.parse(data.toString("utf8"))
    frames.push(value)
    if (Array.isArray(value)) messages.push(...value)
    else messages.push(value)
    for (const wake of waiters) wake()
  })
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once("close", (code, reason) => {
      resolve({ code, reason: reason.toString("utf8") })
      for (const wake of waiters) wake()
    })
  )
  ws.on("error", () => {})

  /** Resolves with the index of the first message at or after `from` that matches. */
  const waitIndex = (from: number, predicate: (m: ServerMessage) => boolean, timeoutMs: number) =>
    new Promise<number>((resolve, reject) => {
      let index = from
      const check = () => {
        for (; index < messages.length; index++) {
          if (predicate(messages[index])) {
            cleanup()
            resolve(index)
            return
          }
        }
        if (ws.readyState === WebSocket.CLOSED) {
          cleanup()
          reject(new Error(`connection closed while waiting (after ${messages.length} messages)`))
        }
      }
      const timer = setTimeout(() => {
        cleanup()
        const last = JSON.stringify(messages.slice(-3))
        reject(new Error(`timed out after ${timeoutMs} ms (${messages.length} messages, the last: ${last.length > 600 ? last.slice(0, 600) + "…" : last})`))
      }, timeoutMs)
      const cleanup = () => {
        clearTimeout(timer)
        waiters.delete(check)
      }
      waiters.add(check)
      check()
    })

  const next = async (predicate: (m: ServerMessage) => boolean = () => true, timeoutMs = 5000) => {
    const index = await waitIndex(cursor, predicate, timeoutMs)
    cursor = index + 1
    return messages[index]
  }

  const send = (message: object | string | Buffer) => {
    if (typeof message === "string" || Buffer.isBuffer(message)) ws.send(message)
    else if (msgpack) ws.send(packr.pack(message))
    else ws.send(JSON.stringify(message))
  }

  return {
    ws,
    frames,
    messages,
    send,
    next,
    request: async (message, timeoutMs = 5000) => {
      const withId = "id" in message ? message : { ...message, id: `r${++nextRequestId}` }
      const id = (withId as { id: unknown }).id
      const from = messages.length
      send(withId)
      // Does not move the `next` cursor: data the request caused can still be waited for.
      const index = await waitIndex(
        from,
        (m) => (m.type === "ack" || m.type === "error") && (m as { id?: unknown }).id === id,
        timeoutMs
      )
      return messages[index] as ServerMessage & { type: "ack" | "error" }
    },
    waitFor: async (predicate, timeoutMs = 5000) => messages[await waitIndex(0, predicate, timeoutMs)],
    closed,
    close: async () => {
      if (ws.readyState === WebSocket.CLOSED) return
      ws.close()
      await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 1000))])
      ws.terminate()
    }
  }
}
