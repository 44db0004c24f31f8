/**
 * How the CLI's client commands reach a running server: through its Unix socket when it exists
 * (trusted, no token), otherwise over TCP with the token from `--token`, ORBITDOCK_TOKEN or
 * `<data-dir>/token`, at `--url` or at a URL `server.json` names and that proved to be the server.
 * Gives HTTP GET (JSON) and a WebSocket that speaks the JSON subprotocol.
 */
import { JSON_SUBPROTOCOL, ServerFrame, type ServerMessage } from "@orbitdock/domain"
import { Console, Data, Effect, Schema } from "effect"
import * as fs from "node:fs"
import * as http from "node:http"
import * as path from "node:path"
import WebSocket from "ws"
import * as Discovery from "./Discovery.js"

export class CliError extends Data.TaggedError("CliError")<{ readonly message: string }> {}

export interface Endpoint {
  /** Unix socket path, when the server is reached through it. */
  readonly socketPath: string | null
  /** `http://host:port` otherwise. */
  readonly baseUrl: string
  readonly token: string | null
}

export interface EndpointOptions {
  readonly dataDir: string
  readonly url: string | null
  readonly token: string | null
}

/** The token to send: given, else `ORBITDOCK_TOKEN`, else the data dir's token file. */
export const tokenOf = (dataDir: string, token: string | null): string | null => {
  if (token !== null) return token
  const fromEnv = process.env.ORBITDOCK_TOKEN?.trim()
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv
  const file = path.join(dataDir, "token")
  return fs.existsSync(file) ? fs.readFileSync(file, "utf8").trim() : null
}

/**
 * Where the server is: `--url` when given (with the token); else the running server's Unix socket
 * (no token); else its TCP URL from `<data-dir>/server.json`, once that URL proved to be that
 * server (`Discovery.discoverVerified`) — the token never goes to a port nobody vouched for. A stale
 * `server.json` is reported on stderr and ignored.
 */
export const resolveEndpoint = (options: EndpointOptions): Effect.Effect<Endpoint, CliError> =>
  Effect.gen(function* () {
    if (options.url !== null) {
      return { socketPath: null, baseUrl: options.url.replace(/\/$/, ""), token: tokenOf(options.dataDir, options.token) }
    }
    const found = Discovery.discover(options.dataDir)
    if (found._tag === "Stale") yield* Console.error(`orbitdock: ${Discovery.staleMessage(options.dataDir, found.reason)}`)
    const socketPath = found._tag === "Running" && found.file.socket !== null ? found.file.socket : path.join(options.dataDir, "server.sock")
    if (fs.existsSync(socketPath)) return { socketPath, baseUrl: "http://localhost", token: null }
    if (found._tag === "Running") {
      const verified = yield* Discovery.discoverVerified(options.dataDir)
      if (verified._tag === "Running") {
        return { socketPath: null, baseUrl: verified.file.url.replace(/\/$/, ""), token: tokenOf(options.dataDir, options.token) }
      }
      if (verified._tag === "Stale") yield* Console.error(`orbitdock: ${Discovery.staleMessage(options.dataDir, verified.reason)}`)
    }
    return yield* Effect.fail(
      new CliError({
        message: `no OrbitDock server is running on ${options.dataDir} (no server.sock, no live server.json): start one with \`orbitdock serve\`, or pass --url`
      })
    )
  })

const describe = (endpoint: Endpoint) => endpoint.socketPath ?? endpoint.baseUrl

/** GET a JSON resource; a non-2xx answer fails with the server's `{code, message}`. */
export const getJson = (endpoint: Endpoint, pathAndQuery: string): Effect.Effect<unknown, CliError> =>
  requestJson(endpoint, "GET", pathAndQuery)

/** POST a JSON body; the answer as `getJson`'s. */
export const postJson = (endpoint: Endpoint, pathAndQuery: string, body: unknown): Effect.Effect<unknown, CliError> =>
  requestJson(endpoint, "POST", pathAndQuery, JSON.stringify(body))

/** DELETE a resource; the answer as `getJson`'s. */
export const deleteJson = (endpoint: Endpoint, pathAndQuery: string): Effect.Effect<unknown, CliError> =>
  requestJson(endpoint, "DELETE", pathAndQuery)

