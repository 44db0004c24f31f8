/**
 * Replays a recorded `codex app-server` transcript (test/fixtures/codex) through the real schemas and
 * `CodexTranslate`, the way the connector does for one thread: notifications and server requests are
 * decoded and translated in order; our recorded answers to approvals resolve them as the connector's
 * `approve_tool` does. The events are folded by the real `SessionProjection`, dropping repeated
 * source keys as the session actor does.
 */
import type { SessionId, StoredEvent } from "@orbitdock/domain"
import { SessionProjection } from "@orbitdock/projections"
import { Either, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import type { EventInput } from "../../../src/connectors/Connector.js"
import * as S from "../../../src/connectors/codex/CodexSchemas.js"
import * as T from "../../../src/connectors/codex/CodexTranslate.js"

export const fixture = (name: string): string =>
  path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "fixtures", "codex", name)

export interface TranscriptLine {
  readonly t: number
  readonly dir: "send" | "recv" | "meta"
  readonly label?: string
  readonly msg: Record<string, unknown>
}

export const readTranscript = (name: string): Array<TranscriptLine> =>
  fs
    .readFileSync(fixture(name), "utf8")
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as TranscriptLine)

const decodeNotification = Schema.decodeUnknownEither(S.Notification)
const decodeRequest = Schema.decodeUnknownEither(S.ServerRequest)

export interface Replay {
  readonly events: Array<EventInput>
  readonly state: T.ThreadState
  /** Methods of known notifications that did not decode (should be none). */
  readonly undecodable: Array<string>
}

export const NOW = "2026-11-27T00:00:00.000Z"

/** Translates `lines` for `threadId`, starting from `state`. */
export const replayLines = (lines: ReadonlyArray<TranscriptLine>, threadId: string, start: T.ThreadState = T.initial): Replay => {
  let state = start
  const events: Array<EventInput> = []
  const undecodable: Array<string> = []
  for (const { dir, msg } of lines) {
    if (dir === "recv" && typeof msg.method === "string" && !("id" in msg)) {
      if (!S.notificationMethods.has(msg.method)) continue
      const decoded = decodeNotification(msg)
      if (Either.isLeft(decoded)) {
        undecodable.push(msg.method)
        continue
      }
      if (decoded.right.params.threadId !== threadId) continue
      const step = T.translateNotification(state, decoded.right, NOW)
      state = step.state
      events.push(...step.events)
    } else if (dir === "recv" && typeof msg.method === "string" && "id" in msg) {
      const decoded = decodeRequest(msg)
      if (Either.isLeft(decoded)) {
        undecodable.push(msg.method)
        continue
      }
      const step = T.translateServerRequest(state, decoded.right, NOW)
      state = step.state
      events.push(...step.events)
    } else if (dir === "send" && "result" in msg && "id" in msg && msg.method === undefined) {
      // Our answer to a server request: resolve it as `approve_tool` / `answer_question` do.
      const entry = Object.entries(state.pending).find(([, p]) => p.rpcId === msg.id)
      if (entry === undefined) continue
      const [requestId, pending] = entry
      const result = msg.result as { decision?: unknown }
      state = T.answered(state, requestId)
      events.push(
        pending.kind === "approval"
          ? {
              event: {
                type: "approval_resolved",
                request_id: requestId as never,
                outcome: result.decision === "decline" ? "denied" : "approved"
              },
              source_key: `request:${requestId}:resolved`
            }
          : { event: { type: "question_resolved", request_id: requestId as never, outcome: "answered" }, source_key: `request:${requestId}:resolved` }
      )
    }
  }
  return { events, state, undecodable }
}

/** The thread id a transcript's first `thread/start` returned. */
export const threadIdOf = (lines: ReadonlyArray<TranscriptLine>): string => {
  for (const { dir, msg } of lines) {
    const result = msg.result as { thread?: { id?: string } } | undefined
    if (dir === "recv" && typeof result?.thread?.id === "string") return result.thread.id
  }
  throw new Error("no thread/start in transcript")
}

const SESSION = "ses_codex_test" as SessionId

/** Folds events after a `session_created` with the real projection, dropping repeated source keys. */
export const fold = (events: ReadonlyArray<EventInput>) => {
  let projection = SessionProjection.empty(SESSION)
  const keys = new Set<string>()
  const stored: Array<StoredEvent> = []
  const all: Array<EventInput> = [
    { event: { type: "session_created", provider: "codex", cwd: "/work", status: "waiting" } },
    ...events
  ]
  for (const input of all) {
    if (input.source_key !== undefined) {
      if (keys.has(input.source_key)) continue
      keys.add(input.source_key)
    }
    const event: StoredEvent = {
      session_id: SESSION,
      revision: projection.state.revision + 1,
      occurred_at: input.occurred_at ?? NOW,
      event: input.event
    }
    stored.push(event)
    projection = SessionProjection.evolve(projection, event)[0]
  }
  return { projection, state: projection.state, stored }
}

/** The lines of one turn, from our `turn/start` to its `turn/completed`. */
export const turnLines = (lines: ReadonlyArray<TranscriptLine>, marker: string): Array<TranscriptLine> => {
  const start = lines.findIndex(
    (l) => l.dir === "send" && l.msg.method === "turn/start" && JSON.stringify(l.msg.params).includes(marker)
  )
  if (start < 0) throw new Error(`no turn ${marker}`)
  const end = lines.findIndex((l, i) => i > start && l.dir === "recv" && l.msg.method === "turn/completed")
  return lines.slice(start, end + 1)
}
