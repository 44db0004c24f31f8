/**
 * JSON-RPC over JSON lines, as `codex app-server` speaks it (no `"jsonrpc":"2.0"` member). Owns
 * line framing, telling our responses from the server's own requests by shape (the server numbers
 * its requests from 0 too, so ids alone collide), our request ids, timeouts and the pending-request
 * table. Does not know the methods: callers pass a schema for each result, and notifications and
 * server requests are handed on, in order, through `incoming`.
 */
import { Data, Deferred, Duration, Effect, Option, Queue, Schema } from "effect"
import {
  type Frame,
  NotificationFrame,
  ResponseFrame,
  type RpcId,
  ServerRequestFrame
} from "./CodexSchemas.js"

export class CodexRpcError extends Data.TaggedError("CodexRpcError")<{
  /** e.g. "thread/start:timeout", "turn/start:remote", "write:closed". */
  readonly operation: string
  readonly message: string
  /** The JSON-RPC error code, for errors the server returned. */
  readonly code?: number
}> {}

/**
 * What the server sends us unprompted, in arrival order: notifications, its own requests, and last
 * the end of the connection (so whatever arrived before it is handled first).
 */
export type Incoming =
  | Extract<Frame, { readonly kind: "notification" | "request" }>
  | { readonly kind: "closed"; readonly reason: string }

export interface CodexRpc {
  /** Sends a request and decodes its result; fails on an error response, a timeout or a closed connection. */
  readonly request: <A, I>(
    method: string,
    params: unknown,
    result: Schema.Schema<A, I>,
    timeout?: Duration.DurationInput
  ) => Effect.Effect<A, CodexRpcError>
  readonly notify: (method: string, params?: unknown) => Effect.Effect<void, CodexRpcError>
  /** Answers one of the server's requests. */
  readonly respond: (id: RpcId, result: unknown) => Effect.Effect<void, CodexRpcError>
  readonly respondError: (id: RpcId, code: number, message: string) => Effect.Effect<void, CodexRpcError>
  /** Notifications and server requests, then one `closed` when the connection ends. */
  readonly incoming: Queue.Dequeue<Incoming>
  /** Feeds one line read from the server. Malformed lines are logged and skipped, never fatal. */
  readonly handleLine: (line: string) => Effect.Effect<void>
  /** The connection is gone: every pending request fails with `reason`; `incoming` gets `closed`. */
  readonly close: (reason: string) => Effect.Effect<void>
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const decodeRequest = Schema.decodeUnknownOption(ServerRequestFrame)
const decodeResponse = Schema.decodeUnknownOption(ResponseFrame)
const decodeNotification = Schema.decodeUnknownOption(NotificationFrame)

/** Classifies a parsed line: `method`+`id` is a server request, `id` alone a response, `method` alone a notification. */
export const classify = (value: unknown): Option.Option<Frame> => {
  if (!isRecord(value)) return Option.none()
  const hasId = "id" in value && value.id !== null
  const hasMethod = typeof value.method === "string"
  if (hasMethod && hasId) return Option.map(decodeRequest(value), (frame) => ({ kind: "request" as const, frame }))
  if (hasId) return Option.map(decodeResponse(value), (frame) => ({ kind: "response" as const, frame }))
  if (hasMethod) return Option.map(decodeNotification(value), (frame) => ({ kind: "notification" as const, frame }))
  return Option.none()
}

/**
 * A client over `write` (one JSON line per call, newline included by us). The owner feeds the lines it
 * reads to `handleLine` and calls `close` when the stream ends.
 */
export const make = (options: {
  readonly write: (line: string) => Effect.Effect<void, CodexRpcError>
  readonly defaultTimeout?: Duration.DurationInput
}): Effect.Effect<CodexRpc> =>
  Effect.gen(function* () {
    const incoming = yield* Queue.unbounded<Incoming>()
    const pending = new Map<RpcId, { readonly method: string; readonly reply: Deferred.Deferred<unknown, CodexRpcError> }>()
    let nextId = 0
    let closed: string | null = null
    const defaultTimeout = options.defaultTimeout ?? Duration.seconds(60)

    const send = (message: Record<string, unknown>, operation: string) =>
      closed !== null
        ? Effect.fail(new CodexRpcError({ operation: `${operation}:closed`, message: closed }))
        : options.write(`${JSON.stringify(message)}\n`)

    const request = <A, I>(method: string, params: unknown, result: Schema.Schema<A, I>, timeout?: Duration.DurationInput) =>
      Effect.gen(function* () {
        const id = ++nextId
        const reply = yield* Deferred.make<unknown, CodexRpcError>()
        pending.set(id, { method, reply })
        const raw = yield* send(params === undefined ? { method, id } : { method, id, params }, method).pipe(
          Effect.zipRight(Deferred.await(reply)),
          Effect.timeoutFail({
            duration: timeout ?? defaultTimeout,
            onTimeout: () => new CodexRpcError({ operation: `${method}:timeout`, message: `no answer to ${method} in time` })
          }),
          Effect.ensuring(Effect.sync(() => pending.delete(id)))
        )
        return yield* Schema.decodeUnknown(result)(raw).pipe(
          Effect.mapError((error) => new CodexRpcError({ operation: `${method}:decode`, message: error.message }))
        )
      })

    const handleLine = (line: string): Effect.Effect<void> =>
      Effect.gen(function* () {
        if (line.trim().length === 0) return
        let parsed: unknown
        try {
          parsed = JSON.parse(line)
        } catch {
          return yield* Effect.logWarning("codex: a line that is not JSON was skipped").pipe(
            Effect.annotateLogs({ line: line.slice(0, 200) })
          )
        }
        const frame = classify(parsed)
        if (Option.isNone(frame)) {
          return yield* Effect.logWarning("codex: a message of unknown shape was skipped").pipe(
            Effect.annotateLogs({ line: line.slice(0, 200) })
          )
        }
        const value = frame.value
        if (value.kind === "response") {
          const waiter = pending.get(value.frame.id)
          if (waiter === undefined) return yield* Effect.logDebug("codex: a response nobody waits for", value.frame.id)
          pending.delete(value.frame.id)
          const error = value.frame.error
          yield* error === undefined
            ? Deferred.succeed(waiter.reply, value.frame.result ?? null)
            : Deferred.fail(
                waiter.reply,
                new CodexRpcError({ operation: `${waiter.method}:remote`, message: error.message, code: error.code })
              )
          return
        }
        if (closed === null) yield* Queue.offer(incoming, value)
      })

    const close = (reason: string) =>
      Effect.gen(function* () {
        if (closed !== null) return
        closed = reason
        for (const [, waiter] of pending) {
          yield* Deferred.fail(waiter.reply, new CodexRpcError({ operation: `${waiter.method}:closed`, message: reason }))
        }
        pending.clear()
        yield* Queue.offer(incoming, { kind: "closed", reason })
      })

    return {
      request,
      notify: (method, params) => send(params === undefined ? { method } : { method, params }, method),
      respond: (id, result) => send({ id, result }, "respond"),
      respondError: (id, code, message) => send({ id, error: { code, message } }, "respond"),
      incoming,
      handleLine,
      close
    } satisfies CodexRpc
  })
