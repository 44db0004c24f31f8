// A process that writes to the event log as fast as it can until it is killed (SIGKILL by
// EventLog.test.ts). Plain JS over the compiled `dist/` so it runs under bare `node`.
// Every entry carries checkpoints and a summary that a test can check against the events:
// `rev:<session>` = the session's last revision, `total` = events appended so far.
import { Effect, Context, Layer } from "effect"
import { EventLog } from "../../dist/eventlog/EventLog.js"
import * as EventLogSqlite from "../../dist/eventlog/EventLogSqlite.js"

const dbPath = process.argv[2]
const sessions = ["crash-a", "crash-b", "crash-c", "crash-d"]
const revisions = new Map(sessions.map((s) => [s, 0]))
const at = new Date(0).toISOString()
const padding = "x".repeat(2000)
let total = 0

const entry = (n) => {
  const session = sessions[n % sessions.length]
  const from = revisions.get(session)
  const events = Array.from({ length: 20 }, (_, i) => ({
    stored: {
      session_id: session,
      revision: from + i + 1,
      occurred_at: at,
      event: { type: "diff_updated", diff: `${session} ${from + i + 1} ${padding}` }
    },
    source_key: `${session}-${from + i + 1}`
  }))
  revisions.set(session, from + 20)
  total += 20
  return {
    events,
    checkpoints: [{ key: `rev:${session}`, value: String(from + 20) }, { key: "total", value: String(total) }],
    summary: {
      id: session, provider: "sim", status: "working", cwd: "/", created_at: at, last_activity_at: at,
      message_count: 0, attention: false, token_usage: { input: 0, output: 0, cached_input: 0, total: 0 },
      revision: from + 20
    }
  }
}

const program = Effect.gen(function* () {
  const log = yield* EventLog
  let n = 0
  let previous = Effect.void
  while (true) {
    // Keep one chunk queued while the previous one commits, so the worker is always mid-batch.
    let last = Effect.void
    for (let i = 0; i < 10; i++) last = yield* log.append(entry(n++))
    yield* previous
    if (n === 20) process.stdout.write("committing\n")
    previous = last
  }
})

Effect.runFork(program.pipe(Effect.provide(EventLogSqlite.layerWith({ dbPath, flushMs: 2, batchSize: 200 }))))
