/**
 * `POST /hook`: Claude Code hook events, from the native `http` hooks or the command hook forwarder.
 * Owns what hooks mean to OrbitDock: a first sighting creates a watch-only session; for watch-only
 * sessions hooks drive the turn lifecycle (UserPromptSubmit, Stop, SessionEnd) and hold permission
 * prompts (PermissionRequest, optionally PreToolUse) for remote approval. Messages and tokens are the
 * transcript's (every hook makes the tailer read up to now first), so nothing is reported twice.
 *
 * For a session OrbitDock drives, hooks only point at the transcript: its lifecycle and permission
 * prompts belong to the headless driver (the stdio permission tool answers those).
 */
import { type SessionId, type SessionState } from "@orbitdock/domain"
import { Data, Duration, Effect, Either, Option } from "effect"
import type { ConnectorHost, RouteRequest, RouteResponse } from "../Connector.js"
import { decodeHook, type HookEvent, noDecision, permissionAnswer, preToolUseAnswer } from "./HookSchemas.js"
import { type ClaudeProcesses, parsePid } from "./ClaudeProcesses.js"
import { PID_HEADER } from "./HookSettings.js"
import type { PermissionHold } from "./PermissionHold.js"
import type { SessionIndex } from "./SessionIndex.js"
import type { TranscriptTail } from "./TranscriptTail.js"

export interface HookOptions {
  /** How long a held permission prompt waits for a decision before answering "no decision". */
  readonly permissionTimeout: Duration.DurationInput
  /** Tools whose PreToolUse is held for approval too ("*" for all); none by default. */
  readonly holdPreToolUse: ReadonlyArray<string>
}

/** How long a hook waits for its events to be committed before it is answered 503 instead. */
export const RECORD_TIMEOUT = Duration.seconds(5)

/** The events a hook depends on were not recorded: the hook is answered 503, never 202. */
class NotRecorded extends Data.TaggedError("NotRecorded")<{ readonly message: string }> {}

const accepted = (body: unknown = noDecision): RouteResponse => ({ status: 202, body })
const invalid = (message: string): RouteResponse => ({ status: 400, body: { code: "invalid_message", message } })
const forbidden = (message: string): RouteResponse => ({ status: 403, body: { code: "forbidden", message } })

