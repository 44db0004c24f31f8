/**
 * The server's network face: one node `http` server on TCP and one on the Unix socket, both serving
 * the HTTP routes (`Api.ts`) and WebSocket upgrades at `/ws` (`Socket.ts`, with `ws` directly: the
 * fan-out to clients is the hot path). Owns listening, the access checks before anything else
 * (`Access.ts`; the Unix socket is trusted), the connection caps, the socket file (stale one
 * removed, mode 0600), the liveness sweeps, and closing everything when its scope closes.
 *
 * Plain `node:http` instead of `@effect/platform`'s HttpServer: its upgrade path cannot run our
 * checks before the handshake nor hand us the raw `ws` socket, and every request here is tiny.
 */
import * as crypto from "node:crypto"
import * as fs from "node:fs/promises"
import * as http from "node:http"
import { createRequire } from "node:module"
import * as net from "node:net"
import * as path from "node:path"
import type * as stream from "node:stream"
import { type Health, type Hello, MAX_FRAME_BYTES, PROTOCOL_MINOR, PROTOCOL_VERSION, type ServerId, type ServerStatus } from "@orbitdock/domain"
import { Context, Data, Effect, ExecutionStrategy, Layer, Option, Runtime, Scope, Stream } from "effect"
import { WebSocketServer } from "ws"
import { ServerConfig } from "../Config.js"
import { Connectors } from "../connectors/Connector.js"
import { Devices } from "../devices/Devices.js"
import { RulesApiTag } from "../rules/RulesApi.js"
import { EventLog, type WriterStatus } from "../eventlog/EventLog.js"
import * as Metrics from "../Metrics.js"
import { Sessions } from "../Sessions.js"
import * as Access from "./Access.js"
import * as Api from "./Api.js"
import * as FrameCodec from "./FrameCodec.js"
import * as Prometheus from "./Prometheus.js"
import { refuseUpgrade, sendError } from "./Respond.js"
import { ListeningUrl } from "./ListeningUrl.js"
import { Routes } from "./Routes.js"
import * as Socket from "./Socket.js"
import * as WebPage from "./WebPage.js"

/** The running transport: where it listens and what it tells clients. */
export interface HttpTransportShape {
  /** The bound TCP port (the real one when the config said 0). */
  readonly port: number
  readonly host: string
  /** `http://<host>:<port>` */
  readonly url: string
  readonly socketPath: string | null
  /** New for each process start; sent in `hello` and `/health`. */
  readonly serverId: ServerId
  readonly version: string
  /** The token TCP clients must present. */
  readonly token: string
  /** Open WebSocket connections. */
  readonly connectionCount: () => number
}

export class HttpTransport extends Context.Tag("@orbitdock/server/HttpTransport")<HttpTransport, HttpTransportShape>() {}

export class HttpTransportError extends Data.TaggedError("HttpTransportError")<{
  /** e.g. "HttpTransport.listen:tcp" */
  readonly operation: string
  readonly cause: unknown
}> {
  override get message() {
    return `${this.operation} failed: ${this.cause instanceof Error ? this.cause.message : String(this.cause)}`
  }
}

/** Tuning, mostly for tests; the defaults are PROTOCOL.md's. */
export interface Options {
  /** Ping interval; a client silent for a whole interval is dropped. Default 30 s. */
  readonly pingIntervalMs?: number
  /** A client whose socket has not taken a frame for this long is dropped. Default 60 s. */
  readonly stuckTimeoutMs?: number
  /**
   * Messages queued per connection before it counts as fallen behind. Default 32768: the queue holds
   * references to messages shared by every subscriber, so this bounds a slow client at a few MB,
   * while a burst that a healthy client drains within a moment does not trigger a resync.
   */
  readonly outboxLimit?: number
  /** Most sessions one connection may be subscribed to at once. Default 4096 (well below `outboxLimit`: a resync sends a snapshot per subscription). */
  readonly maxSubscriptions?: number
  /** Default: a random UUID. */
  readonly serverId?: string
  /** Default: the server package's version. */
  readonly version?: string
  /** The built web page (`packages/web/dist`); default `WebPage.defaultRoot()`. */
  readonly webRoot?: string
}

