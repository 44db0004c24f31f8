/**
 * Sessions OrbitDock drives: one headless `claude -p` process per session, speaking stream-json on
 * stdin/stdout, with its permission prompts routed to OrbitDock (`--permission-prompt-tool stdio`).
 *
 * Owns the processes and the driven turn lifecycle: `turn_started` when a message is sent, the
 * `result` line ends the turn, `control_request can_use_tool` becomes an approval answered with a
 * `control_response`, `interrupt` is the CLI's own interrupt control request. Messages seen on stdout
 * are translated exactly like transcript records (same uuids, same source keys), so they appear at
 * once and the transcript tailer's copies are dropped; tokens stay the transcript's.
 *
 * After an OrbitDock restart the process is gone; the next message starts `claude --resume <id>`.
 */
import {
  conflict,
  internal,
  invalid,
  type MessageId,
  type ProtocolError,
  type SessionId,
  type SessionState,
  unsupported
} from "@orbitdock/domain"
import { Deferred, Effect, ExecutionStrategy, Exit, Option, Queue, Schedule, Scope } from "effect"
import type { ChildProcessWithoutNullStreams } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import type { ApproveParams, ConnectorHost, CreateParams, EventInput } from "../Connector.js"
import { claudeArgs, permissionMode, spawnStreamJson, transcriptPath } from "./HeadlessProcess.js"
import type { PermissionHold } from "./PermissionHold.js"
import { mappingKey, type SessionIndex } from "./SessionIndex.js"
import type { TranscriptTail } from "./TranscriptTail.js"
import { lookupIn, streamLineAsRecord, translateRecord } from "./TranscriptTranslate.js"

export interface HeadlessOptions {
  /** The `claude` binary, or undefined when none was found (driving is then `unsupported`). */
  readonly bin: string | undefined
  /** Environment of the child (the server's, so ANTHROPIC_BASE_URL etc. carry over). */
  readonly env: Readonly<Record<string, string | undefined>>
  readonly claudeDir: string
}

interface Driven {
  readonly sessionId: SessionId
  readonly claudeId: string
  readonly cwd: string
  proc: ChildProcessWithoutNullStreams | null
  /** The process exited: resolves when it is gone. */
  exited: Deferred.Deferred<void> | null
  /** Messages sent while a turn ran: each one's `result` is not the end of the session's turn. */
  queued: number
  /** OrbitDock stopped it on purpose (interrupt by kill, end): its exit is not a failure. */
  stopping: boolean
  /** An interrupt was sent: the next `result` aborts the turn. */
  interrupting: Deferred.Deferred<void> | null
  /** A transcript exists, so a new process must `--resume`. */
  resumable: boolean
  stderr: () => string
}

