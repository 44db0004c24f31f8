/**
 * The Claude Code connector: wires the hook route, the transcript tailer, held permission prompts and
 * headless driving into one `Connector`.
 *
 * Which source owns what (so one Claude session is one OrbitDock timeline with no duplicate):
 * - transcript JSONL: every message (prompts of watched sessions, assistant text/thinking/tool calls,
 *   tool results, compaction, subagent sidechains) and all token usage;
 * - headless stdout: the same messages earlier, under the same source keys (the first copy wins),
 *   plus a driven session's turn ends and permission prompts;
 * - hooks: a watched session's existence, turn starts/ends, end, and its permission prompts;
 * - its process (`ClaudeProcesses.ts`): a watched session's end when claude died without saying so;
 * - commands: a driven session's prompts and turn starts, approvals, interrupts and end.
 */
import { type SessionId, unsupported } from "@orbitdock/domain"
import { Duration, Effect, Option } from "effect"
import * as os from "node:os"
import * as path from "node:path"
import type { Connector, ConnectorFactory, ConnectorHost } from "../Connector.js"
import * as ClaudeProcesses from "./ClaudeProcesses.js"
import * as Headless from "./Headless.js"
import * as HeadlessProcess from "./HeadlessProcess.js"
import * as HookIngest from "./HookIngest.js"
import * as PermissionHold from "./PermissionHold.js"
import * as SessionIndex from "./SessionIndex.js"
import * as TranscriptTail from "./TranscriptTail.js"

export interface ClaudeConnectorOptions {
  /** `--claude-bin` (ServerConfig.claudeBin); null/undefined: `ORBITDOCK_CLAUDE_BIN`, then `claude` on PATH. */
  readonly claudeBin?: string | null | undefined
  /** Environment for lookup and for the driven `claude` processes; default: the server's own. */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined
  /** Claude Code's config dir; default `$CLAUDE_CONFIG_DIR`, else `<home>/.claude`. */
  readonly claudeDir?: string | undefined
  /**
   * How long a held PermissionRequest/PreToolUse hook waits for a decision before answering "no
   * decision" (Claude's own prompt takes over). Default: `ORBITDOCK_CLAUDE_PERMISSION_TIMEOUT_MS`,
   * else 100 s, below the 120 s hook timeout that `orbitdock hooks install` writes.
   */
  readonly permissionTimeout?: Duration.DurationInput | undefined
  /**
   * Tools whose PreToolUse hook is held for approval too (`"*"`: all). Default:
   * `ORBITDOCK_CLAUDE_HOLD_PRETOOLUSE` (comma-separated), else none.
   */
  readonly holdPreToolUse?: ReadonlyArray<string> | undefined
  /**
   * At startup, also import transcripts OrbitDock has no checkpoint for that changed this recently
   * (sessions that started while it was down, or whose first events were lost in a crash). Files
   * with a checkpoint always resume. Default 24 hours; 0 turns the import off.
   */
  readonly importRecent?: Duration.DurationInput | undefined
}

export const DEFAULT_PERMISSION_TIMEOUT = Duration.seconds(100)
export const DEFAULT_IMPORT_RECENT = Duration.hours(24)

const timeoutFromEnv = (env: Readonly<Record<string, string | undefined>>): Duration.Duration | undefined => {
  const ms = Number(env.ORBITDOCK_CLAUDE_PERMISSION_TIMEOUT_MS)
  return Number.isFinite(ms) && ms > 0 ? Duration.millis(ms) : undefined
}

/** The Claude Code config directory for an environment. */
export const claudeDirOf = (env: Readonly<Record<string, string | undefined>>): string =>
  env.CLAUDE_CONFIG_DIR ?? path.join(env.HOME ?? os.homedir(), ".claude")

