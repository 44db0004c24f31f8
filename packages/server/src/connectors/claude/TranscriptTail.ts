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
 * Exactly once: a batch's events and its new offset commit in one transaction; every event carries a
 * source key derived from the record's `uuid`, so re-reading after a crash only yields duplicates,
 * which the session actor drops.
 */
import type { EventInput } from "../Connector.js"
import type { ConnectorHost } from "../Connector.js"
import type { MessageId, SessionId, SessionState, TokenUsage, ToolCall } from "@orbitdock/domain"
import { watch, type FSWatcher } from "chokidar"
import { Effect, Fiber, Option, Queue, Ref } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import type { SessionIndex } from "./SessionIndex.js"
import { lookupIn, translateRecord } from "./TranscriptTranslate.js"

/** Bytes read per step; a longer line is assembled over several reads. */
const CHUNK = 1024 * 1024
/** A batch (one emit, one checkpoint) ends after about this many bytes of complete lines. */
const BATCH_BYTES = 4 * 1024 * 1024

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
  /** Follows a file (idempotent); a file outside the watched tree is added to the watcher. */
  readonly follow: (file: string) => Effect.Effect<void>
  /** Reads whatever is new in a followed file now and waits until it is handed to the actors. */
  readonly poke: (file: string) => Effect.Effect<void>
}

interface Follower {
  readonly wake: Queue.Queue<Effect.Effect<void> | null>
  readonly fiber: Fiber.RuntimeFiber<void>
}

interface FileState {
  offset: number
  lastMessageId: string
  /** Bytes of an incomplete last line, kept until its newline arrives. */
  pending: Buffer
}

