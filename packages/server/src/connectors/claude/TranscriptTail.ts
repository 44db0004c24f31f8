/**
 * Follows Claude Code transcript files (`<claude dir>/projects/<enc-cwd>/<session>.jsonl` and their
 * `<session>/subagents/agent-*.jsonl`) with one chokidar watcher, and turns complete lines into
 * OrbitDock events through `TranscriptTranslate`.
 *
 * Owns: byte offsets (a partial last line waits for its newline), the checkpoint committed with the
 * events of each batch (`claude:transcript:<path>` = `<offset>:<last counted API message id>`), token
 * totals de-duplicated by `message.id`, and — for watch-only sessions — turn boundaries seen in the
 * transcript (so a catch-up after downtime still closes turns). Does not own hooks or processes.
 *
 * Reads only transcripts under the projects directory (`TranscriptFiles`): a path from elsewhere is
 * ignored. One follower (a fiber) per file while its session lives: once the session has ended, the
 * follower stops after its next read (`release` makes that happen at once); a later change or poke
 * starts a new one from the checkpoint.
 *
 * Exactly once: a batch's events and its new offset commit in one transaction; every event carries a
 * source key derived from the record's `uuid`, so re-reading after a crash only yields duplicates,
 * which the session actor drops.
 */
import type { EventInput } from "../Connector.js"
import type { ConnectorHost } from "../Connector.js"
import type { MessageId, SessionId, SessionState, TokenUsage, ToolCall } from "@orbitdock/domain"
import { watch, type FSWatcher } from "chokidar"
import { Effect, Metric, Option, Queue } from "effect"
import * as path from "node:path"
import * as Metrics from "../../Metrics.js"
import type { SessionIndex } from "./SessionIndex.js"
import * as TranscriptFiles from "./TranscriptFiles.js"
import { type FileState, readLines } from "./TranscriptFiles.js"
import { lookupIn, translateRecord } from "./TranscriptTranslate.js"

export const checkpointKey = (file: string): string => `claude:transcript:${file}`

/** `<offset>:<message id>`; the id is the last API message whose tokens were counted. */
export const parseCheckpoint = (value: string): { offset: number; lastMessageId: string } => {
  const colon = value.indexOf(":")
  const offset = Number(colon < 0 ? value : value.slice(0, colon))
  return { offset: Number.isFinite(offset) && offset >= 0 ? offset : 0, lastMessageId: colon < 0 ? "" : value.slice(colon + 1) }
}

/** The Claude session id a transcript file belongs to (subagent files belong to their parent). */
export const claudeIdOfFile = (file: string): string | undefined => {
  const base = path.basename(file)
  if (!base.endsWith(".jsonl")) return undefined
  const dir = path.dirname(file)
  if (path.basename(dir) === "subagents") return path.basename(path.dirname(dir))
  return base.slice(0, -".jsonl".length)
}

export interface TailOptions {
  /** Claude Code's config directory (`$CLAUDE_CONFIG_DIR`, else `~/.claude`). */
  readonly claudeDir: string
  /** At startup, import transcripts never seen before that changed within this many ms (0: none). */
  readonly importRecentMs: number
}

export interface TranscriptTail {
  /**
   * The transcript file a path (from a hook body, a record) names, as the tail spells it; null when
   * it is not a `.jsonl` file under Claude's projects directory (after resolving symlinks).
   */
  readonly own: (file: string) => string | null
  /** Follows a file (idempotent); a path `own` refuses is ignored. */
  readonly follow: (file: string) => Effect.Effect<void>
  /** Reads whatever is new in a followed file now and waits until it is handed to the actors. */
  readonly poke: (file: string) => Effect.Effect<void>
  /** Stops following an ended session's files (after reading what is left); no-op while it lives. */
  readonly release: (sessionId: SessionId) => Effect.Effect<void>
}

/** What wakes a follower: a change (null) or a poke, which runs once the file is read. */
type Signal = Effect.Effect<void> | null

