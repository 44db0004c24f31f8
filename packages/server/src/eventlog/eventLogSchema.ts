/**
 * The event log's SQLite schema: connection pragmas and the migrations, run once at startup by the
 * main-thread connection before the writer worker starts (so a broken database fails the layer
 * instead of a worker that keeps respawning). Owns DDL only; reads and writes live elsewhere.
 */
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"

/**
 * Per-connection settings. WAL lets the main-thread readers run while the worker commits;
 * `synchronous = NORMAL` in WAL mode syncs at checkpoints, not at every commit: a power loss may
 * lose the last commits but never tears one, and a process crash loses nothing committed.
 */
export const pragmas = (busyTimeoutMs: number) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql.unsafe("PRAGMA journal_mode = WAL")
    yield* sql.unsafe("PRAGMA synchronous = NORMAL")
    yield* sql.unsafe(`PRAGMA busy_timeout = ${busyTimeoutMs}`)
  })

const initial = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  // `position` aliases the rowid: the global log order, assigned at insert. The full event
  // (with its `type`) is the JSON payload; `type` is repeated as a column for queries by type.
  yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS events (
    position INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL,
    revision INTEGER NOT NULL,
    type TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    source_key TEXT,
    payload BLOB NOT NULL,
    UNIQUE (session_id, revision)
  )`)
  yield* sql.unsafe(`CREATE UNIQUE INDEX IF NOT EXISTS events_source_key
    ON events (session_id, source_key) WHERE source_key IS NOT NULL`)
  yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS checkpoints (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) WITHOUT ROWID`)
  // rowid order is first-seen order: an upsert keeps the row's rowid.
  yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS session_summaries (
    session_id TEXT PRIMARY KEY,
    revision INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    summary BLOB NOT NULL
  )`)
  // The token of the last committed batch (see writerProtocol.CommitRequest) and the entries it refused.
  yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS writer_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    batch_token TEXT NOT NULL,
    rejected TEXT NOT NULL
  )`)
  // The same for the express lane (`writeQueue.ts`): its batches commit beside the main lane's, so
  // after a worker crash either lane's last batch may be the one re-sent.
  yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS writer_express_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    batch_token TEXT NOT NULL,
    rejected TEXT NOT NULL
  )`)
})

/**
 * Projection snapshots (see `snapshotStore.ts`): per session, the JSON of its whole
 * `SessionProjection` as of `revision`, written by the writer worker from committed events only.
 * Derived data: deleting the table's rows loses nothing but hydration speed.
 */
const snapshots = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS snapshots (
    session_id TEXT PRIMARY KEY,
    revision INTEGER NOT NULL,
    projection TEXT NOT NULL
  )`)
})

/**
 * Message pages (see `snapshotStore.ts`): a session's older messages, PAGE_MESSAGES per row as a
 * JSON array, written by the writer worker with the snapshot that pages them out. A snapshot's
 * `paged` is how many messages its session has in pages (its state holds the ones after them).
 * Derived data like the snapshots: both are rebuilt from the events when a snapshot is unusable.
 */
const messagePages = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS message_pages (
    session_id TEXT NOT NULL,
    first_seq INTEGER NOT NULL,
    messages TEXT NOT NULL,
    PRIMARY KEY (session_id, first_seq)
  )`)
  yield* sql.unsafe("ALTER TABLE snapshots ADD COLUMN paged INTEGER NOT NULL DEFAULT 0")
})

/**
 * Notifications (`notify/`): the outbox, each row queued in the transaction of the events that
 * caused it, and what became of it on each channel (sent, failed after its retries, skipped).
 */
const notifications = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS notification_outbox (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    revision INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    payload TEXT NOT NULL
  )`)
  yield* sql.unsafe("CREATE INDEX IF NOT EXISTS notification_outbox_created ON notification_outbox (created_at)")
  yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS notification_deliveries (
    notification_id TEXT NOT NULL,
    channel_id TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    detail TEXT NOT NULL,
    PRIMARY KEY (notification_id, channel_id)
  ) WITHOUT ROWID`)
})

/**
 * Approval rules (`rules/`): every change of the rule set, in order, so the rules in force at any
 * past moment can be folded again.
 */
const ruleEvents = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS rule_events (
    position INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    at TEXT NOT NULL,
    type TEXT NOT NULL,
    payload TEXT NOT NULL
  )`)
  // The approvals alone, for trying rules against the past: partial, so other events cost nothing more.
  yield* sql.unsafe(`CREATE INDEX IF NOT EXISTS events_approvals ON events (position)
    WHERE type IN ('approval_requested', 'approval_resolved')`)
})

/**
 * The migrations, in order: the number before `_` is the schema version each one brings. Append
 * only; a released migration never changes (databases out there have run it).
 */
export const migrations: Readonly<Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>>> = {
  "0001_event_log": initial,
  "0002_snapshots": snapshots,
  "0003_message_pages": messagePages,
  "0004_notifications": notifications,
  "0005_rule_events": ruleEvents
}

/** The schema version `migrations` bring a database to. */
export const versionOf = (record: Readonly<Record<string, unknown>>): number =>
  Math.max(0, ...Object.keys(record).map((key) => Number.parseInt(key, 10)))

export const SCHEMA_VERSION = versionOf(migrations)

/**
 * Applies the migrations not yet applied, all in one transaction (`effect_sql_migrations` records
 * them), then stamps the version as `PRAGMA user_version` (see `schemaUpgrade.ts`).
 */
export const migrate = (record: Readonly<Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>>> = migrations) =>
  Effect.gen(function* () {
    yield* Migrator.make({})({ loader: Migrator.fromRecord(record), table: "effect_sql_migrations" })
    const sql = yield* SqlClient.SqlClient
    const version = versionOf(record)
    const [stamped] = yield* sql.unsafe<{ user_version: number }>("PRAGMA user_version")
    if (stamped?.user_version === version) return
    // A log the migrations table already dates is readable without the stamp: a database that is
    // busy now (another process holds its lock) still opens, and is stamped at a later start.
    yield* sql.unsafe(`PRAGMA user_version = ${version}`).pipe(
      Effect.catchAll((error) => Effect.logWarning(`could not stamp the event log's schema version ${version} yet: ${error.message}`))
    )
  })
