/**
 * The raw reference log: better-sqlite3 with no layers, the same table shape as OrbitDock's event log
 * (position, session_id, revision, type, occurred_at, source_key, payload blob), WAL and
 * synchronous=NORMAL. Used by the raw append benchmark and its worker.
 */
import Database from "better-sqlite3"
import { codec, content, isoAt } from "../lib/events.js"

/** One row as the writer receives it. */
export type Row = readonly [sessionId: string, revision: number, type: string, occurredAt: string, sourceKey: string | null, payload: Buffer]

export interface RawLog {
  readonly db: Database.Database
  /** Appends rows in one transaction. */
  readonly append: (rows: ReadonlyArray<Row>) => void
  readonly close: () => void
}

export const openRawLog = (file: string): RawLog => {
  const db = new Database(file)
  db.pragma("journal_mode = WAL")
  db.pragma("synchronous = NORMAL")
  db.exec(`
    CREATE TABLE IF NOT EXISTS events (
      position INTEGER PRIMARY KEY,
      session_id TEXT NOT NULL,
      revision INTEGER NOT NULL,
      type TEXT NOT NULL,
      occurred_at TEXT NOT NULL,
      source_key TEXT,
      payload BLOB NOT NULL,
      UNIQUE (session_id, revision)
    );
    CREATE UNIQUE INDEX IF NOT EXISTS events_source_key ON events (session_id, source_key) WHERE source_key IS NOT NULL;
  `)
  const insert = db.prepare(
    "INSERT INTO events (session_id, revision, type, occurred_at, source_key, payload) VALUES (?, ?, ?, ?, ?, ?)"
  )
  const append = db.transaction((rows: ReadonlyArray<Row>) => {
    for (const row of rows) insert.run(row[0], row[1], row[2], row[3], row[4], row[5])
  })
  return { db, append: (rows) => append(rows), close: () => db.close() }
}

/** A generator of ~500-byte rows spread over `sessions` sessions, revisions gapless per session. */
export const rowSource = (sessions = 100) => {
  const json = codec("json")
  const revisions = new Array<number>(sessions).fill(0)
  let n = 0
  return (): Row => {
    const s = n++ % sessions
    const revision = ++revisions[s]!
    const sessionId = `raw-${s}`
    const payload = json.encode({
      type: "message_appended",
      message: { id: `m-${revision}` as never, role: "assistant", content: content(`#${n}`), created_at: isoAt(n) }
    })
    return [sessionId, revision, "message_appended", isoAt(n), `src-${revision}`, payload]
  }
}
