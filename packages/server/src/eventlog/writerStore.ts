/**
 * The writer's side of the database, run inside the writer worker on its own connection: commits
 * one batch of entries per transaction (events, checkpoints, summaries and the batch token
 * together). Owns the SQL of the write path and the classification of failures; it never throws
 * (every outcome is a `CommitResult`), so a bad batch cannot take the worker down.
 */
import type { SqlClient } from "@effect/sql/SqlClient"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type { CommitLane, CommitRequest, CommitResult, RejectedEntry, WriterEntry } from "./writerProtocol.js"

/** SQLite allows 32766 bound variables per statement (3.32+); stay well below. */
const ROWS_PER_INSERT = 500

type Row = ReadonlyArray<string | number | null>

const errorCode = (cause: unknown): string => {
  const inner = (cause as { cause?: unknown })?.cause ?? cause
  const code = (inner as { code?: unknown })?.code
  return typeof code === "string" ? code : "UNKNOWN"
}
const errorMessage = (cause: unknown): string => {
  const inner = (cause as { cause?: unknown })?.cause ?? cause
  return inner instanceof Error ? inner.message : String(inner)
}
/** A UNIQUE/NOT NULL/CHECK violation: the entry is wrong, retrying it cannot help. */
const isConstraint = (cause: unknown): boolean => errorCode(cause).startsWith("SQLITE_CONSTRAINT")

const statementText = new Map<string, string>()
/** `INSERT … VALUES (?,…),(?,…) [suffix]`, memoised so the prepared-statement cache hits. */
const multiRowInsert = (head: string, width: number, rows: number, suffix: string): string => {
  const key = `${head}|${rows}`
  let text = statementText.get(key)
  if (text === undefined) {
    const tuple = `(${Array.from({ length: width }, () => "?").join(",")})`
    text = `${head} VALUES ${Array.from({ length: rows }, () => tuple).join(",")} ${suffix}`
    statementText.set(key, text)
  }
  return text
}

const EVENTS = "INSERT INTO events (session_id, revision, type, occurred_at, source_key, payload)"
const CHECKPOINTS = "INSERT INTO checkpoints (key, value)"
const CHECKPOINTS_UPSERT = "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
const SUMMARIES = "INSERT INTO session_summaries (session_id, revision, created_at, summary)"
// A summary never goes back in time, whatever order two batches arrive in.
const SUMMARIES_UPSERT = `ON CONFLICT (session_id) DO UPDATE SET revision = excluded.revision,
  summary = excluded.summary WHERE excluded.revision >= session_summaries.revision`

const NOTIFICATIONS = "INSERT INTO notification_outbox (id, session_id, revision, created_at, payload)"
// A notification is queued once: an entry re-sent after a worker crash adds nothing.
const NOTIFICATIONS_IGNORE = "ON CONFLICT (id) DO NOTHING"
const DELIVERIES = "INSERT INTO notification_deliveries (notification_id, channel_id, status, attempts, updated_at, detail)"
const DELIVERIES_UPSERT = `ON CONFLICT (notification_id, channel_id) DO UPDATE SET status = excluded.status,
  attempts = excluded.attempts, updated_at = excluded.updated_at, detail = excluded.detail`

const RULE_EVENTS = "INSERT INTO rule_events (id, at, type, payload)"
// A rule event is recorded once: an entry re-sent after a worker crash adds nothing.
const RULE_EVENTS_IGNORE = "ON CONFLICT (id) DO NOTHING"

/** Each lane's last committed batch token (`eventLogSchema.ts`). */
const stateTable: Record<CommitLane, string> = { main: "writer_state", express: "writer_express_state" }

/** The last row per (notification, channel): one statement may not upsert the same key twice. */
const latestDeliveries = (entries: ReadonlyArray<WriterEntry>): Array<Row> => {
  const latest = new Map<string, Row>()
  for (const entry of entries) for (const row of entry.deliveries) latest.set(`${row[0]}\u0000${row[1]}`, row)
  return [...latest.values()]
}

