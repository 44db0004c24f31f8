/**
 * Watch-only Codex sessions: Codex runs started elsewhere (a terminal `codex`, `codex exec`, an IDE)
 * write rollout files under `$CODEX_HOME/sessions/YYYY/MM/DD/rollout-*.jsonl`. This module follows
 * them with chokidar, reads each file from its checkpointed byte offset, and emits what
 * `CodexRolloutTranslate` makes of the complete lines, committing the new offset in the same
 * transaction as the events (exactly-once across crashes). Rollouts of threads OrbitDock's own
 * app-server runs (originator = our client name) are skipped: those sessions are driven live.
 */
import type { SessionId } from "@orbitdock/domain"
import { watch } from "chokidar"
import { Effect, Either, Option, Queue, Runtime, Schedule, Schema, type Scope } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { ConnectorHost, EventInput } from "../Connector.js"
import * as R from "./CodexRolloutTranslate.js"

export interface RolloutWatchOptions {
  readonly env: Readonly<Record<string, string | undefined>>
  /** Rollouts from this client name are our own threads. */
  readonly clientName: string
  /** Files not written to within this long before startup are not imported. */
  readonly lookbackMs: number
  /** How often followed files are re-checked for growth chokidar did not report (default 1 s). */
  readonly recheckMs?: number
}

/** Lines per emit: a long rollout is imported in bounded steps, each with its own checkpoint. */
const LINES_PER_EMIT = 500

interface FileState {
  /** null: not a watched session (ours, or not a rollout). */
  readonly sessionId: SessionId | null
  offset: number
  translation: R.RolloutState
}

export const codexHome = (env: Readonly<Record<string, string | undefined>>): string =>
  env.CODEX_HOME ?? path.join(env.HOME ?? os.homedir(), ".codex")

const checkpointKey = (file: string) => `codex:rollout:${file}`
const decodeRecord = Schema.decodeUnknownEither(Schema.parseJson(R.RolloutRecord))
const isRollout = (file: string) => /^rollout-.*\.jsonl$/.test(path.basename(file))

/** The first line of a file (the `session_meta`), read in chunks since it can be long. */
const firstLine = (file: string): string | undefined => {
  const fd = fs.openSync(file, "r")
  try {
    const chunks: Array<Buffer> = []
    let position = 0
    for (;;) {
      const buffer = Buffer.alloc(64 * 1024)
      const n = fs.readSync(fd, buffer, 0, buffer.length, position)
      if (n === 0) return undefined
      const newline = buffer.subarray(0, n).indexOf(0x0a)
      if (newline >= 0) {
        chunks.push(buffer.subarray(0, newline))
        return Buffer.concat(chunks).toString("utf8")
      }
      chunks.push(buffer.subarray(0, n))
      position += n
    }
  } finally {
    fs.closeSync(fd)
  }
}

/** The complete lines after `offset`, and the offset after the last of them. */
const readLines = (file: string, offset: number): { lines: Array<string>; end: number } => {
  const size = fs.statSync(file).size
  if (size <= offset) return { lines: [], end: offset }
  const fd = fs.openSync(file, "r")
  try {
    const buffer = Buffer.alloc(size - offset)
    const n = fs.readSync(fd, buffer, 0, buffer.length, offset)
    const lastNewline = buffer.subarray(0, n).lastIndexOf(0x0a)
    if (lastNewline < 0) return { lines: [], end: offset }
    const text = buffer.subarray(0, lastNewline).toString("utf8")
    return { lines: text.split("\n"), end: offset + lastNewline + 1 }
  } finally {
    fs.closeSync(fd)
  }
}