/** Starts the watcher in the current scope. */
export const make = (host: ConnectorHost, index: SessionIndex, options: TailOptions) =>
  Effect.gen(function* () {
    const projects = path.join(options.claudeDir, "projects")
    const followers = new Map<string, Follower>()
    const changed = yield* Queue.unbounded<string>()
    const scope = yield* Effect.scope

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

    const read = (file: string, state: FileState): Effect.Effect<Array<Buffer>> =>
      Effect.promise(async () => {
        const lines: Array<Buffer> = []
        let handle: fs.promises.FileHandle
        try {
          handle = await fs.promises.open(file, "r")
        } catch {
          return lines
        }
        try {
          const { size } = await handle.stat()
          // A shorter file was replaced or truncated: start over (source keys drop what repeats).
          if (size < state.offset + state.pending.length) {
            state.offset = 0
            state.pending = Buffer.alloc(0)
          }
          const start = state.offset + state.pending.length
          let position = start
          while (position < size && !(lines.length > 0 && position - start >= BATCH_BYTES)) {
            const buffer = Buffer.alloc(Math.min(CHUNK, size - position))
            const { bytesRead } = await handle.read(buffer, 0, buffer.length, position)
            if (bytesRead === 0) break
            position += bytesRead
            let data = Buffer.concat([state.pending, buffer.subarray(0, bytesRead)])
            let newline = data.indexOf(10)
            while (newline >= 0) {
              lines.push(data.subarray(0, newline))
              data = data.subarray(newline + 1)
              newline = data.indexOf(10)
            }
            state.pending = Buffer.from(data)
          }
          return lines
        } finally {
          await handle.close()
        }
      })

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
        const session = yield* index.ensure(claudeId, { cwd })
        // Nothing conversational yet (no cwd seen): these bookkeeping lines carry no message.
        if (Option.isNone(session)) return false
        const sessionId = session.value.id as SessionId
        yield* index.locked(
          sessionId,
          Effect.gen(function* () {
            const current = Option.getOrElse(yield* host.state(sessionId), () => session.value)
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
          const lines = yield* read(file, state)
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

    /** Files outside `<claude dir>/projects` (another CLAUDE_CONFIG_DIR) are added to the watcher. */
    const isInside = (file: string) => {
      const relative = path.relative(projects, file)
      return !relative.startsWith("..") && !path.isAbsolute(relative)
    }

    const startFollower = (file: string) =>
      Effect.gen(function* () {
        const existing = followers.get(file)
        if (existing !== undefined) return existing
        const claudeId = claudeIdOfFile(file)
        if (!isInside(file)) watcher.add(file)
        const wake = yield* Queue.unbounded<Effect.Effect<void> | null>()
        const saved = yield* host.checkpoint(checkpointKey(file))
        const state: FileState = {
          ...(Option.isSome(saved) ? parseCheckpoint(saved.value) : { offset: 0, lastMessageId: "" }),
          pending: Buffer.alloc(0)
        }
        const loop = Effect.gen(function* () {
          while (true) {
            // Coalesce a burst of change events into one read.
            const signals = yield* Queue.takeBetween(wake, 1, Number.MAX_SAFE_INTEGER)
            if (claudeId !== undefined) {
              yield* drainFile(file, claudeId, state).pipe(
                Effect.catchAllCause((cause) => Effect.logWarning(`claude: tailing ${file} failed`, cause))
              )
            }
            for (const signal of signals) if (signal !== null) yield* signal
          }
        })
        const fiber = yield* Effect.forkIn(loop, scope)
        const follower: Follower = { wake, fiber }
        followers.set(file, follower)
        yield* Queue.offer(wake, null)
        return follower
      })

    // One dispatcher turns watcher events into follower wake-ups, creating followers on first sight.
    yield* Effect.forkScoped(
      Effect.forever(
        Effect.gen(function* () {
          const file = yield* Queue.take(changed)
          if (claudeIdOfFile(file) === undefined) return
          const follower = followers.get(file)
          if (follower === undefined) yield* startFollower(file)
          else yield* Queue.offer(follower.wake, null)
        })
      )
    )

    const follow = (file: string) =>
      Effect.gen(function* () {
        if (claudeIdOfFile(file) === undefined) return
        yield* startFollower(file)
      })

    const poke = (file: string) =>
      Effect.gen(function* () {
        if (claudeIdOfFile(file) === undefined) return
        const follower = yield* startFollower(file)
        const done = yield* Effect.makeLatch(false)
        yield* Queue.offer(follower.wake, done.open)
        yield* done.await
      })

    yield* Effect.promise(
      () =>
        new Promise<void>((resolve) => {
          fs.mkdirSync(projects, { recursive: true })
          watcher.once("ready", () => resolve())
          watcher.add(projects)
        })
    )
    yield* catchUp(projects, options.importRecentMs, host, startFollower)

    const tail: TranscriptTail = { follow, poke }
    return tail
  })

/** Resumes files with a checkpoint that grew while we were away, and imports recent unknown ones. */
const catchUp = (
  projects: string,
  importRecentMs: number,
  host: ConnectorHost,
  startFollower: (file: string) => Effect.Effect<unknown>
) =>
  Effect.gen(function* () {
    const files = yield* Effect.promise(() => listTranscripts(projects))
    const cutoff = Date.now() - importRecentMs
    for (const { file, size, mtimeMs } of files) {
      const saved = yield* host.checkpoint(checkpointKey(file))
      const resume = Option.isSome(saved) ? parseCheckpoint(saved.value).offset < size : importRecentMs > 0 && mtimeMs >= cutoff
      if (resume) yield* startFollower(file)
    }
  })

const listTranscripts = async (projects: string) => {
  const out: Array<{ file: string; size: number; mtimeMs: number }> = []
  const walk = async (dir: string, depth: number): Promise<void> => {
    let entries: Array<fs.Dirent>
    try {
      entries = await fs.promises.readdir(dir, { withFileTypes: true })
    } catch {
      return
    }
    for (const entry of entries) {
      const full = path.join(dir, entry.name)
      if (entry.isDirectory() && depth < 3) await walk(full, depth + 1)
      else if (entry.isFile() && entry.name.endsWith(".jsonl")) {
        const stat = await fs.promises.stat(full).catch(() => undefined)
        if (stat !== undefined) out.push({ file: full, size: stat.size, mtimeMs: stat.mtimeMs })
      }
    }
  }
  await walk(projects, 0)
  return out
}