export const make = (
  host: ConnectorHost,
  index: SessionIndex,
  tail: TranscriptTail,
  permissions: PermissionHold,
  processes: ClaudeProcesses,
  options: HookOptions
) => {
  /** A transcript path from the hook body, if it names a transcript under Claude's projects directory. */
  const ownTranscript = (hook: HookEvent, field: string, file: string | undefined) =>
    Effect.suspend(() => {
      if (file === undefined) return Effect.succeed(null)
      const own = tail.own(file)
      return own !== null
        ? Effect.succeed(own)
        : Effect.as(Effect.logWarning(`claude hook: ignoring ${field} ${JSON.stringify(file)} of ${hook.session_id}: not a transcript under Claude's projects directory`), null)
    })

  const setStatus = (sessionId: SessionId, hook: HookEvent, f: (s: SessionState) => Effect.Effect<void, NotRecorded>) =>
    index.locked(
      sessionId,
      host.state(sessionId).pipe(Effect.flatMap(Option.match({ onNone: () => Effect.void, onSome: f })))
    )

  // Committed before the hook is answered: `202` means recorded (durable), and the next hook sees
  // it. What cannot be recorded (refused, or the event log cannot commit in time) is a 503.
  const record = (sessionId: SessionId, events: Parameters<ConnectorHost["emit"]>[1]) =>
    host.commit(sessionId, events).pipe(
      Effect.timeoutFail({
        duration: RECORD_TIMEOUT,
        onTimeout: () => new NotRecorded({ message: `not recorded within ${Duration.format(RECORD_TIMEOUT)}: the event log is behind or cannot commit` })
      }),
      Effect.catchTag("ProtocolError", (e) => Effect.fail(new NotRecorded({ message: e.message }))),
      Effect.tapError((e) => Effect.logWarning(`claude hook: events of ${sessionId} not recorded: ${e.message}`)),
      Effect.asVoid
    )

  const holdFor = (session: SessionState, hook: HookEvent & { tool_name: string; tool_input?: unknown }) =>
    permissions.hold(
      session.id,
      {
        tool_name: hook.tool_name,
        input: hook.tool_input,
        cwd: hook.cwd,
        dedupeKey: `${hook.hook_event_name}:${hook.session_id}:${hook.prompt_id ?? ""}:${hook.tool_name}:${JSON.stringify(hook.tool_input ?? null)}`,
        // The route is interrupted when the hook's connection closes: Claude stopped waiting.
        goneReason: `the ${hook.hook_event_name} hook's connection closed`
      },
      options.permissionTimeout
    )

  const onHook = (hook: HookEvent, session: SessionState): Effect.Effect<RouteResponse, unknown> =>
    Effect.gen(function* () {
      const watchOnly = session.watch_only === true
      const sessionId = session.id
      if ("_unknown" in hook) return accepted()
      switch (hook.hook_event_name) {
        case "UserPromptSubmit": {
          if (!watchOnly || hook.prompt_id === undefined) return accepted()
          const promptId = hook.prompt_id
          yield* setStatus(sessionId, hook, (s) =>
            s.status === "working" || s.status === "ended"
              ? Effect.void
              : record(sessionId, [{ event: { type: "turn_started", turn_id: promptId }, source_key: `turn:${promptId}` }])
          )
          return accepted()
        }
        case "PermissionRequest": {
          if (!watchOnly) return accepted()
          const decision = yield* holdFor(session, hook)
          switch (decision.kind) {
            case "approved":
              // "For this session" is an OrbitDock rule (revocable), not Claude's own permission.
              return accepted(permissionAnswer({ behavior: "allow" }))
            case "denied":
              return accepted(permissionAnswer({ behavior: "deny", message: "Denied from OrbitDock" }))
            default:
              return accepted()
          }
        }
        case "PreToolUse": {
          const held = options.holdPreToolUse.includes("*") || options.holdPreToolUse.includes(hook.tool_name)
          if (!watchOnly || !held) return accepted()
          const decision = yield* holdFor(session, hook)
          if (decision.kind === "approved") return accepted(preToolUseAnswer("allow", "Approved from OrbitDock"))
          if (decision.kind === "denied") return accepted(preToolUseAnswer("deny", "Denied from OrbitDock"))
          return accepted()
        }
        case "Stop": {
          if (!watchOnly) return accepted()
          yield* setStatus(sessionId, hook, (s) =>
            s.status !== "working"
              ? Effect.void
              : record(sessionId, [
                  { event: { type: "turn_completed" }, source_key: `turn-end:stop:${hook.prompt_id ?? host.newId("stop")}` }
                ])
          )
          return accepted()
        }
        case "SessionEnd": {
          if (!watchOnly) return accepted()
          yield* permissions.withdrawAll(sessionId, `claude ended the session (${hook.reason ?? "other"})`)
          yield* setStatus(sessionId, hook, (s) =>
            s.status === "ended"
              ? Effect.void
              : record(sessionId, [{ event: { type: "session_ended", reason: `claude exited (${hook.reason ?? "other"})` } }])
          )
          yield* tail.release(sessionId)
          return accepted()
        }
        case "SubagentStop": {
          const transcript = yield* ownTranscript(hook, "agent_transcript_path", hook.agent_transcript_path)
          if (transcript !== null) yield* tail.poke(transcript)
          return accepted()
        }
        default:
          return accepted()
      }
    })

  /** The route's handler: decode, make sure the session exists, act. Never fails. */
  const handle = (request: RouteRequest): Effect.Effect<RouteResponse> =>
    Effect.gen(function* () {
      const decoded = decodeHook(request.body)
      if (Either.isLeft(decoded)) return invalid(`not a Claude Code hook event: ${decoded.left}`)
      const hook = decoded.right
      const model = hook.hook_event_name === "SessionStart" && "model" in hook ? hook.model : undefined
      // A transcript path is only followed under Claude's projects directory; any other is ignored.
      const transcript = yield* ownTranscript(hook, "transcript_path", hook.transcript_path)
      const ensured = yield* index.ensure(hook.session_id, { cwd: hook.cwd, model })
      if (ensured._tag === "Unknown") return invalid(`hook for unknown session ${hook.session_id} has no cwd`)
      if (ensured._tag === "Foreign") {
        yield* Effect.logWarning(`claude hook: refused: ${hook.session_id} is a ${ensured.provider} session, not a claude one`)
        return forbidden(`session ${hook.session_id} is not a claude session`)
      }
      const session = ensured.session
      if (session.status === "ended" && hook.hook_event_name !== "SessionEnd") {
        // `claude --resume` of a session that had ended: it is live again.
        yield* record(session.id, [{ event: { type: "session_reopened", reason: `claude ${hook.hook_event_name}` } }])
      }
      if (session.watch_only === true) {
        // Which process runs it (SessionStart's command hook says; a restart reads it back), so its
        // death is noticed even without a SessionEnd. Driven sessions' processes are the driver's.
        const pid = hook.hook_event_name === "SessionStart" ? parsePid(request.headers[PID_HEADER]) : undefined
        if (pid !== undefined) yield* processes.started(session.id, pid, transcript)
        else yield* processes.watch(session.id)
      }
      // Read the transcript up to now first, so what the hook does lands after the messages it follows.
      if (transcript !== null) yield* tail.poke(transcript)
      const answer = yield* onHook(hook, session)
      // `202` means recorded: what the hook brought about (the session itself, the transcript read up
      // to now) is durable first. An empty commit waits for the session's own earlier entries only.
      if (answer.status === 202) yield* record(session.id, [])
      return answer
    }).pipe(
      Effect.catchIf(
        (e): e is NotRecorded => e instanceof NotRecorded,
        (e) => Effect.succeed<RouteResponse>({ status: 503, body: { code: "unavailable", message: e.message } })
      ),
      Effect.catchAllCause((cause) =>
        Effect.logError("claude hook failed", cause).pipe(
          Effect.as<RouteResponse>({ status: 500, body: { code: "internal", message: "hook handling failed" } })
        )
      )
    )

  return { handle }
}