/** The server package's version (from its package.json). */
export const VERSION: string = (() => {
  try {
    return (createRequire(import.meta.url)("../../package.json") as { version: string }).version
  } catch {
    return "0.0.0"
  }
})()

// `ws` closes the connection (1009) on a frame above its maxPayload, so it gets more room than the
// protocol's 1 MiB and our own check answers `too_large` on a connection that stays open; a frame
// larger still is cut off while it arrives, so no connection buffers more than this.
const WS_MAX_PAYLOAD = 2 * MAX_FRAME_BYTES

// Sockets (HTTP and WebSocket together) each listener accepts beyond `maxConnections` WebSockets:
// plain requests (hooks held open for a decision among them) are bounded too; past the total, Node
// closes new sockets at once.
const HTTP_HEADROOM = 256

// A flood of refused connections is logged once per this many milliseconds, with a count.
const REFUSAL_LOG_MS = 10_000

const errnoCode = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && "code" in error ? String((error as { code: unknown }).code) : undefined

/** Whether something answers on a Unix socket path. */
const socketAlive = (socketPath: string): Promise<boolean> =>
  new Promise((resolve) => {
    const probe = net.connect(socketPath)
    probe.once("connect", () => {
      probe.destroy()
      resolve(true)
    })
    probe.once("error", () => resolve(false))
  })

/** Makes room for our socket file: a stale one is removed; a live server or a non-socket is an error. */
const prepareSocketPath = async (socketPath: string): Promise<void> => {
  await fs.mkdir(path.dirname(socketPath), { recursive: true, mode: 0o700 })
  let stat
  try {
    stat = await fs.lstat(socketPath)
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return
    throw error
  }
  if (!stat.isSocket()) throw new Error(`${socketPath} exists and is not a socket`)
  if (await socketAlive(socketPath)) throw new Error(`another server is listening on ${socketPath}`)
  await fs.unlink(socketPath)
}

const listen = (server: http.Server, target: { port: number; host: string } | { path: string }) =>
  new Promise<void>((resolve, reject) => {
    const onError = (error: Error) => reject(error)
    server.once("error", onError)
    const done = () => {
      server.off("error", onError)
      resolve()
    }
    if ("path" in target) {
      // The socket is created 0600 (the umask applies to bind()); the chmod after listening makes
      // sure. Worker threads cannot change the umask: there the 0700 data dir covers the moment.
      let previous: number | undefined
      try {
        previous = process.umask(0o177)
      } catch {
        previous = undefined
      }
      try {
        server.listen(target.path, done)
      } finally {
        if (previous !== undefined) process.umask(previous)
      }
    } else {
      server.listen(target.port, target.host, done)
    }
  })

const closeServer = (server: http.Server) =>
  new Promise<void>((resolve) => {
    if (!server.listening) return resolve()
    server.close(() => resolve())
    server.closeAllConnections()
  })