const requestJson = (endpoint: Endpoint, method: "GET" | "POST" | "DELETE", pathAndQuery: string, body?: string): Effect.Effect<unknown, CliError> =>
  Effect.async<unknown, CliError>((resume) => {
    const url = new URL(pathAndQuery, endpoint.baseUrl)
    const headers: Record<string, string> = endpoint.token === null ? {} : { authorization: `Bearer ${endpoint.token}` }
    if (body !== undefined) headers["content-type"] = "application/json"
    const request = http.request(
      {
        method,
        ...(endpoint.socketPath === null
          ? { hostname: url.hostname, port: url.port }
          : { socketPath: endpoint.socketPath }),
        path: url.pathname + url.search,
        headers
      },
      (response) => {
        const chunks: Array<Buffer> = []
        response.on("data", (c: Buffer) => chunks.push(c))
        response.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8")
          let answer: unknown
          try {
            answer = JSON.parse(text)
          } catch {
            return resume(Effect.fail(new CliError({ message: `unexpected answer from ${describe(endpoint)}: ${text.slice(0, 200)}` })))
          }
          if ((response.statusCode ?? 500) >= 300) {
            const error = answer as { code?: string; message?: string }
            return resume(Effect.fail(new CliError({ message: `${error.code ?? response.statusCode}: ${error.message ?? text}` })))
          }
          resume(Effect.succeed(answer))
        })
      }
    )
    request.on("error", (e) =>
      resume(Effect.fail(new CliError({ message: `cannot reach the OrbitDock server at ${describe(endpoint)}: ${e.message}` })))
    )
    request.end(body)
  })

/** A WebSocket session with the server: send messages with ids, await acks, receive pushes. */
export interface Connection {
  /** Sends a client message with a fresh id; resolves with the ack, fails with the error. */
  readonly request: (message: Record<string, unknown>) => Effect.Effect<ServerMessage, CliError>
  /** Registers a listener for every server message that is not an ack/error of a request. */
  readonly onMessage: (listener: (message: ServerMessage) => void) => void
  /** Completes when the connection closes. */
  readonly closed: Effect.Effect<void>
  readonly close: () => void
}

const decodeFrame = Schema.decodeUnknownSync(ServerFrame)

export const connect = (endpoint: Endpoint): Effect.Effect<Connection, CliError> =>
  Effect.async<Connection, CliError>((resume) => {
    const address =
      endpoint.socketPath === null
        ? `${endpoint.baseUrl.replace(/^http/, "ws")}/ws${endpoint.token === null ? "" : `?token=${endpoint.token}`}`
        : `ws+unix://${endpoint.socketPath}:/ws`
    const ws = new WebSocket(address, JSON_SUBPROTOCOL)
    const pending = new Map<string, (m: ServerMessage) => void>()
    const listeners: Array<(m: ServerMessage) => void> = []
    let nextId = 1
    let closeWaiters: Array<() => void> = []
    let isClosed = false
    ws.on("message", (data) => {
      let frame: ServerFrame
      try {
        frame = decodeFrame(JSON.parse(data.toString()))
      } catch (e) {
        process.stderr.write(`orbitdock: ignoring an undecodable frame: ${String(e)}\n`)
        return
      }
      for (const message of Array.isArray(frame) ? frame : [frame]) {
        if ((message.type === "ack" || message.type === "error") && typeof message.id === "string") {
          const waiter = pending.get(message.id)
          if (waiter !== undefined) {
            pending.delete(message.id)
            waiter(message)
            continue
          }
        }
        for (const listener of listeners) listener(message)
      }
    })
    ws.on("close", () => {
      isClosed = true
      for (const w of closeWaiters) w()
      closeWaiters = []
    })
    // `on`, not `once`: an error with no listener left would end the process; after the open, the
    // close event that follows every error is what ends the command.
    let settled = false
    ws.on("error", (e) => {
      if (settled) return
      settled = true
      resume(Effect.fail(new CliError({ message: `cannot connect to the OrbitDock server at ${describe(endpoint)}: ${e.message}` })))
    })
    ws.once("open", () => {
      settled = true
      resume(
        Effect.succeed({
          request: (message) =>
            Effect.async<ServerMessage, CliError>((done) => {
              const id = `cli-${nextId++}`
              pending.set(id, (answer) =>
                done(
                  answer.type === "error"
                    ? Effect.fail(new CliError({ message: `${answer.code}: ${answer.message}` }))
                    : Effect.succeed(answer)
                )
              )
              ws.send(JSON.stringify({ ...message, id }))
            }),
          onMessage: (listener) => {
            listeners.push(listener)
          },
          closed: Effect.async<void>((done) => {
            if (isClosed) return done(Effect.void)
            closeWaiters.push(() => done(Effect.void))
          }),
          close: () => ws.close()
        })
      )
    })
  })
