/**
 * The HTTP routes of PROTOCOL.md ("HTTP"): health, sessions (list, state, time travel, events), the
 * inbox, the protocol's JSON Schema, Prometheus metrics, and the routes connectors bring (e.g. Claude's
 * `POST /hook`). Runs after the access checks (see `Access.ts`); answers JSON `{code, message}` on
 * every error. Reads come from the sessions service's live state, never from the disk on this path.
 */
import type * as http from "node:http"
import {
  type ErrorCode,
  type Health,
  protocolJsonSchema,
  Provider,
  ProtocolError,
  type SessionId,
  SessionStatus
} from "@orbitdock/domain"
import { Cause, Effect, Either, Exit, Fiber, Runtime, Schema } from "effect"
import type { ConnectorRoute } from "../connectors/Connector.js"
import type { SessionFilter, SessionsShape } from "../Sessions.js"
import type { Principal } from "./Access.js"
import * as Prometheus from "./Prometheus.js"
import { restOf, type RoutesShape } from "./Routes.js"
import { jsonChunksOf } from "../eventlog/assembledState.js"
import * as AnswerBuffers from "./AnswerBuffers.js"
import { decodeJson } from "./FrameCodec.js"
import { type Headers, readBody, sendError, sendJson, sendPooledJson, sendText } from "./Respond.js"

export interface ApiDeps {
  readonly sessions: SessionsShape
  readonly routes: ReadonlyArray<ConnectorRoute>
  /** Routes other services add once built (`Routes.ts`). */
  readonly extraRoutes?: RoutesShape
  readonly runtime: Runtime.Runtime<never>
  readonly health: () => Health
}

/** What a route answers; errors are `ProtocolError`s (mapped to `{code, message}` and a status). */
type Answer =
  | { readonly _tag: "json"; readonly status: number; readonly body: unknown }
  | { readonly _tag: "pooledJson"; readonly status: number; readonly json: AnswerBuffers.PooledJson }
  | { readonly _tag: "text"; readonly status: number; readonly contentType: string; readonly text: string | Buffer }

const json = (body: unknown, status = 200): Answer => {
  // A state whose JSON is at hand (assembled from message pages) is copied out now, so that the
  // answer does not keep the pages' text alive (see AnswerBuffers).
  const chunks = jsonChunksOf(body)
  return chunks === undefined ? { _tag: "json", status, body } : { _tag: "pooledJson", status, json: AnswerBuffers.copy(chunks) }
}

const EVENTS_DEFAULT_LIMIT = 1000
const EVENTS_MAX_LIMIT = 10000

const invalid = (message: string) => Effect.fail(new ProtocolError({ code: "invalid_message", message }))

/** A query parameter as an integer, `fallback` when absent; a fitting error otherwise. */
const intParam = (params: URLSearchParams, name: string, fallback: number | undefined) => {
  const raw = params.get(name)
  if (raw === null || raw === "") {
    return fallback === undefined ? invalid(`${name} is required`) : Effect.succeed(fallback)
  }
  return /^-?\d+$/.test(raw) && Number.isSafeInteger(Number(raw))
    ? Effect.succeed(Number(raw))
    : invalid(`${name} must be an integer, got "${raw}"`)
}

const literalParam = <A extends string>(params: URLSearchParams, name: string, schema: Schema.Schema<A>) => {
  const raw = params.get(name)
  if (raw === null) return Effect.succeed(undefined)
  const decoded = Schema.decodeUnknownEither(schema)(raw)
  return Either.isRight(decoded)
    ? Effect.succeed(decoded.right)
    : invalid(`unknown ${name} "${raw}"`)
}

// Generated once: it only depends on the schemas.
let protocolDocument: object | undefined

const methodNotAllowed = (method: string, pathname: string) =>
  Effect.fail(
    new ProtocolError({ code: "invalid_message", message: `${method} is not allowed on ${pathname}` })
  ).pipe(Effect.mapError((error) => ({ error, status: 405 })))

const notFound = (pathname: string) =>
  Effect.fail(new ProtocolError({ code: "not_found", message: `no route for ${pathname}` }))