export const make = (
  host: ConnectorHost,
  index: SessionIndex,
  tail: TranscriptTail,
  permissions: PermissionHold,
  options: HeadlessOptions
) =>
  Effect.gen(function* () {
    const driven = new Map<SessionId, Driven>()
    const modes = new Map<SessionId, ReadonlyArray<string>>()
    const scope = yield* Effect.scope

    const transcriptOf = (d: Driven) => transcriptPath(options.claudeDir, d.cwd, d.claudeId)

    const emitQuiet = (sessionId: SessionId, events: ReadonlyArray<EventInput>) =>
      host.emit(sessionId, events).pipe(
        Effect.asVoid,
        Effect.catchAll((e) => Effect.logWarning(`claude: events of driven session ${sessionId} refused: ${e.message}`))
      )

    const write = (d: Driven, message: unknown) =>
      Effect.sync(() => {
        if (d.proc === null || d.proc.stdin.destroyed) return false
        d.proc.stdin.write(`${JSON.stringify(message)}\n`)
        return true
      })

    /** Answers a `can_use_tool` request once the user decided (or the request was withdrawn). */
    const onPermission = (d: Driven, requestId: string, request: Record<string, unknown>) =>
      Effect.gen(function* () {
        const input = request.input
        const decision = yield* permissions.hold(
          d.sessionId,
          {
            tool_name: typeof request.tool_name === "string" ? request.tool_name : "tool",
            input,
            cwd: d.cwd,
            reason: typeof request.decision_reason === "string" ? request.decision_reason : undefined,
            // Only when OrbitDock stops; the process's own end withdraws it in `onExit`.
            goneReason: "OrbitDock stopped"
          },
          undefined
        )
        // Never Claude's own "always allow" (permission suggestions): "for this session" is an
        // OrbitDock rule, which answers the next such request and can be revoked.
        const response =
          decision.kind === "approved"
            ? { behavior: "allow", updatedInput: input ?? {} }
            : { behavior: "deny", message: decision.kind === "denied" ? "Denied from OrbitDock" : "No decision" }
        yield* write(d, { type: "control_response", response: { subtype: "success", request_id: requestId, response } })
      }).pipe(Effect.catchAll((e) => Effect.logWarning(`claude: permission request failed: ${e.message}`)))

    /** Handles one stdout line of a driven process. */
    const onLine = (d: Driven, line: string) =>
      Effect.gen(function* () {
        let message: Record<string, unknown>
        try {
          message = JSON.parse(line) as Record<string, unknown>
        } catch {
          return
        }
        if (typeof message !== "object" || message === null) return
        switch (message.type) {
          case "system": {
            if (message.subtype !== "init" || typeof message.model !== "string") return
            const model = message.model
            const state = yield* host.state(d.sessionId)
            if (Option.isSome(state) && state.value.model !== model) {
              yield* emitQuiet(d.sessionId, [{ event: { type: "session_info_changed", model } }])
            }
            return
          }
          case "assistant":
          case "user": {
            const record = streamLineAsRecord(message)
            if (record === undefined) return
            yield* index.locked(
              d.sessionId,
              Effect.gen(function* () {
                const state = yield* host.state(d.sessionId)
                const messages = Option.match(state, { onNone: () => [], onSome: (s) => s.messages })
                const t = translateRecord(record, lookupIn(messages), host.now())
                if (t.events.length > 0) yield* emitQuiet(d.sessionId, t.events)
              })
            )
            return
          }
          case "control_request": {
            const request = message.request as Record<string, unknown> | undefined
            if (request?.subtype !== "can_use_tool" || typeof message.request_id !== "string") return
            yield* Effect.forkIn(onPermission(d, message.request_id, request), scope)
            return
          }
          case "result": {
            d.resumable = true
            // Let the transcript's final records (tokens) land before the turn's end.
            yield* tail.poke(transcriptOf(d))
            if (d.interrupting !== null) {
              // The interrupt command records the turn's end itself, durably.
              d.queued = 0
              yield* Deferred.succeed(d.interrupting, undefined)
              d.interrupting = null
              return
            }
            if (d.queued > 0) {
              d.queued--
              return
            }
            const failed = message.is_error === true
            yield* emitQuiet(d.sessionId, [
              {
                event: failed
                  ? { type: "turn_aborted", reason: String(message.result ?? message.subtype ?? "error") }
                  : { type: "turn_completed" },
                ...(typeof message.uuid === "string" ? { source_key: `result:${message.uuid}` } : {})
              }
            ])
            return
          }
          default:
            return
        }
      })

    /** The process ended: a turn it was running is over. */
    const onExit = (d: Driven, code: number | null) =>
      Effect.gen(function* () {
        d.proc = null
        if (d.exited !== null) yield* Deferred.succeed(d.exited, undefined)
        d.exited = null
        if (d.interrupting !== null) {
          yield* Deferred.succeed(d.interrupting, undefined)
          d.interrupting = null
        }
        yield* permissions.withdrawAll(d.sessionId, `claude exited (${code === null ? "killed by a signal" : `code ${code}`})`)
        const state = yield* host.state(d.sessionId)
        if (d.stopping || Option.isNone(state) || state.value.status !== "working") return
        const detail = d.stderr().trim().split("\n").slice(-3).join("\n")
        yield* emitQuiet(d.sessionId, [
          {
            event: {
              type: "message_appended",
              message: {
                id: host.newId("msg") as MessageId,
                role: "system",
                content: `claude exited (code ${code ?? "signal"})${detail.length > 0 ? `: ${detail}` : ""}`,
                created_at: host.now()
              }
            }
          },
          { event: { type: "turn_aborted", reason: "claude exited" } }
        ])
      })

    const start = (d: Driven, state: SessionState) =>
      Effect.gen(function* () {
        if (d.proc !== null) return
        if (options.bin === undefined) return yield* Effect.fail(unsupported("no claude binary found (--claude-bin, ORBITDOCK_CLAUDE_BIN or PATH)"))
        const args = claudeArgs({ claudeId: d.claudeId, resume: d.resumable, model: state.model, mode: modes.get(d.sessionId) ?? [] })
        // Each process in a scope of its own within the connector's: closed once it exited, or with
        // the connector (which stops it and waits for it).
        const processScope = yield* Scope.fork(scope, ExecutionStrategy.sequential)
        const spawned = yield* spawnStreamJson(options.bin, args, d.cwd, options.env).pipe(Scope.extend(processScope))
        // Runs before the stop: an exit OrbitDock caused is not reported as a failure.
        yield* Scope.addFinalizer(processScope, Effect.sync(() => (d.stopping = true)))
        d.proc = spawned.proc
        d.stopping = false
        d.stderr = spawned.stderr
        d.exited = yield* Deferred.make<void>()
        // One fiber per process handles its lines in order, then its exit.
        yield* Effect.forkIn(
          Effect.gen(function* () {
            while (true) {
              const line = yield* Queue.take(spawned.lines)
              if (line === null) break
              yield* onLine(d, line).pipe(Effect.catchAllCause((c) => Effect.logWarning("claude: stdout line failed", c)))
            }
            if (d.proc === spawned.proc) yield* onExit(d, spawned.exitCode())
            yield* Scope.close(processScope, Exit.void)
          }),
          scope
        )
      })

    const drivenOf = (state: SessionState): Effect.Effect<Driven, ProtocolError> =>
      Effect.suspend(() => {
        if (state.watch_only === true) {
          return Effect.fail(unsupported("this Claude session runs in a terminal: OrbitDock only watches it"))
        }
        const known = driven.get(state.id)
        if (known !== undefined) return Effect.succeed(known)
        if (state.external_id === undefined) return Effect.fail(internal(`session ${state.id} has no Claude session id`))
        // Rehydrated after a restart: the conversation exists, so the next process resumes it.
        const d: Driven = {
          sessionId: state.id,
          claudeId: state.external_id,
          cwd: state.cwd,
          proc: null,
          exited: null,
          queued: 0,
          stopping: false,
          interrupting: null,
          resumable: state.message_count > 0,
          stderr: () => ""
        }
        index.remember(d.claudeId, d.sessionId)
        driven.set(state.id, d)
        return Effect.succeed(d)
      })

    const sendMessage = (state: SessionState, content: string) =>
      Effect.gen(function* () {
        const d = yield* drivenOf(state)
        yield* start(d, state)
        const working = state.status === "working"
        const user: EventInput = {
          event: {
            type: "message_appended",
            message: { id: host.newId("msg") as MessageId, role: "user", content, created_at: host.now() }
          }
        }
        yield* host.commit(d.sessionId, working ? [user] : [{ event: { type: "turn_started" } }, user])
        if (working) d.queued++
        const sent = yield* write(d, {
          type: "user",
          message: { role: "user", content },
          parent_tool_use_id: null,
          session_id: ""
        })
        if (!sent) return yield* Effect.fail(internal("the claude process is not accepting input"))
      })

    const create = (sessionId: SessionId, params: CreateParams) =>
      Effect.gen(function* () {
        if (options.bin === undefined) {
          return yield* Effect.fail(unsupported("no claude binary found (--claude-bin, ORBITDOCK_CLAUDE_BIN or PATH)"))
        }
        if (!fs.existsSync(params.cwd) || !fs.statSync(params.cwd).isDirectory()) {
          return yield* Effect.fail(invalid(`cwd ${params.cwd} is not a directory`))
        }
        const claudeId = crypto.randomUUID()
        index.remember(claudeId, sessionId)
        yield* host.commit(
          sessionId,
          [
            {
              event: {
                type: "session_created",
                provider: "claude",
                cwd: params.cwd,
                status: "waiting",
                external_id: claudeId,
                watch_only: false,
                approval_policy: params.approval_policy,
                ...(params.model === undefined ? {} : { model: params.model }),
                ...(params.sandbox === undefined ? {} : { sandbox: params.sandbox })
              }
            }
          ],
          { checkpoints: [{ key: mappingKey(claudeId), value: sessionId }] }
        )
        const d: Driven = {
          sessionId,
          claudeId,
          cwd: params.cwd,
          proc: null,
          exited: null,
          queued: 0,
          stopping: false,
          interrupting: null,
          resumable: false,
          stderr: () => ""
        }
        driven.set(sessionId, d)
        modes.set(sessionId, permissionMode(params.approval_policy, params.sandbox))
        if (params.prompt !== undefined && params.prompt.length > 0) {
          const state = yield* host.state(sessionId)
          if (Option.isSome(state)) yield* sendMessage(state.value, params.prompt)
        }
      })

    const approve = (state: SessionState, params: ApproveParams) =>
      Effect.gen(function* () {
        // Not delivered: its asker is gone (the request is recorded withdrawn), never a false ack.
        if (yield* permissions.decide(state.id, params)) return
        return yield* Effect.fail(conflict(`request ${params.request_id} is no longer pending: its asker went away`))
      })

    /**
     * The CLI records an interrupt as an "interrupted" line in its transcript, written about when it
     * answers on stdout, sometimes just after: read the transcript again (for at most ~1 s) until
     * that line is in, so the interrupt's ack comes after it.
     */
    const awaitInterruptedLine = (d: Driven) =>
      Effect.gen(function* () {
        for (let attempt = 0; attempt < 20; attempt++) {
          yield* tail.poke(transcriptOf(d))
          const last = Option.map(yield* host.state(d.sessionId), (s) => s.messages.at(-1))
          if (Option.exists(last, (m) => m?.role === "system" && m.content === "interrupted")) return
          yield* Effect.sleep("50 millis")
        }
      })

    const interrupt = (state: SessionState) =>
      Effect.gen(function* () {
        if (state.status !== "working") return
        const d = yield* drivenOf(state)
        yield* permissions.withdrawAll(d.sessionId, "the turn was interrupted")
        if (d.proc === null) {
          yield* host.commit(d.sessionId, [{ event: { type: "turn_aborted", reason: "interrupted" } }])
          return
        }
        const done = yield* Deferred.make<void>()
        d.interrupting = done
        // The CLI answers with a `result`. But an interrupt it reads before it has started the turn
        // (the prompt was written just before) aborts nothing, and the turn then runs: ask again
        // every 500 ms, and stop a process that has not answered within 5 s.
        const ask = write(d, { type: "control_request", request_id: host.newId("int"), request: { subtype: "interrupt" } })
        const answered = yield* ask.pipe(
          Effect.zipRight(Deferred.await(done).pipe(Effect.timeout("500 millis"))),
          Effect.retry(Schedule.recurs(9)),
          Effect.option
        )
        if (Option.isNone(answered)) {
          d.stopping = true
          d.proc?.kill("SIGTERM")
          d.interrupting = null
          yield* host.commit(d.sessionId, [{ event: { type: "turn_aborted", reason: "interrupted" } }])
          return
        }
        yield* awaitInterruptedLine(d)
        yield* host.commit(d.sessionId, [{ event: { type: "turn_aborted", reason: "interrupted" } }])
      })

    const end = (state: SessionState) =>
      Effect.gen(function* () {
        const d = state.watch_only === true ? undefined : driven.get(state.id)
        yield* permissions.withdrawAll(state.id, "the session was ended")
        if (d?.proc) {
          d.stopping = true
          const exited = d.exited
          d.proc.stdin.end()
          d.proc.kill("SIGTERM")
          if (exited !== null) yield* Deferred.await(exited).pipe(Effect.timeout("5 seconds"), Effect.ignore)
        }
        driven.delete(state.id)
        yield* host.commit(state.id, [{ event: { type: "session_ended", reason: "ended_by_user" } }])
      })

    return { create, sendMessage, approve, interrupt, end, isDriven: (id: SessionId) => driven.get(id)?.proc != null }
  })
