/**
 * The Claude connector inside the real session registry, over an in-memory event log that can
 * outlive one registry (to test a restart), with a temporary Claude config directory whose
 * transcripts the test writes line by line. Hooks are posted through the connector's own route.
 */
import type { SessionId, SessionMessage, SessionSnapshot, SessionState } from "@orbitdock/domain"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { makeClaudeConnector, type ClaudeConnectorOptions } from "../../../src/connectors/claude/ClaudeConnector.js"
import { type ConnectorFactory, Connectors, type RouteResponse } from "../../../src/connectors/Connector.js"
import { EventLog, type EventLogShape } from "../../../src/eventlog/EventLog.js"
import * as EventLogMemory from "../../../src/eventlog/EventLogMemory.js"
import * as SessionRegistry from "../../../src/SessionRegistry.js"
import { Sessions, type SessionsShape } from "../../../src/Sessions.js"
import { fixture, hookPayloads } from "./fixtures.js"

/** A temporary Claude config directory, removed when the test's scope closes. */
export const tempClaudeDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "orbitdock-claude-unit-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

export interface Running {
  readonly sessions: SessionsShape
  readonly post: (body: unknown) => Effect.Effect<RouteResponse>
  readonly stop: Effect.Effect<void>
}

/** Starts a registry with the Claude connector (and `others`, e.g. the sim's) on `log`. */
export const startRegistry = (log: EventLogShape, options: ClaudeConnectorOptions, others: ReadonlyArray<ConnectorFactory> = []) =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    // Stopped with the test at the latest (a test may stop it earlier to restart).
    yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
    const layer = SessionRegistry.layer([makeClaudeConnector({ env: { PATH: "" }, ...options }), ...others]).pipe(
      Layer.provide(Layer.succeed(EventLog, log))
    )
    const context = yield* Layer.buildWithScope(layer, scope)
    const route = Context.get(context, Connectors).get("claude")!.routes!.find((r) => r.path === "/hook")!
    const running: Running = {
      sessions: Context.get(context, Sessions),
      post: (body) => route.handle({ body, headers: {}, via: "unix", principal: { _tag: "Owner" } }),
      stop: Scope.close(scope, Exit.void)
    }
    return running
  })

export const memoryLog = EventLogMemory.make

/** A fixture transcript, ready to be written into a temp projects dir, and its session's hooks. */
export const scenario = (claudeDir: string, sessionId: string) => {
  const source = fixture(`transcripts/${sessionId}.jsonl`)
  const lines = fs.readFileSync(source, "utf8").split("\n").filter((l) => l.length > 0)
  const dir = path.join(claudeDir, "projects", "-home-user-claude-lab-work")
  fs.mkdirSync(dir, { recursive: true })
  const file = path.join(dir, `${sessionId}.jsonl`)
  fs.writeFileSync(file, "")
  // One delivery per hook (the samples hold each twice: curl and http).
  const hooks = hookPayloads()
    .filter((h) => h.via === "http" && h.payload.session_id === sessionId)
    .map((h): Record<string, unknown> => ({ ...h.payload, transcript_path: file }))
  return {
    file,
    lines,
    hooks,
    hook: (name: string) => hooks.find((h) => h.hook_event_name === name)!,
    /** Appends raw text (lines must carry their own newlines). */
    append: (text: string) => fs.appendFileSync(file, text),
    appendLines: (from: number, to: number) => fs.appendFileSync(file, lines.slice(from, to).map((l) => `${l}\n`).join(""))
  }
}

/** Waits until the session's state satisfies `predicate`, woken by its messages (no polling). */
export const waitFor = (
  sessions: SessionsShape,
  sessionId: string,
  predicate: (s: SessionState) => boolean,
  timeoutMs = 5000
): Effect.Effect<SessionState, Error> => {
  const id = sessionId as SessionId
  let pushed = 0
  let wake: (() => void) | null = null
  const subscriber = {
    push: (_m: SessionMessage | SessionSnapshot) => {
      pushed++
      wake?.()
    }
  }
  const loop = Effect.gen(function* () {
    while (true) {
      const seen = pushed
      const state = yield* sessions.get(id).pipe(Effect.orDie)
      if (predicate(state)) return state
      if (pushed !== seen) continue
      yield* Effect.async<void>((resume) => {
        wake = () => {
          wake = null
          resume(Effect.void)
        }
      })
    }
  })
  return Effect.acquireUseRelease(
    sessions.subscribe(id, subscriber).pipe(Effect.orDie),
    () => loop,
    () => sessions.unsubscribe(id, subscriber)
  ).pipe(
    Effect.timeoutFail({ duration: timeoutMs, onTimeout: () => new Error(`session ${sessionId}: condition not met in ${timeoutMs} ms`) })
  )
}