/** Makes the request handler (called after the access checks). */
export const makeHandler = (deps: ApiDeps) => {
  const { sessions } = deps
  const connectorRoutes = new Map<string, Map<string, ConnectorRoute>>()
  for (const route of deps.routes) {
    const byMethod = connectorRoutes.get(route.path) ?? new Map<string, ConnectorRoute>()
    byMethod.set(route.method, route)
    connectorRoutes.set(route.path, byMethod)
  }

  const get = (pathname: string, params: URLSearchParams): Effect.Effect<Answer, ProtocolError> | undefined => {
    switch (pathname) {
      case "/health":
        return Effect.sync(() => json(deps.health()))
      case "/api/sessions":
        return Effect.gen(function* () {
          const status = yield* literalParam(params, "status", SessionStatus)
          const provider = yield* literalParam(params, "provider", Provider)
          const filter: SessionFilter = {
            ...(status === undefined ? {} : { status }),
            ...(provider === undefined ? {} : { provider })
          }
          return json(yield* sessions.list(filter))
        })
      case "/api/inbox":
        return Effect.gen(function* () {
          const snoozed = params.get("snoozed")
          if (snoozed !== null && snoozed !== "true" && snoozed !== "false") {
            return yield* invalid("snoozed must be true or false")
          }
          if (snoozed === "true") return json({ items: yield* sessions.inbox({ snoozed: true }) })
          return { _tag: "text", status: 200, contentType: "application/json; charset=utf-8", text: sessions.inboxJson() } satisfies Answer
        })
      case "/api/protocol.json":
        return Effect.sync(() => json((protocolDocument ??= protocolJsonSchema())))
      case "/metrics":
        return Effect.map(Prometheus.scrape, (text) => ({
          _tag: "text" as const,
          status: 200,
          contentType: Prometheus.CONTENT_TYPE,
          text
        }))
    }
    const match = /^\/api\/sessions\/([^/]+)(\/events)?$/.exec(pathname)
    if (match === null) return undefined
    let decodedId: string
    try {
      decodedId = decodeURIComponent(match[1])
    } catch {
      return invalid("the session id is not valid percent-encoding")
    }
    const sessionId = decodedId as SessionId
    if (match[2] === undefined) {
      return Effect.gen(function* () {
        if (params.get("at_revision") === null) return json(yield* sessions.get(sessionId))
        const revision = yield* intParam(params, "at_revision", undefined)
        return json(yield* sessions.stateAt(sessionId, revision))
      })
    }
    return Effect.gen(function* () {
      const after = yield* intParam(params, "after", 0)
      const limit = yield* intParam(params, "limit", EVENTS_DEFAULT_LIMIT)
      if (after < 0) return yield* invalid("after must be 0 or more")
      if (limit < 1) return yield* invalid("limit must be 1 or more")
      return json(yield* sessions.events(sessionId, after, Math.min(limit, EVENTS_MAX_LIMIT)))
    })
  }

  const connector = (
    route: ConnectorRoute,
    req: http.IncomingMessage,
    via: "tcp" | "unix",
    principal: Principal | null,
    pathname: string,
    params: URLSearchParams
  ) =>
    Effect.gen(function* () {
      const body = yield* Effect.promise(() => readBody(req))
      if (!body.ok) {
        return yield* Effect.fail(new ProtocolError({ code: "too_large", message: "the body exceeds 1 MiB" }))
      }
      let parsed: unknown = undefined
      if (body.bytes.length > 0) {
        // Plain JSON within the nesting limit, like a WebSocket frame: what a route records must encode again.
        const decoded = decodeJson(body.bytes)
        if (!decoded.ok) return yield* invalid(`the body is ${decoded.reason}`)
        parsed = decoded.value
      }
      const headers: Record<string, string | undefined> = {}
      for (const [name, value] of Object.entries(req.headers)) {
        headers[name] = Array.isArray(value) ? value.join(", ") : value
      }
      const rest = restOf(route, pathname)
      let pathRest: string | undefined
      if (rest !== undefined) {
        try {
          pathRest = decodeURIComponent(rest)
        } catch {
          return yield* invalid(`the path ${pathname} is not valid URL encoding`)
        }
      }
      const answer = yield* route.handle({ body: parsed, headers, via, principal, query: params, ...(pathRest === undefined ? {} : { pathRest }) })
      return json(answer.body, answer.status)
    })

  /** Handles one request; `headers` (CORS) go on every answer; `principal`: who it speaks for (null: nobody identified). */
  return (req: http.IncomingMessage, res: http.ServerResponse, via: "tcp" | "unix", headers: Headers, principal: Principal | null): void => {
    const url = req.url ?? "/"
    const q = url.indexOf("?")
    const pathname = q < 0 ? url : url.slice(0, q)
    const params = new URLSearchParams(q < 0 ? "" : url.slice(q + 1))
    const method = req.method === "HEAD" ? "GET" : (req.method ?? "GET")

    let handler: Effect.Effect<Answer, ProtocolError | { error: ProtocolError; status: number }>
    const byMethod = connectorRoutes.get(pathname) ?? deps.extraRoutes?.get(pathname)
    if (byMethod !== undefined) {
      const route = byMethod.get(method)
      handler = route === undefined ? methodNotAllowed(method, pathname) : connector(route, req, via, principal, pathname, params)
    } else if (pathname === "/ws") {
      handler = Effect.fail(new ProtocolError({ code: "invalid_message", message: "GET /ws expects a WebSocket upgrade" }))
        .pipe(Effect.mapError((error) => ({ error, status: 426 })))
    } else {
      const route = get(pathname, params)
      if (route === undefined) handler = notFound(pathname)
      else handler = method === "GET" ? route : methodNotAllowed(method, pathname)
    }

    const answer = (exit: Exit.Exit<Answer, ProtocolError | { error: ProtocolError; status: number }>): void => {
      if (Exit.isSuccess(exit)) {
        const value = exit.value
        if (value._tag === "json") sendJson(res, value.status, value.body, headers)
        else if (value._tag === "pooledJson") sendPooledJson(res, value.status, value.json, headers)
        else sendText(res, value.status, value.contentType, value.text, headers)
        return
      }
      const failure = Cause.failureOption(exit.cause)
      if (failure._tag === "Some") {
        const { error, status } = failure.value instanceof ProtocolError
          ? { error: failure.value, status: undefined }
          : failure.value
        const extra: Record<string, string> = error.code === "too_large" ? { ...headers, connection: "close" } : headers
        if (status === 405) extra.allow = [...(byMethod?.keys() ?? ["GET"])].join(", ")
        sendError(res, error.code as ErrorCode, error.message, extra, status)
        log(deps.runtime, "debug", `${req.method} ${pathname}: ${error.code}: ${error.message}`)
        return
      }
      sendError(res, "internal", "internal server error", headers)
      log(deps.runtime, "warn", `${req.method} ${pathname} failed: ${Cause.pretty(exit.cause)}`)
    }
    const fiber = Runtime.runFork(deps.runtime)(handler)
    if (byMethod !== undefined) {
      // A connector route may hold its request open (a permission prompt waits for the user). If the
      // client gives up first (its connection closes before the answer), the route is interrupted:
      // it learns that its asker is gone.
      res.once("close", () => {
        if (!res.writableFinished) Runtime.runFork(deps.runtime)(Fiber.interruptFork(fiber))
      })
    }
    fiber.addObserver((exit) => {
      if (res.destroyed && Exit.isInterrupted(exit)) return
      // Writing the answer must not throw into the fiber's observer (that would end the process):
      // an answer that cannot be encoded (or written) becomes a 500, or the connection is cut.
      try {
        answer(exit)
      } catch (error) {
        log(deps.runtime, "warn", `${req.method} ${pathname}: writing the answer failed: ${error instanceof Error ? error.stack : String(error)}`)
        try {
          if (!res.headersSent) sendError(res, "internal", "internal server error", headers)
          else res.destroy()
        } catch {
          res.destroy()
        }
      }
    })
  }
}

const log = (runtime: Runtime.Runtime<never>, level: "debug" | "warn", message: string): void => {
  Runtime.runFork(runtime)(
    (level === "debug" ? Effect.logDebug(message) : Effect.logWarning(message)).pipe(Effect.annotateLogs({ module: "http" }))
  )
}