/** Starts following rollouts for the lifetime of the scope. */
export const watchRollouts = (host: ConnectorHost, options: RolloutWatchOptions): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function* () {
    const dir = path.join(codexHome(options.env), "sessions")
    const startedAt = Date.now()
    const files = new Map<string, FileState>()
    const changed = yield* Queue.unbounded<{ readonly file: string; readonly initial: boolean; readonly mtimeMs: number }>()

    /** Learns what a file is: a session to follow, or one to skip. */
    const identify = (file: string) =>
      Effect.gen(function* () {
        const line = yield* Effect.try(() => firstLine(file)).pipe(Effect.orElseSucceed(() => undefined))
        if (line === undefined) return undefined // session_meta not fully written yet
        const record = decodeRecord(line)
        const meta = Either.isRight(record) ? R.sessionMetaOf(record.right) : undefined
        if (meta === undefined || meta.originator === options.clientName) {
          const skipped: FileState = { sessionId: null, offset: 0, translation: R.initialRollout }
          files.set(file, skipped)
          return skipped
        }
        const sessionId = meta.id as SessionId
        const saved = yield* host.checkpoint(checkpointKey(file))
        const exists = Option.isSome(yield* host.state(sessionId))
        const state: FileState = {
          sessionId,
          offset: Option.match(saved, { onNone: () => 0, onSome: (value) => Number(value) || 0 }),
          translation: { created: exists, model: undefined }
        }
        files.set(file, state)
        return state
      })

    const ingest = (file: string, initial: boolean, mtimeMs: number) =>
      Effect.gen(function* () {
        let state = files.get(file)
        if (state === undefined) {
          const saved = yield* host.checkpoint(checkpointKey(file))
          // An old rollout we never followed: leave it alone (a busy ~/.codex holds thousands).
          if (initial && Option.isNone(saved) && mtimeMs < startedAt - options.lookbackMs) return
          state = yield* identify(file)
          if (state === undefined) return
        }
        if (state.sessionId === null) return
        const sessionId = state.sessionId
        const { lines, end } = yield* Effect.try(() => readLines(file, state.offset)).pipe(
          Effect.orElseSucceed(() => ({ lines: [] as Array<string>, end: state.offset }))
        )
        let offset = state.offset
        for (let start = 0; start < lines.length; start += LINES_PER_EMIT) {
          const batch = lines.slice(start, start + LINES_PER_EMIT)
          const events: Array<EventInput> = []
          let translation = state.translation
          for (const line of batch) {
            offset += Buffer.byteLength(line, "utf8") + 1
            const record = decodeRecord(line)
            if (Either.isLeft(record)) continue
            const step = R.translateRolloutRecord(translation, record.right, host.now())
            translation = step.state
            events.push(...step.events)
          }
          if (!translation.created) continue // nothing can be recorded before the session exists
          const checkpoints = [{ key: checkpointKey(file), value: String(offset) }]
          const emitted = yield* host.emit(sessionId, events, { checkpoints }).pipe(Effect.either)
          if (Either.isLeft(emitted)) {
            return yield* Effect.logWarning(`codex: rollout ${file} refused: ${emitted.left.message}`)
          }
          state.translation = translation
          state.offset = offset
        }
        if (end !== offset) state.offset = end
      })

    const runtime = yield* Effect.runtime<never>()
    const offer = (file: string, initial: boolean, stats?: fs.Stats) =>
      Runtime.runSync(runtime)(Queue.offer(changed, { file, initial, mtimeMs: stats?.mtimeMs ?? Date.now() }))

    let ready = false
    // chokidar does not notice a watched path that is created later: until Codex first creates
    // its sessions dir, the re-check below looks for it and adds it then.
    let watching = fs.existsSync(dir)
    const watcher = yield* Effect.acquireRelease(
      Effect.sync(() =>
        watch(watching ? dir : [], {
          ignoreInitial: false,
          alwaysStat: true,
          ignored: (file, stats) => stats?.isFile() === true && !isRollout(file)
        })
          .on("add", (file, stats) => offer(file, !ready, stats))
          .on("change", (file, stats) => offer(file, false, stats))
          .on("ready", () => (ready = true))
          .on("error", (error) => Runtime.runSync(runtime)(Effect.logWarning(`codex: rollout watcher: ${String(error)}`)))
      ),
      (w) => Effect.promise(() => w.close())
    )
    // (observed) chokidar can miss the last of a burst of appends (the rollout's final lines stay
    // unread until the next write, which may never come): followed files are re-checked at a low
    // rate and read when they grew.
    yield* Effect.sync(() => {
      if (!watching && fs.existsSync(dir)) {
        watching = true
        watcher.add(dir)
      }
      for (const [file, state] of files) {
        if (state.sessionId === null) continue
        const size = fs.statSync(file, { throwIfNoEntry: false })?.size ?? 0
        if (size > state.offset) offer(file, false)
      }
    }).pipe(
      Effect.catchAllCause((cause) => Effect.logDebug("codex: rollout re-check failed", cause)),
      Effect.repeat(Schedule.spaced(options.recheckMs ?? 1000)),
      Effect.forkScoped
    )
    yield* Queue.take(changed).pipe(
      Effect.flatMap(({ file, initial, mtimeMs }) => (isRollout(file) ? ingest(file, initial, mtimeMs) : Effect.void)),
      Effect.catchAllCause((cause) => Effect.logWarning("codex: a rollout could not be read", cause)),
      Effect.forever,
      Effect.forkScoped
    )
  })