/** Builds the connector factory; the server registers it with its other connectors. */
export const makeClaudeConnector =
  (options: ClaudeConnectorOptions = {}): ConnectorFactory =>
  (host: ConnectorHost) =>
    Effect.gen(function* () {
      const env = options.env ?? process.env
      const claudeDir = options.claudeDir ?? claudeDirOf(env)
      const index = SessionIndex.make(host)
      const permissions = PermissionHold.make(host)
      const tail = yield* TranscriptTail.make(host, index, {
        claudeDir,
        importRecentMs: Duration.toMillis(options.importRecent ?? DEFAULT_IMPORT_RECENT)
      })
      /** A watched session whose claude died without a SessionEnd hook ends, after its transcript's last lines. */
      const onGone = (sessionId: SessionId, record: ClaudeProcesses.ProcessRecord) =>
        Effect.gen(function* () {
          // A transcript recorded by an older version may lie anywhere: `poke` reads only owned ones.
          if (record.transcript !== null) yield* tail.poke(record.transcript)
          yield* permissions.withdrawAll(sessionId, `claude exited (process ${record.pid} is gone)`)
          yield* index.locked(
            sessionId,
            Effect.gen(function* () {
              const state = yield* host.state(sessionId)
              if (Option.isNone(state) || state.value.status === "ended" || state.value.watch_only !== true) return
              const reason = `claude exited without ending its session (process ${record.pid} is gone)`
              const receipt = yield* host.emit(sessionId, [{ event: { type: "session_ended", reason } }])
              yield* receipt.folded
              yield* Effect.logInfo(`claude: session ${sessionId} ended: ${reason}`)
            })
          )
          yield* tail.release(sessionId)
        })
      const processes = yield* ClaudeProcesses.make(host, onGone)
      const hooks = HookIngest.make(host, index, tail, permissions, processes, {
        permissionTimeout: options.permissionTimeout ?? timeoutFromEnv(env) ?? DEFAULT_PERMISSION_TIMEOUT,
        holdPreToolUse:
          options.holdPreToolUse ??
          (env.ORBITDOCK_CLAUDE_HOLD_PRETOOLUSE ?? "").split(",").map((t) => t.trim()).filter((t) => t.length > 0)
      })
      const bin = HeadlessProcess.findClaudeBin(options.claudeBin, env)
      const headless = yield* Headless.make(host, index, tail, permissions, { bin, env, claudeDir })
      if (bin === undefined) yield* Effect.logDebug("claude: no claude binary found; driven sessions are unsupported")

      const connector: Connector = {
        provider: "claude",
        create: headless.create,
        sendMessage: headless.sendMessage,
        approve: headless.approve,
        // Claude Code's questions (AskUserQuestion) arrive as tool permission prompts, never as questions.
        answer: (session) => Effect.fail(unsupported(`claude session ${session.id} has no pending question`)),
        interrupt: headless.interrupt,
        // Its transcripts are no longer followed once it ended.
        end: (session) => Effect.zipRight(headless.end(session), tail.release(session.id)),
        // A terminal session may well still be running: its hooks and transcript close the turn. If
        // its process is gone instead (`resumeWatching`), `onGone` reads its transcript to the end,
        // which closes a turn that completed, and ends the session: not "interrupted: server
        // restarted", since OrbitDock's restart stopped nothing.
        survivedRestart: (session) => Effect.succeed(session.watch_only === true),
        // Every live session's recorded process, if it has one (terminal sessions), is watched again.
        // Its approvals still pending were held by hooks connected to the previous server process:
        // those hooks are gone, so the approvals are withdrawn.
        resumeWatching: (sessionId, attention) =>
          (attention
            ? PermissionHold.withdrawOrphans(host, permissions, sessionId, "OrbitDock restarted: the hook that asked is gone").pipe(
                Effect.catchAll((e) => Effect.logWarning(`claude: withdrawing the stale approvals of ${sessionId} failed: ${e.message}`))
              )
            : Effect.void
          ).pipe(Effect.zipRight(processes.watch(sessionId))),
        routes: [{ method: "POST", path: "/hook", handle: hooks.handle }]
      }
      return connector
    })
