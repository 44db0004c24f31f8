/**
 * Builders for the event log tests: valid domain events (checked against the domain schemas),
 * summaries, a temp database directory and a log opened in its own scope so a test can close it.
 */
import type { MessageId, SessionId, SessionSummary } from "@orbitdock/domain"
import { StoredEvent } from "@orbitdock/domain"
import { Context, Effect, Exit, Layer, Scope, Schema } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { EventLog, type EventLogShape, type PendingEvent } from "../../src/eventlog/EventLog.js"
import * as EventLogSqlite from "../../src/eventlog/EventLogSqlite.js"

export const sid = (name: string) => name as SessionId

const at = (revision: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, revision)).toISOString()
const decodeStored = Schema.decodeUnknownSync(StoredEvent)

/** A ~500-byte `message_appended` (odd revisions) or a `message_updated` (even ones). */
export const event = (sessionId: SessionId, revision: number, sourceKey: string | null = `src-${revision}`): PendingEvent => ({
  stored: decodeStored({
    session_id: sessionId,
    revision,
    occurred_at: at(revision),
    event:
      revision % 2 === 1
        ? {
            type: "message_appended",
            message: {
              id: `m-${revision}` as MessageId,
              role: "assistant",
              content: `Message ${revision} of ${sessionId}: ` + "the writer batches appends and commits them off the main thread. ".repeat(6),
              created_at: at(revision),
              streaming: true
            }
          }
        : { type: "message_updated", message_id: `m-${revision - 1}`, changes: { streaming: false, content: `done ${revision}` } }
  }),
  source_key: sourceKey
})

/** Events `from..to` (inclusive) of one session. */
export const events = (sessionId: SessionId, from: number, to: number): Array<PendingEvent> =>
  Array.from({ length: to - from + 1 }, (_, i) => event(sessionId, from + i))

export const summary = (sessionId: SessionId, revision: number, createdSecond = 0): SessionSummary => ({
  id: sessionId,
  provider: "sim",
  status: "working",
  cwd: "/work",
  created_at: at(createdSecond),
  last_activity_at: at(revision),
  message_count: Math.ceil(revision / 2),
  attention: false,
  token_usage: { input: revision * 10, output: revision, cached_input: 0, total: revision * 11 },
  revision
})

/** A fresh directory for one test's database, removed with the scope. */
export const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "orbitdock-eventlog-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

/** A log on `dbPath` in its own scope: `close` commits what is queued and stops the worker. */
export const openLog = (options: EventLogSqlite.EventLogSqliteOptions) =>
  Effect.acquireRelease(
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(EventLogSqlite.layerWith(options), scope)
      const log: EventLogShape = Context.get(context, EventLog)
      return { log, close: Scope.close(scope, Exit.void) }
    }),
    // Also closed with the test's scope, should the test fail first (closing twice is a no-op).
    ({ close }) => close
  )
