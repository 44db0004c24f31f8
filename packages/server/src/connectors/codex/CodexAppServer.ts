/**
 * The one `codex app-server` process the connector shares between its sessions. Owns its life: it
 * is started (and initialized) on first need, each start is a new *generation*, its messages are
 * decoded and routed to the thread they concern, an unexpected exit is reported once after every
 * message that arrived before it, and it is stopped when no thread needs it or the server stops.
 * Does not know sessions or what the messages mean.
 */
import { ProtocolError, unsupported } from "@orbitdock/domain"
import { Effect, Either, ExecutionStrategy, Exit, FiberSet, Queue, Schema, Scope } from "effect"
import * as CodexProcess from "./CodexProcess.js"
import type { CodexRpc, CodexRpcError } from "./CodexRpc.js"
import * as S from "./CodexSchemas.js"

/** A decoded message for one thread. */
export type ThreadMessage =
  | { readonly kind: "notification"; readonly notification: S.Notification }
  | { readonly kind: "request"; readonly request: S.ServerRequest }

export interface Running {
  readonly generation: number
  readonly rpc: CodexRpc
}

export interface Routing {
  /** Hands a message to its thread; false when the thread is not ours. */
  readonly route: (threadId: string, message: ThreadMessage) => Effect.Effect<boolean>
  /** The process of `generation` died on its own (not stopped by us). */
  readonly exited: (generation: number, reason: string) => Effect.Effect<void>
}

export interface AppServerOptions {
  readonly bin: string | null | undefined
  readonly env: Readonly<Record<string, string | undefined>>
  readonly clientName: string
  readonly requestTimeoutMs?: number | undefined
}

export interface CodexAppServer {
  /** The running process, started and initialized if there is none. */
  readonly ensure: Effect.Effect<Running, ProtocolError>
  /** The running process, if any. */
  readonly current: () => Running | null
  /** Stops the running process unless `needed(generation)`. */
  readonly stopUnless: (needed: (generation: number) => boolean) => Effect.Effect<void>
}

interface Proc extends Running {
  readonly scope: Scope.CloseableScope
}

const decodeNotification = Schema.decodeUnknownEither(S.Notification)
const decodeServerRequest = Schema.decodeUnknownEither(S.ServerRequest)

/** An RPC failure as the client sees it. */
export const toProtocol = (error: CodexRpcError): ProtocolError =>
  new ProtocolError({ code: error.operation.endsWith(":timeout") ? "timeout" : "internal", message: `codex: ${error.message}` })

export const make = (options: AppServerOptions, routing: Routing): Effect.Effect<CodexAppServer, never, Scope.Scope> =>
  Effect.gen(function* () {
    const fibers = yield* FiberSet.make<unknown, unknown>()
    const lock = yield* Effect.makeSemaphore(1)
    let proc: Proc | null = null
    let generations = 0
    /** Generations stopped on purpose: their exit is not an error. */
    const stopped = new Set<number>()
    let shuttingDown = false
    // Stopping the server stops the app-server; that exit is no failure of a turn (the server closes
    // interrupted turns at its next start).
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        shuttingDown = true
        const current = proc
        proc = null
        return current === null ? Effect.void : Scope.close(current.scope, Exit.void)
      })
    )

    const dispatch = (generation: number, server: CodexProcess.AppServer, scope: Scope.CloseableScope) =>
      Queue.take(server.rpc.incoming).pipe(
        Effect.flatMap((incoming): Effect.Effect<boolean> => {
          switch (incoming.kind) {
            case "closed":
              return Effect.gen(function* () {
                if (proc?.generation === generation) proc = null
                yield* Scope.close(scope, Exit.void)
                if (shuttingDown || stopped.has(generation)) return false
                yield* Effect.logWarning(`codex: ${incoming.reason}`).pipe(Effect.annotateLogs({ stderr: server.stderrTail() }))
                yield* routing.exited(generation, incoming.reason)
                return false
              })
            case "notification": {
              const { method } = incoming.frame
              if (!S.notificationMethods.has(method)) return Effect.logDebug(`codex: ignored ${method}`).pipe(Effect.as(true))
              const decoded = decodeNotification(incoming.frame)
              if (Either.isLeft(decoded)) {
                return Effect.logWarning(`codex: a ${method} we cannot read was skipped`, decoded.left.message).pipe(Effect.as(true))
              }
              return routing.route(decoded.right.params.threadId, { kind: "notification", notification: decoded.right }).pipe(Effect.as(true))
            }
            case "request": {
              const { id, method } = incoming.frame
              const decoded = S.serverRequestMethods.has(method) ? decodeServerRequest(incoming.frame) : undefined
              const routed =
                decoded !== undefined && Either.isRight(decoded)
                  ? routing.route(decoded.right.params.threadId, { kind: "request", request: decoded.right })
                  : Effect.succeed(false)
              // Never leave Codex waiting on a request OrbitDock cannot show.
              return routed.pipe(
                Effect.flatMap((taken) =>
                  taken ? Effect.void : server.rpc.respondError(id, -32601, `OrbitDock does not handle ${method} here`).pipe(Effect.ignore)
                ),
                Effect.as(true)
              )
            }
          }
        }),
        Effect.repeat({ while: (more) => more }),
        Effect.asVoid
      )

    const start = Effect.gen(function* () {
      const binary = yield* CodexProcess.resolveBinary(options.bin, options.env).pipe(
        Effect.mapError((error) => unsupported(`codex is not available: ${error.message}`))
      )
      const scope = yield* Scope.make(ExecutionStrategy.sequential)
      const server = yield* CodexProcess.spawnAppServer({
        binary,
        env: options.env,
        ...(options.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: options.requestTimeoutMs })
      }).pipe(
        Scope.extend(scope),
        Effect.mapError((error) => unsupported(error.message)),
        Effect.tapError(() => Scope.close(scope, Exit.void))
      )
      const generation = ++generations
      yield* FiberSet.run(fibers, dispatch(generation, server, scope))
      yield* server.rpc
        .request(
          "initialize",
          {
            clientInfo: { name: options.clientName, title: "OrbitDock", version: "0.1.0" },
            capabilities: { experimentalApi: false, requestAttestation: false }
          },
          S.InitializeResult
        )
        .pipe(
          Effect.zipRight(server.rpc.notify("initialized")),
          Effect.mapError(toProtocol),
          Effect.tapError(() => Effect.sync(() => stopped.add(generation)).pipe(Effect.zipRight(Scope.close(scope, Exit.void))))
        )
      return { generation, rpc: server.rpc, scope } satisfies Proc
    })

    return {
      ensure: lock.withPermits(1)(
        Effect.suspend(() => (proc !== null ? Effect.succeed(proc) : Effect.tap(start, (started) => (proc = started))))
      ),
      current: () => proc,
      stopUnless: (needed) =>
        lock.withPermits(1)(
          Effect.suspend(() => {
            const current = proc
            if (current === null || needed(current.generation)) return Effect.void
            proc = null
            stopped.add(current.generation)
            return Scope.close(current.scope, Exit.void)
          })
        )
    } satisfies CodexAppServer
  })