const make = (options: Options) =>
  Effect.gen(function* () {
    const config = yield* ServerConfig
    const sessions = yield* Sessions
    const connectors = yield* Connectors
    const log = yield* EventLog
    const runtime = yield* Effect.runtime<never>()
    const pingIntervalMs = options.pingIntervalMs ?? 30_000
    const stuckTimeoutMs = options.stuckTimeoutMs ?? 60_000
    const outboxLimit = options.outboxLimit ?? 32_768
    const maxSubscriptions = options.maxSubscriptions ?? 4096
    const maxConnections = config.maxConnections
    const serverId = (options.serverId ?? crypto.randomUUID()) as ServerId
    const version = options.version ?? VERSION
    const startedAt = Date.now()

    yield* Effect.tryPromise({
      try: async () => {
        await fs.mkdir(config.dataDir, { recursive: true, mode: 0o700 })
        const stat = await fs.stat(config.dataDir)
        if ((stat.mode & 0o077) !== 0) await fs.chmod(config.dataDir, 0o700)
      },
      catch: (cause) => new HttpTransportError({ operation: "HttpTransport.dataDir", cause })
    })
    const token = yield* Access.resolveToken(config.token, config.dataDir).pipe(
      Effect.mapError((error) => new HttpTransportError({ operation: error.operation, cause: error.cause }))
    )
    Prometheus.registerAll(Metrics)

    const hello: Hello = { type: "hello", server_id: serverId, version, protocol: PROTOCOL_VERSION, protocol_minor: PROTOCOL_MINOR }
    // The event log's status as of its last change (its stream starts with the current one).
    let persistence: WriterStatus = { status: "ok", reason: null }
    const serverStatus = (): ServerStatus => ({ type: "server_status", ...persistence })
    const health = (): Health => ({
      status: persistence.status,
      ...(persistence.reason === null ? {} : { reason: persistence.reason }),
      version,
      protocol: PROTOCOL_VERSION,
      protocol_minor: PROTOCOL_MINOR,
      server_id: serverId,
      uptime_s: Math.round((Date.now() - startedAt) / 100) / 10
    })
    const routes = [...connectors.values()].flatMap((connector) => connector.routes ?? [])
    const extraRoutes = Option.getOrUndefined(yield* Effect.serviceOption(Routes))
    const api = Api.makeHandler({ sessions, routes, ...(extraRoutes === undefined ? {} : { extraRoutes }), runtime, health })
    const page = WebPage.makeServer(options.webRoot ?? WebPage.defaultRoot())
    const reservedPaths: ReadonlySet<string> = new Set(["/ws", "/health", "/metrics", ...routes.map((route) => route.path)])

    const devices = Option.getOrUndefined(yield* Effect.serviceOption(Devices))
    const rules = Option.getOrUndefined(yield* Effect.serviceOption(RulesApiTag))
    let policy: Access.AccessPolicy = {
      port: config.port,
      token,
      allowOrigins: config.allowOrigins,
      publicHosts: config.publicHosts,
      ...(devices === undefined ? {} : { deviceOf: devices.deviceOf })
    }
    const headOf = (req: http.IncomingMessage): Access.RequestHead => {
      const url = req.url ?? "/"
      const q = url.indexOf("?")
      return {
        method: req.method ?? "GET",
        pathname: q < 0 ? url : url.slice(0, q),
        host: req.headers.host,
        origin: req.headers.origin,
        authorization: req.headers.authorization,
        queryToken: q < 0 ? null : new URLSearchParams(url.slice(q + 1)).get("token")
      }
    }

    // ── WebSockets ──
    const connections = new Set<Socket.Connection>()
    // Each connection lives in a scope of its own, within the transport's: closed when its socket
    // closes, or with the transport.
    const transportScope = yield* Effect.scope
    const wss = new WebSocketServer({
      noServer: true,
      maxPayload: WS_MAX_PAYLOAD,
      perMessageDeflate: false,
      clientTracking: false,
      handleProtocols: (offered) => FrameCodec.negotiate([...offered]) ?? false
    })
    let refused = 0
    let refusalLoggedAt = 0
    const refuseFull = (socket: stream.Duplex) => {
      refused++
      const now = Date.now()
      if (now - refusalLoggedAt >= REFUSAL_LOG_MS) {
        refusalLoggedAt = now
        Runtime.runFork(runtime)(
          Effect.logWarning(`refused ${refused} WebSocket connection(s): ${maxConnections} are open (--max-connections)`)
        )
        refused = 0
      }
      refuseUpgrade(socket, 503, "unavailable", `the server holds its maximum of ${maxConnections} connections; try again later`)
    }
    const upgrade = (via: "tcp" | "unix", req: http.IncomingMessage, socket: stream.Duplex, head: Buffer) => {
      socket.on("error", () => socket.destroy())
      const requestHead = headOf(req)
      let principal: Access.Principal | null = Access.owner
      if (via === "tcp") {
        const verdict = Access.authenticate(requestHead, policy)
        if ("denied" in verdict) return refuseUpgrade(socket, verdict.denied.status, verdict.denied.code, verdict.denied.message)
        principal = verdict.principal
      }
      if (requestHead.pathname !== "/ws") return refuseUpgrade(socket, 404, "not_found", `no WebSocket at ${requestHead.pathname}`)
      if ((req.headers.upgrade ?? "").toLowerCase() !== "websocket") {
        return refuseUpgrade(socket, 400, "invalid_message", "only WebSocket upgrades are served")
      }
      const offered = (req.headers["sec-websocket-protocol"] ?? "")
        .split(",")
        .map((name) => name.trim())
        .filter((name) => name !== "")
      if (FrameCodec.negotiate(offered) === undefined) {
        return refuseUpgrade(socket, 400, "invalid_message", `unsupported subprotocol(s): ${offered.join(", ")}`)
      }
      if (connections.size >= maxConnections) return refuseFull(socket)
      wss.handleUpgrade(req, socket, head, (ws) => {
        const deps: Socket.ConnectionDeps = {
          sessions,
          hello,
          outboxLimit,
          maxSubscriptions,
          onClosed: (closed) => connections.delete(closed),
          ...(rules === undefined ? {} : { rules }),
          ...(principal?._tag === "Device" ? { deviceId: principal.deviceId } : {})
        }
        const connection = Runtime.runSync(runtime)(
          Scope.fork(transportScope, ExecutionStrategy.sequential).pipe(
            Effect.flatMap((scope) => Socket.open(scope, ws, FrameCodec.forSubprotocol(ws.protocol), deps, via))
          )
        )
        connections.add(connection)
        // Right after `hello`: a client connecting while degraded learns it at once.
        if (persistence.status !== "ok") connection.notify(serverStatus())
      })
    }
    // Node's `upgrade` and `request` listeners run in its socket callbacks: a throw there would end
    // the process, so whatever fails is logged and answered on that socket alone.
    const onUpgrade = (via: "tcp" | "unix") => (req: http.IncomingMessage, socket: stream.Duplex, head: Buffer) => {
      try {
        upgrade(via, req, socket, head)
      } catch (error) {
        unexpected("a WebSocket upgrade", error)
        socket.destroy()
      }
    }
    const unexpected = (what: string, error: unknown) =>
      Runtime.runFork(runtime)(Effect.logError(`${what} failed: ${error instanceof Error ? error.stack : String(error)}`))

    // ── HTTP ──
    const onRequest = (via: "tcp" | "unix") => (req: http.IncomingMessage, res: http.ServerResponse) => {
      try {
        request(via, req, res)
      } catch (error) {
        // The path only: a query may hold the token.
        unexpected(`${req.method} ${(req.url ?? "/").split("?")[0]}`, error)
        try {
          if (!res.headersSent) sendError(res, "internal", "internal server error")
          else res.destroy()
        } catch {
          res.destroy()
        }
      }
    }
    const request = (via: "tcp" | "unix", req: http.IncomingMessage, res: http.ServerResponse) => {
      const requestHead = headOf(req)
      const origin = req.headers.origin
      const pageRequest = WebPage.classify(requestHead.method, requestHead.pathname, req.headers.accept, reservedPaths)
      let principal: Access.Principal | null = Access.owner
      if (via === "tcp") {
        const ownCheck = extraRoutes?.get(requestHead.pathname)?.get(requestHead.method)?.tokenFree === true
        const verdict = Access.authenticate(requestHead, policy, { tokenFree: pageRequest._tag !== "none" || ownCheck })
        if ("denied" in verdict) {
          const { denied } = verdict
          res.writeHead(denied.status, { "content-type": "application/json; charset=utf-8" })
          res.end(JSON.stringify({ code: denied.code, message: denied.message }))
          return
        }
        principal = verdict.principal
      }
      if (req.method === "OPTIONS") {
        res.writeHead(204, Access.preflightHeaders(origin))
        res.end()
        return
      }
      if (pageRequest._tag !== "none") {
        page(pageRequest, req, res).catch(() => {
          if (!res.headersSent) res.writeHead(500)
          res.end()
        })
        return
      }
      api(req, res, via, Access.corsHeaders(origin), principal)
    }

    const makeServer = (via: "tcp" | "unix") => {
      const server = http.createServer(onRequest(via))
      server.maxConnections = maxConnections + HTTP_HEADROOM
      server.on("upgrade", onUpgrade(via))
      server.on("clientError", (_error, socket) => {
        if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
        else socket.destroy()
      })
      return server
    }

    const servers: Array<http.Server> = []
    let ownedSocketFile: string | null = null
    yield* Effect.addFinalizer(() =>
      Effect.promise(async () => {
        for (const connection of connections) connection.close(1001, "server shutting down")
        await Promise.all(servers.map(closeServer))
        if (ownedSocketFile !== null) await fs.rm(ownedSocketFile, { force: true })
      })
    )

    const tcp = makeServer("tcp")
    servers.push(tcp)
    yield* Effect.tryPromise({
      try: () => listen(tcp, { port: config.port, host: config.host }),
      catch: (cause) => new HttpTransportError({ operation: "HttpTransport.listen:tcp", cause })
    })
    const address = tcp.address()
    const port = typeof address === "object" && address !== null ? address.port : config.port
    policy = { ...policy, port }

    const socketPath = config.socketPath
    if (socketPath !== null) {
      const unix = makeServer("unix")
      yield* Effect.tryPromise({
        try: async () => {
          await prepareSocketPath(socketPath)
          await listen(unix, { path: socketPath })
          servers.push(unix)
          ownedSocketFile = socketPath
          await fs.chmod(socketPath, 0o600)
        },
        catch: (cause) => new HttpTransportError({ operation: "HttpTransport.listen:unix", cause })
      })
    }

    if (devices !== undefined) {
      const stopListening = devices.onRevoked((deviceId) => {
        for (const connection of connections) if (connection.deviceId === deviceId) connection.revoked()
      })
      yield* Effect.addFinalizer(() => Effect.sync(stopListening))
    }

    const pingTimer = setInterval(() => {
      for (const connection of connections) connection.pingTick()
    }, pingIntervalMs)
    const stuckTimer = setInterval(() => {
      const now = Date.now()
      for (const connection of connections) connection.checkStuck(now, stuckTimeoutMs)
    }, Math.max(20, Math.min(1000, Math.floor(stuckTimeoutMs / 4))))
    pingTimer.unref()
    stuckTimer.unref()
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        clearInterval(pingTimer)
        clearInterval(stuckTimer)
      })
    )

    // Every connection hears of each change of the log's status (forked while the layer is built,
    // which runs uninterruptibly: the fiber must stay interruptible).
    yield* log.status.pipe(
      Stream.runForEach((next) =>
        Effect.sync(() => {
          const changed = next.status !== persistence.status || next.reason !== persistence.reason
          persistence = next
          if (!changed) return
          const message = serverStatus()
          for (const connection of connections) connection.notify(message)
        })
      ),
      Effect.interruptible,
      Effect.forkScoped
    )

    const host = config.host.includes(":") ? `[${config.host}]` : config.host
    const listeningUrl = yield* Effect.serviceOption(ListeningUrl)
    if (listeningUrl._tag === "Some") listeningUrl.value.set(`http://${host === "0.0.0.0" || host === "[::]" ? "127.0.0.1" : host}:${port}`)
    yield* Effect.logInfo(`listening on http://${host}:${port}${socketPath === null ? "" : ` and ${socketPath}`}`)
    return HttpTransport.of({
      port,
      host: config.host,
      url: `http://${host}:${port}`,
      socketPath,
      serverId,
      version,
      token,
      connectionCount: () => connections.size
    })
  }).pipe(Effect.annotateLogs({ module: "HttpTransport" }))

/** The transport with explicit tuning (tests use short intervals). */
export const layerWith = (
  options: Options = {}
): Layer.Layer<HttpTransport, HttpTransportError, Sessions | Connectors | EventLog | ServerConfig> => Layer.scoped(HttpTransport, make(options))

/** The transport with PROTOCOL.md's defaults. */
export const layer: Layer.Layer<HttpTransport, HttpTransportError, Sessions | Connectors | EventLog | ServerConfig> = layerWith()