interface Follower {
  readonly wake: Queue.Queue<Signal>
}

/** Starts the watcher in the current scope. */
export const make = (host: ConnectorHost, index: SessionIndex, options: TailOptions) =>
  Effect.gen(function* () {
    const paths = TranscriptFiles.make(path.join(options.claudeDir, "projects"))
    const projects = paths.projects
    const followers = new Map<string, Follower>()
    // Held while followers are created, handed a signal, or removed: a follower that stops never
    // leaves a signal (a poke's latch) unread in its queue.
    const lock = yield* Effect.makeSemaphore(1)
    const changed = yield* Queue.unbounded<string>()
    const scope = yield* Effect.scope

    // The followers' fibers end with the scope: so do they in the gauge.
    yield* Effect.addFinalizer(() => Metric.modify(Metrics.claudeTranscriptsFollowed, -followers.size))

    const watcher: FSWatcher = yield* Effect.acquireRelease(
      Effect.sync(() =>
        watch([], {
          ignoreInitial: true,
          depth: 4,
          // Only transcript files matter; directories must pass so the walk reaches them.
          ignored: (p, stats) => stats !== undefined && stats.isFile() && !p.endsWith(".jsonl")
        })
      ),
      (w) => Effect.promise(() => w.close())
    )
    watcher.on("add", (p) => Queue.unsafeOffer(changed, p))
    watcher.on("change", (p) => Queue.unsafeOffer(changed, p))
    watcher.on("error", () => undefined)

    const lookupWith = (state: SessionState, local: Map<string, ToolCall>) => {
      const saved = lookupIn(state.messages)
      return (id: MessageId) => local.get(id) ?? saved(id)
    }

    /** Translates one batch of complete lines and emits it with the file's new checkpoint. */
    const ingest = (file: string, claudeId: string, lines: ReadonlyArray<Buffer>, state: FileState, endOffset: number) =>
      Effect.gen(function* () {
        const records: Array<unknown> = []
        let cwd: string | undefined
        for (const line of lines) {
          if (line.length === 0) continue
          try {
            const record: unknown = JSON.parse(line.toString("utf8"))
            records.push(record)
            if (cwd === undefined && typeof record === "object" && record !== null) {
              const c = (record as Record<string, unknown>).cwd
              if (typeof c === "string") cwd = c
            }
          } catch {
            // A corrupt line (e.g. cut by a crash, then appended to) is skipped, never fatal.
            yield* Effect.logDebug(`claude: skipped an unreadable line in ${file}`)
          }
        }
        const ensured = yield* index.ensure(claudeId, { cwd })
        if (ensured._tag === "Foreign") {
          yield* Effect.logWarning(`claude: ignoring ${file}: ${ensured.sessionId} is a ${ensured.provider} session`)
          return false
        }
        // Nothing conversational yet (no cwd seen): these bookkeeping lines carry no message.
        if (ensured._tag === "Unknown") return false
        const session = ensured.session
        const sessionId = session.id
        yield* index.locked(
          sessionId,
          Effect.gen(function* () {
            const current = Option.getOrElse(yield* host.state(sessionId), () => session)
            const now = host.now()
            const tools = new Map<string, ToolCall>()
            const lookup = lookupWith(current, tools)
            const events: Array<EventInput> = []
            const watchOnly = current.watch_only === true
            let usage: TokenUsage = current.token_usage
            let model = current.model
            let working = current.status === "working"
            for (const record of records) {
              const t = translateRecord(record, lookup, now)
              for (const e of t.events) {
                // A driven session's prompts are recorded by the send_message command itself.
                const prompt = e.event.type === "message_appended" && e.event.message.role === "user"
                if (!watchOnly && prompt && t.turnStarted !== undefined) continue
                events.push(e)
                if (e.event.type === "message_appended" && e.event.message.tool !== undefined) {
                  tools.set(e.event.message.id, e.event.message.tool)
                }
                if (e.event.type === "message_updated" && e.event.changes.tool !== undefined) {
                  tools.set(e.event.message_id, e.event.changes.tool)
                }
              }
              if (t.model !== undefined && t.model !== model) {
                model = t.model
                events.push({ event: { type: "session_info_changed", model } })
              }
              if (t.usage !== undefined && t.usage.messageId !== state.lastMessageId) {
                state.lastMessageId = t.usage.messageId
                const input = usage.input + t.usage.usage.input
                const output = usage.output + t.usage.usage.output
                usage = {
                  input,
                  output,
                  cached_input: usage.cached_input + t.usage.usage.cached_input,
                  total: input + output
                }
                events.push({ event: { type: "tokens_updated", usage }, source_key: `tokens:${t.usage.messageId}` })
              }
              if (!watchOnly) continue
              if (t.turnStarted !== undefined && !working) {
                working = true
                events.push({ event: { type: "turn_started", turn_id: t.turnStarted }, source_key: `turn:${t.turnStarted}` })
              }
              const uuid = (record as Record<string, unknown>).uuid
              if (t.turnEnded !== undefined && working && typeof uuid === "string") {
                working = false
                events.push({
                  event:
                    t.turnEnded === "completed"
                      ? { type: "turn_completed" }
                      : { type: "turn_aborted", reason: "interrupted by the user" },
                  source_key: `turn-end:${uuid}`
                })
              }
            }
            const checkpoint = { key: checkpointKey(file), value: `${endOffset}:${state.lastMessageId}` }
            yield* host.emit(sessionId, events, { checkpoints: [checkpoint] }).pipe(
              Effect.catchAll((e) => Effect.logWarning(`claude: transcript events of ${sessionId} refused: ${e.message}`))
            )
          })
        )
        return true
      })

    /** Reads a file from its offset to the end, batch by batch (bounded memory for big files). */
    const drainFile = (file: string, claudeId: string, state: FileState) =>
      Effect.gen(function* () {
        while (true) {
          const before = state.offset
          const lines = yield* Effect.promise(() => readLines(file, state))
          if (lines.length === 0) return
          let consumed = 0
          for (const line of lines) consumed += line.length + 1
          const end = before + consumed
          const done = yield* ingest(file, claudeId, lines, state, end)
          state.offset = end
          if (!done) {
            // No session to attribute these bookkeeping lines to yet: they carry no conversation.
            yield* Effect.logDebug(`claude: ${file}: ${lines.length} lines before the session is known`)
          }
        }
      })

    /** Whether the session a file belongs to (its name says which) has ended. */
    const isEnded = (claudeId: string) =>
      index.resolve(claudeId).pipe(
        Effect.flatMap(host.state),
        Effect.map(Option.exists((s) => s.status === "ended"))
      )

    /** Removes a follower whose session ended, unless a signal arrived meanwhile. */
    const stopIfIdle = (file: string, follower: Follower) =>
      lock.withPermits(1)(
        Effect.gen(function* () {
          if ((yield* Queue.size(follower.wake)) > 0) return false
          if (followers.get(file) === follower) followers.delete(file)
          yield* Metric.modify(Metrics.claudeTranscriptsFollowed, -1)
          return true
        })
      )

    /** The file's follower, started (from its checkpoint) if there is none. Called with the lock held. */
    const followerOf = (file: string) =>
      Effect.gen(function* () {
        const existing = followers.get(file)
        if (existing !== undefined) return existing
        const claudeId = claudeIdOfFile(file)
        const wake = yield* Queue.unbounded<Signal>()
        const saved = yield* host.checkpoint(checkpointKey(file))
        const state: FileState = {
          ...(Option.isSome(saved) ? parseCheckpoint(saved.value) : { offset: 0, lastMessageId: "" }),
          pending: Buffer.alloc(0)
        }
        const follower: Follower = { wake }
        const loop = Effect.gen(function* () {
          while (true) {
            // Coalesce a burst of change events into one read.
            const signals = yield* Queue.takeBetween(wake, 1, Number.MAX_SAFE_INTEGER)
            if (claudeId !== undefined) {
              yield* drainFile(file, claudeId, state).pipe(
                Effect.catchAllCause((cause) => Effect.logWarning(`claude: tailing ${file} failed`, cause))
              )
            }
            // Decided before the pokes are answered, so that `release` returns with the follower gone.
            const stopped = claudeId !== undefined && (yield* isEnded(claudeId)) && (yield* stopIfIdle(file, follower))
            for (const signal of signals) if (signal !== null) yield* signal
            if (stopped) return
          }
        })
        yield* Effect.forkIn(loop, scope)
        followers.set(file, follower)
        yield* Metric.modify(Metrics.claudeTranscriptsFollowed, 1)
        return follower
      })

    /** Hands a signal to the file's follower, starting one if needed. */
    const signal = (file: string, wake: Signal) =>
      lock.withPermits(1)(Effect.flatMap(followerOf(file), (follower) => Queue.offer(follower.wake, wake)))

    // One dispatcher turns watcher events into follower wake-ups, creating followers on first sight.
    yield* Effect.forkScoped(
      Effect.forever(
        Effect.gen(function* () {
          // The watcher follows symlinks in the tree: what they point to is judged like a hook's path.
          const file = paths.own(yield* Queue.take(changed))
          if (file === null || claudeIdOfFile(file) === undefined) return
          yield* signal(file, null)
        })
      )
    )

    /** The owned spelling of a path, or null with a log line saying why it is ignored. */
    const owned = (file: string) =>
      Effect.suspend(() => {
        const own = paths.own(file)
        if (own === null || claudeIdOfFile(own) === undefined) {
          return Effect.as(Effect.logWarning(`claude: ignoring ${file}: not a transcript under ${projects}`), null)
        }
        return Effect.succeed(own)
      })

    const follow = (file: string) =>
      Effect.flatMap(owned(file), (own) => (own === null ? Effect.void : signal(own, null)))

    const poke = (file: string) =>
      Effect.gen(function* () {
        const own = yield* owned(file)
        if (own === null) return
        const done = yield* Effect.makeLatch(false)
        yield* signal(own, done.open)
        yield* done.await
      })

    const release = (sessionId: SessionId) =>
      Effect.gen(function* () {
        for (const file of [...followers.keys()]) {
          const claudeId = claudeIdOfFile(file)
          if (claudeId === undefined || (yield* index.resolve(claudeId)) !== sessionId) continue
          const done = yield* Effect.makeLatch(false)
          yield* signal(file, done.open)
          yield* done.await
        }
      })

    yield* Effect.promise(
      () =>
        new Promise<void>((resolve) => {
          watcher.once("ready", () => resolve())
          watcher.add(projects)
        })
    )
    yield* catchUp(projects, options.importRecentMs, host, (file) => signal(file, null))

    const tail: TranscriptTail = { own: paths.own, follow, poke, release }
    return tail
  })

/** Resumes files with a checkpoint that grew while we were away, and imports recent unknown ones. */
const catchUp = (
  projects: string,
  importRecentMs: number,
  host: ConnectorHost,
  follow: (file: string) => Effect.Effect<unknown>
) =>
  Effect.gen(function* () {
    const files = yield* Effect.promise(() => TranscriptFiles.listTranscripts(projects))
    const cutoff = Date.now() - importRecentMs
    for (const { file, size, mtimeMs } of files) {
      const saved = yield* host.checkpoint(checkpointKey(file))
      const resume = Option.isSome(saved) ? parseCheckpoint(saved.value).offset < size : importRecentMs > 0 && mtimeMs >= cutoff
      if (resume) yield* follow(file)
    }
  })
