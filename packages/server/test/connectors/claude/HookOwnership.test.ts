/**
 * Hooks act only on what they own: a `transcript_path` is read only under Claude's projects directory
 * (after resolving symlinks; anything else is ignored with a log line), a hook's `session_id` only
 * ever names a `claude` session (never writes to nor reopens a `sim` one), and a session's transcript
 * followers go away when it ends.
 */
import type { SessionId } from "@orbitdock/domain"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Logger, Metric } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Sim from "../../../src/connectors/Sim.js"
import * as Metrics from "../../../src/Metrics.js"
import { memoryLog, scenario, startRegistry, tempClaudeDir } from "./harness.js"

const BASH = "32a9abc5-7370-422b-8909-fe402aff55be"

/** Runs `effect` and returns what it logged, one string per line. */
const logged = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function* () {
    const lines: Array<string> = []
    const logger = Logger.make(({ message }) => lines.push((Array.isArray(message) ? message : [message]).map(String).join(" ")))
    const result = yield* effect.pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
    return { result, lines }
  })

const followed = Effect.map(Metric.value(Metrics.claudeTranscriptsFollowed), (state) => state.value)

describe("Claude hooks act only on what they own", () => {
  it.scopedLive("a transcript_path outside Claude's projects directory is never read: elsewhere, through a symlink, through ..", () =>
    Effect.gen(function* () {
      const claudeDir = yield* tempClaudeDir
      const elsewhere = yield* tempClaudeDir
      const run = yield* startRegistry(yield* memoryLog, { claudeDir })
      // The same transcript, complete, outside the projects dir (it could be any file on disk).
      const outside = scenario(elsewhere, BASH)
      outside.appendLines(0, outside.lines.length)
      const projectDir = path.join(claudeDir, "projects", "-link")
      fs.mkdirSync(projectDir, { recursive: true })
      const link = path.join(projectDir, `${BASH}.jsonl`)
      fs.symlinkSync(outside.file, link)
      // Not path.join: it would take the ".." out.
      const dotted = `${claudeDir}/projects/../../${path.basename(elsewhere)}/${path.relative(elsewhere, outside.file)}`
      expect(fs.existsSync(dotted)).toBe(true)

      const paths = [outside.file, link, dotted, "/etc/passwd", "relative/x.jsonl"]
      const logs: Array<string> = []
      for (const transcript_path of paths) {
        const { result, lines } = yield* logged(run.post({ ...outside.hook("Stop"), transcript_path }))
        expect(result.status).toBe(202)
        logs.push(...lines)
      }
      const subagent = yield* logged(
        run.post({ ...outside.hook("Stop"), hook_event_name: "SubagentStop", agent_transcript_path: outside.file })
      )
      // The session exists (its hooks are welcome), but nothing of the outside file reached it.
      const state = yield* run.sessions.get(BASH as SessionId)
      expect(state.messages).toEqual([])
      expect(state.token_usage.total).toBe(0)
      // Each refusal says so in the log.
      for (const transcript_path of paths) {
        expect(logs.filter((l) => l.includes(`ignoring transcript_path ${JSON.stringify(transcript_path)}`))).toHaveLength(1)
      }
      expect(subagent.lines.filter((l) => l.includes(`ignoring agent_transcript_path ${JSON.stringify(outside.file)}`))).toHaveLength(1)
      yield* run.stop
    })
  )

  it.scopedLive("a hook naming a sim session is refused: the session is neither written to nor reopened", () =>
    Effect.gen(function* () {
      const claudeDir = yield* tempClaudeDir
      const run = yield* startRegistry(yield* memoryLog, { claudeDir }, [Sim.make])
      const { session_id } = yield* run.sessions.execute({ type: "create_session", provider: "sim", cwd: "/work" })
      const simId = session_id!
      yield* run.sessions.execute({ type: "end_session", session_id: simId })
      const before = yield* run.sessions.get(simId)
      expect(before.status).toBe("ended")
      const s = scenario(claudeDir, BASH)
      for (const name of ["UserPromptSubmit", "SessionStart", "Stop", "SessionEnd", "PermissionRequest"]) {
        const hook = s.hooks.find((h) => h.hook_event_name === name) ?? { ...s.hook("Stop"), hook_event_name: name, tool_name: "Bash" }
        const { result, lines } = yield* logged(run.post({ ...hook, session_id: simId, transcript_path: undefined }))
        expect(result).toEqual({ status: 403, body: { code: "forbidden", message: `session ${simId} is not a claude session` } })
        expect(lines.some((l) => l.includes(`${simId} is a sim session`))).toBe(true)
      }
      const after = yield* run.sessions.get(simId)
      expect(after.status).toBe("ended")
      expect(after.revision).toBe(before.revision)
      // Nor through a transcript file named after it.
      const file = path.join(claudeDir, "projects", "-work", `${simId}.jsonl`)
      fs.mkdirSync(path.dirname(file), { recursive: true })
      fs.writeFileSync(file, `${s.lines.join("\n")}\n`)
      yield* run.post({ ...s.hook("Stop"), transcript_path: file })
      expect((yield* run.sessions.get(simId)).revision).toBe(before.revision)
      yield* run.stop
    })
  )

  it.scopedLive("a session's transcript followers are removed when it ends, and come back when it is resumed", () =>
    Effect.gen(function* () {
      const claudeDir = yield* tempClaudeDir
      // Written before the start (found by the startup catch-up), so that no file-change event of
      // the watcher arrives during the test and starts a follower of its own.
      const s = scenario(claudeDir, BASH)
      s.appendLines(0, s.lines.length)
      const baseline = yield* followed
      const run = yield* startRegistry(yield* memoryLog, { claudeDir })
      yield* run.post(s.hook("UserPromptSubmit"))
      yield* run.post(s.hook("Stop"))
      expect(yield* followed).toBe(baseline + 1)
      expect((yield* run.post(s.hook("SessionEnd"))).status).toBe(202)
      expect((yield* run.sessions.get(BASH as SessionId)).status).toBe("ended")
      expect(yield* followed).toBe(baseline)
      // `claude --resume`: the session lives again and its transcript is followed again.
      yield* run.post({ ...s.hook("UserPromptSubmit"), prompt_id: "after-resume" })
      expect((yield* run.sessions.get(BASH as SessionId)).status).toBe("working")
      expect(yield* followed).toBe(baseline + 1)
      yield* run.post(s.hook("SessionEnd"))
      expect(yield* followed).toBe(baseline)
      yield* run.stop
    })
  )
})