export const makeWriterStore = (sql: SqlClient) => {
  const insertRows = (head: string, width: number, rows: ReadonlyArray<Row>, suffix = "") =>
    Effect.forEach(
      Array.from({ length: Math.ceil(rows.length / ROWS_PER_INSERT) }, (_, i) =>
        rows.slice(i * ROWS_PER_INSERT, (i + 1) * ROWS_PER_INSERT)
      ),
      (chunk) => sql.unsafe(multiRowInsert(head, width, chunk.length, suffix), chunk.flat()).raw,
      { discard: true }
    )

  const markBatch = (lane: CommitLane, token: string, rejected: ReadonlyArray<RejectedEntry>) =>
    sql.unsafe(
      `INSERT INTO ${stateTable[lane]} (id, batch_token, rejected) VALUES (1, ?, ?)
       ON CONFLICT (id) DO UPDATE SET batch_token = excluded.batch_token, rejected = excluded.rejected`,
      [token, JSON.stringify(rejected)]
    ).raw

  /** The outcome of `token` if it is the last batch committed (a retry after a worker crash). */
  const previousOutcome = (lane: CommitLane, token: string) =>
    sql
      .unsafe<{ batch_token: string; rejected: string }>(`SELECT batch_token, rejected FROM ${stateTable[lane]} WHERE id = 1`)
      .pipe(
        Effect.map(([row]) =>
          row?.batch_token === token
            ? ({ _tag: "Committed", rejected: JSON.parse(row.rejected) as Array<RejectedEntry> } as const)
            : null
        )
      )

  /** The common case: every entry is fine; one multi-row INSERT per table. */
  const commitAll = (lane: CommitLane, token: string, entries: ReadonlyArray<WriterEntry>, rejected: ReadonlyArray<RejectedEntry>) => {
    const checkpoints = new Map<unknown, Row>()
    const summaries = new Map<unknown, Row>()
    for (const entry of entries) {
      // Later entries win: only the latest value of a key (summary of a session) is written.
      for (const row of entry.checkpoints) checkpoints.set(row[0], row)
      if (entry.summary) summaries.set(entry.summary[0], entry.summary)
    }
    return Effect.all(
      [
        insertRows(EVENTS, 6, entries.flatMap((entry) => entry.events)),
        insertRows(CHECKPOINTS, 2, [...checkpoints.values()], CHECKPOINTS_UPSERT),
        insertRows(SUMMARIES, 4, [...summaries.values()], SUMMARIES_UPSERT),
        insertRows(NOTIFICATIONS, 5, entries.flatMap((entry) => entry.notifications), NOTIFICATIONS_IGNORE),
        insertRows(DELIVERIES, 6, latestDeliveries(entries), DELIVERIES_UPSERT),
        insertRows(RULE_EVENTS, 4, entries.flatMap((entry) => entry.ruleEvents), RULE_EVENTS_IGNORE),
        markBatch(lane, token, rejected)
      ],
      { discard: true }
    )
  }

  /**
   * After a constraint violation: each entry in its own savepoint, so the offending entries are
   * rolled back alone and the rest of the batch still commits in the same transaction.
   */
  const commitEach = (lane: CommitLane, token: string, entries: ReadonlyArray<WriterEntry>, rejected: Array<RejectedEntry>) =>
    Effect.gen(function* () {
      for (let index = 0; index < entries.length; index++) {
        if (rejected.some((r) => r.index === index)) continue
        const entry = entries[index]
        yield* sql
          .withTransaction(
            Effect.all(
              [
                insertRows(EVENTS, 6, entry.events),
                insertRows(CHECKPOINTS, 2, entry.checkpoints, CHECKPOINTS_UPSERT),
                insertRows(SUMMARIES, 4, entry.summary ? [entry.summary] : [], SUMMARIES_UPSERT),
                insertRows(NOTIFICATIONS, 5, entry.notifications, NOTIFICATIONS_IGNORE),
                insertRows(DELIVERIES, 6, latestDeliveries([entry]), DELIVERIES_UPSERT),
                insertRows(RULE_EVENTS, 4, entry.ruleEvents, RULE_EVENTS_IGNORE)
              ],
              { discard: true }
            )
          )
          .pipe(
            Effect.catchIf(isConstraint, (cause) =>
              Effect.sync(() => rejected.push({ index, code: errorCode(cause), message: errorMessage(cause) }))
            )
          )
      }
      rejected.sort((a, b) => a.index - b.index)
      yield* markBatch(lane, token, rejected)
    })

  /** Commits a batch; never fails (see `CommitResult`). */
  const commit = (request: CommitRequest): Effect.Effect<CommitResult> => {
    const rejected: Array<RejectedEntry> = []
    const once = <E, R>(body: Effect.Effect<void, E, R>) =>
      sql.withTransaction(
        Effect.gen(function* () {
          const previous = request.retry ? yield* previousOutcome(request.lane, request.token) : null
          if (previous) return previous
          yield* body
          return { _tag: "Committed", rejected } as CommitResult
        })
      )
    return once(commitAll(request.lane, request.token, request.entries, rejected)).pipe(
      Effect.catchIf(isConstraint, () => once(commitEach(request.lane, request.token, request.entries, rejected))),
      Effect.catchAllCause((cause) => {
        const failure = Cause.squash(cause)
        return Effect.succeed<CommitResult>({ _tag: "Failed", code: errorCode(failure), message: errorMessage(failure) })
      })
    )
  }

  return { commit } as const
}
