/**
 * Which process runs a watched (terminal) Claude session, and noticing when it is gone.
 *
 * Why: a terminal session ends with a SessionEnd hook, but a claude that is killed (a closed
 * terminal, SIGKILL, a crash) sends none, nor does one that exited while OrbitDock was down. Its
 * session would show `working` forever. The pid comes from the SessionStart command hook (`$PPID`
 * of the hook's shell is claude, `HookSettings.ts`); where `/proc` exists, its start time is
 * recorded too, so a reused pid is not taken for it. Kept in a checkpoint, so it survives restarts.
 *
 * Owns the records and the periodic check; what a gone process means for its session is the
 * caller's (`onGone`).
 */
import type { SessionId } from "@orbitdock/domain"
import { Duration, Effect, Option, Schema } from "effect"
import * as fs from "node:fs"
import type { ConnectorHost } from "../Connector.js"

/** The checkpoint key of a watched session's process. */
export const processKey = (sessionId: SessionId): string => `claude:process:${sessionId}`

export const ProcessRecord = Schema.Struct({
  pid: Schema.Int.pipe(Schema.positive()),
  /** `/proc/<pid>/stat`'s start time (clock ticks since boot), where there is one. */
  start: Schema.NullOr(Schema.String),
  /** The session's transcript, read to its end before the session is ended. */
  transcript: Schema.NullOr(Schema.String)
})
export type ProcessRecord = typeof ProcessRecord.Type

const decodeRecord = Schema.decodeOption(Schema.parseJson(ProcessRecord))

/** How often watched processes are checked. */
export const CHECK_INTERVAL = Duration.seconds(2)

/** A live process's start time (Linux), null where it cannot be read. */
export const startTimeOf = (pid: number): string | null => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    // Field 2 (the command name, in parentheses) may hold spaces: count from after its ")".
    // What follows starts at field 3; the start time is field 22.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? null
  } catch {
    return null
  }
}

/** Whether the recorded process still runs (another process that got its pid does not count). */
export const isAlive = (record: ProcessRecord): boolean => {
  try {
    process.kill(record.pid, 0)
  } catch (error) {
    // EPERM: it exists, it is just not ours to signal.
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return false
  }
  if (record.start === null) return true
  const start = startTimeOf(record.pid)
  return start === null || start === record.start
}

/** A pid as a hook's `x-claude-pid` header carries it. */
export const parsePid = (header: string | undefined): number | undefined => {
  if (header === undefined || !/^\d{1,10}$/.test(header.trim())) return undefined
  const pid = Number(header.trim())
  return pid > 1 && pid <= 0x7fffffff ? pid : undefined
}

export interface ClaudeProcesses {
  /**
   * A SessionStart hook said which process runs the session: recorded (durably, replacing the one
   * before: a resumed session runs in a new process) and watched.
   */
  readonly started: (sessionId: SessionId, pid: number, transcript: string | null) => Effect.Effect<void>
  /** Watches the session's recorded process, if it has one (its checkpoint is read once per session). */
  readonly watch: (sessionId: SessionId) => Effect.Effect<void>
}

/**
 * Starts the periodic check in the caller's scope. `onGone` is called once per record whose
 * process is gone, and then the record is no longer watched.
 */
export const make = <E>(host: ConnectorHost, onGone: (sessionId: SessionId, record: ProcessRecord) => Effect.Effect<void, E>) =>
  Effect.gen(function* () {
    const watched = new Map<SessionId, ProcessRecord>()
    /** Sessions whose checkpoint was read already (watched or not). */
    const recalled = new Set<SessionId>()

    const started = (sessionId: SessionId, pid: number, transcript: string | null) =>
      Effect.gen(function* () {
        const record: ProcessRecord = { pid, start: startTimeOf(pid), transcript }
        recalled.add(sessionId)
        watched.set(sessionId, record)
        const receipt = yield* host.emit(sessionId, [], {
          checkpoints: [{ key: processKey(sessionId), value: JSON.stringify(record) }]
        })
        yield* receipt.durable
      }).pipe(Effect.catchAll((e) => Effect.logWarning(`claude: process of ${sessionId} not recorded: ${e.message}`)))

    const watch = (sessionId: SessionId): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (recalled.has(sessionId)) return Effect.void
        return host.checkpoint(processKey(sessionId)).pipe(
          Effect.map((value) => {
            // A hook may have recorded a newer one meanwhile.
            if (recalled.has(sessionId)) return
            recalled.add(sessionId)
            const record = Option.flatMap(value, decodeRecord)
            if (Option.isSome(record)) watched.set(sessionId, record.value)
          })
        )
      })

    const check = Effect.gen(function* () {
      for (const [sessionId, record] of [...watched]) {
        if (isAlive(record)) continue
        if (watched.get(sessionId) !== record) continue
        watched.delete(sessionId)
        yield* onGone(sessionId, record).pipe(
          Effect.catchAllCause((cause) => Effect.logWarning(`claude: ending session ${sessionId} failed`, cause))
        )
      }
    })
    yield* Effect.forkScoped(check.pipe(Effect.delay(CHECK_INTERVAL), Effect.forever))

    return { started, watch } satisfies ClaudeProcesses
  })
