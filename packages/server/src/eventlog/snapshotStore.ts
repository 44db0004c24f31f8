/**
 * Projection snapshots: the `snapshots` table (one row per session: the JSON of its
 * `SessionProjection` as of `revision`, whose state keeps only the last messages; the older ones
 * are in `message_pages`, see `messagePages.ts`), written off the main thread by the writer worker and read
 * on hydration (`EventLog.loadSession`), so a session comes back as one row plus the events after
 * it instead of a replay of its whole history. Owns the snapshot policy, building one snapshot from
 * the committed log, and the worker's scheduling of that work between commits.
 *
 * A snapshot only ever folds committed events: it is built in its own transaction from the
 * previous snapshot (and its pages) and the event rows after it, read back from the database, never from an
 * in-flight batch. A crash can therefore lose a snapshot, never make one disagree with the log, and
 * a missing, stale or unreadable row only costs a longer replay.
 *
 * Written on a raw better-sqlite3 connection of its own (synchronous, prepared statements): in the
 * worker it sits next to the commit connection and runs only while no commit is in progress, so the
 * two never wait on each other's lock in one thread. The bench's log writer calls `buildSnapshots`
 * to give its pre-written log the snapshots a server that had run would have left.
 */
import type { SessionId } from "@orbitdock/domain"
import { SessionProjection } from "@orbitdock/projections"
import Database from "better-sqlite3"
import type BetterSqlite3 from "better-sqlite3"
import * as MessagePages from "./messagePages.js"
import { decodeSessionRow } from "./payloadCodec.js"
import { decodeSnapshot, encodeSnapshot } from "./snapshotCodec.js"
import type { CommitRequest, CommitResult } from "./writerProtocol.js"

/**
 * A session is due a snapshot once this many events were committed after its last one. A snapshot
 * holds only the session's last messages (the older ones go to pages, `messagePages.ts`), so its
 * cost is that of the events it folds, not of the session: a few ms per 256 events on the worker,
 * mostly while it is idle. The interval also bounds what a live session keeps in memory beyond its
 * last `KEEP_MESSAGES` messages (the actor drops paged messages once a snapshot has them), and the
 * tail a hydration replays (~2–3 µs per event on the main thread).
 */
export const SNAPSHOT_EVERY = 256

/**
 * A snapshot folds at most this many events: it is one synchronous transaction in the worker, and a
 * commit that arrives meanwhile waits for it. A session further behind (its snapshots were put off
 * during a burst, or it comes from an older database) catches up in several snapshots.
 */
export const SNAPSHOT_MAX_FOLD = 1024

/** Whether a session whose snapshot is at `snapshotRevision` is due a new one at `committedRevision`. */
export const snapshotDue = (snapshotRevision: number, committedRevision: number, every = SNAPSHOT_EVERY): boolean =>
  committedRevision - snapshotRevision >= every

export interface SnapshotWritten {
  readonly sessionId: string
  readonly revision: number
  /** Messages in pages (the snapshot's state holds the ones after them). */
  readonly paged: number
  /** Events folded onto the previous snapshot (or from nothing). */
  readonly folded: number
  /** The previous snapshot was missing or unreadable: folded from revision 0. */
  readonly fromScratch: boolean
  readonly bytes: number
  readonly ms: number
}

type Row = Array<unknown>

/** The snapshot reads and writes over one connection (which must not be mid-transaction elsewhere). */
export const makeSnapshotStore = (db: BetterSqlite3.Database) => {
  const snapshotRow = db
    .prepare<[string], Row>("SELECT revision, projection, paged FROM snapshots WHERE session_id = ?")
    .raw(true)
  const snapshotRevision = db.prepare<[string], number>("SELECT revision FROM snapshots WHERE session_id = ?").pluck(true)
  const eventsAfter = db
    .prepare<[string, number, number], Row>(
      "SELECT revision, occurred_at, payload FROM events WHERE session_id = ? AND revision > ? ORDER BY revision LIMIT ?"
    )
    .raw(true)
  const eventAt = db.prepare<[string, number], number>("SELECT 1 FROM events WHERE session_id = ? AND revision = ?").pluck(true)
  const upsert = db.prepare<[string, number, string, number]>(
    `INSERT INTO snapshots (session_id, revision, projection, paged) VALUES (?, ?, ?, ?)
     ON CONFLICT (session_id) DO UPDATE SET revision = excluded.revision, projection = excluded.projection,
       paged = excluded.paged`
  )
  const pages = MessagePages.makePageWriter(db)
  // Every session's latest revision as its summary tells it, with its snapshot's (reads only the
  // first column of snapshot rows: the projection text is in overflow pages never touched).
  const progress = db
    .prepare<[], Row>(
      `SELECT s.session_id, s.revision, coalesce(n.revision, 0) FROM session_summaries s
       LEFT JOIN snapshots n ON n.session_id = s.session_id`
    )
    .raw(true)
  const lastRevisions = db.prepare<[], Row>("SELECT session_id, max(revision) FROM events GROUP BY session_id").raw(true)

  /**
   * Folds the session's committed events after its snapshot onto it, at most `SNAPSHOT_MAX_FOLD` of
   * them, moves its older messages into pages (`messagePages.ts`) and stores the result. An update
   * of a message that is already paged is applied to its page.
   */
  const writeNow = (sessionId: string): SnapshotWritten | null => {
    const t0 = performance.now()
    const row = snapshotRow.get(sessionId)
    const decoded = row === undefined ? null : decodeSnapshot(sessionId as SessionId, row[0], row[1], row[2])
    // A snapshot that is unreadable, or ahead of the log (a restored older file), is rebuilt from nothing.
    const usable = decoded?._tag === "Snapshot" && eventAt.get(sessionId, decoded.projection.state.revision) !== undefined
    const base = usable ? decoded.projection : SessionProjection.empty(sessionId as SessionId)
    let paged = usable ? decoded.paged : 0
    const events = eventsAfter.all(sessionId, base.state.revision, SNAPSHOT_MAX_FOLD).map((r) => decodeSessionRow(sessionId, r))
    // Nothing new, and the stored row is usable: keep it.
    if (events.length === 0 && usable) return null
    if (events.length === 0 && base.state.revision === 0) return null
    const edit = pages.edit(sessionId, !usable)
    let next = MessagePages.foldRecent(base, events, (update) => edit.update(update.messageId, update.changes))
    const due = MessagePages.pagesDue(next.state.messages.length)
    if (due > 0) {
      const messages = next.state.messages
      for (let page = 0; page < due; page++) {
        const from = page * MessagePages.PAGE_MESSAGES
        edit.add(paged + from, messages.slice(from, from + MessagePages.PAGE_MESSAGES))
      }
      paged += due * MessagePages.PAGE_MESSAGES
      next = { ...next, state: { ...next.state, messages: messages.slice(due * MessagePages.PAGE_MESSAGES) } }
    }
    const pageBytes = edit.save()
    const text = encodeSnapshot(next)
    upsert.run(sessionId, next.state.revision, text, paged)
    return {
      sessionId,
      revision: next.state.revision,
      paged,
      folded: events.length,
      fromScratch: !usable,
      bytes: text.length + pageBytes,
      ms: performance.now() - t0
    }
  }
  // IMMEDIATE: the write lock is taken up front, so what was read is still the latest when written.
  const write = (sessionId: string): SnapshotWritten | null => db.transaction(writeNow).immediate(sessionId)

  return {
    write,
    snapshotRevision: (sessionId: string): number => snapshotRevision.get(sessionId) ?? 0,
    /** [session id, latest revision per its summary, snapshot revision] of every session. */
    progress: (): Array<readonly [string, number, number]> =>
      progress.all().map((r) => [r[0] as string, r[1] as number, r[2] as number] as const),
    /** [session id, latest committed revision] of every session (a scan of the events index). */
    lastRevisions: (): Array<readonly [string, number]> =>
      lastRevisions.all().map((r) => [r[0] as string, r[1] as number] as const)
  } as const
}

export type SnapshotStore = ReturnType<typeof makeSnapshotStore>

/**
 * Brings every session's snapshot up to date per the policy (all at once, synchronously): for a
 * log written without a server (the bench), what the worker would have left behind.
 */
export const buildSnapshots = (db: BetterSqlite3.Database, every = SNAPSHOT_EVERY): Array<SnapshotWritten> => {
  const store = makeSnapshotStore(db)
  const written: Array<SnapshotWritten> = []
  for (const [sessionId, last] of store.lastRevisions()) {
    if (!snapshotDue(store.snapshotRevision(sessionId), last, every)) continue
    // Up to the last event, in as many snapshots as `SNAPSHOT_MAX_FOLD` takes.
    for (let result = store.write(sessionId); result !== null; result = store.write(sessionId)) {
      written.push(result)
      if (result.revision >= last) break
    }
  }
  return written
}

export interface SnapshotSchedulerOptions {
  readonly every?: number
  /** See `SNAPSHOT_IDLE_MS`. */
  readonly idleMs?: number
  /**
   * The urgent entries the main thread has queued or in flight (`writerDemand.ts`): no snapshot
   * starts while there are any, up to `SNAPSHOT_HOLD_COMMITS`.
   */
  readonly urgentQueued?: () => number
  /** Told of each snapshot written (tests, measurements). */
  readonly onWritten?: (written: SnapshotWritten) => void
  /** Told of a snapshot that could not be written (it is retried later; nothing else depends on it). */
  readonly onError?: (sessionId: string, cause: unknown) => void
}

/** After a failed snapshot (e.g. the database is locked by another process), wait before retrying. */
const RETRY_MS = 1000

/**
 * Snapshots run once the worker has been idle this long (no commit in progress or arriving); with
 * the default 100 ms flush timer there are idle gaps between nearly all batches.
 */
export const SNAPSHOT_IDLE_MS = 5

/**
 * Under a backlog the worker is never idle: then one snapshot goes between two commits at most once
 * per this many commits, so snapshots neither starve nor take more than a small share of commits.
 */
export const SNAPSHOT_EVERY_COMMITS = 50

/**
 * A snapshot is held back while a command's entry is on its way to the writer, but not for ever:
 * once this many commits went by without one, it goes in anyway (commands arriving back to back
 * must not leave sessions without snapshots).
 */
export const SNAPSHOT_HOLD_COMMITS = 4 * SNAPSHOT_EVERY_COMMITS

/** The longest wait before a held-back snapshot is looked at again without a commit. */
const HOLD_MAX_MS = 100

/**
 * The worker's side: learns each session's committed revision from the batches it commits, and
 * writes due snapshots one at a time, each in a macrotask of its own, only while no commit is in
 * progress and preferably when the worker is idle, and none while a command's entry is on its way
 * (`urgentQueued`, within bounds). A commit request that arrives meanwhile waits for at most the
 * one snapshot being written (at most `SNAPSHOT_MAX_FOLD` events), so durability acks stay prompt.
 */
export const makeSnapshotScheduler = (store: SnapshotStore, options: SnapshotSchedulerOptions = {}) => {
  const every = options.every ?? SNAPSHOT_EVERY
  const idleMs = options.idleMs ?? SNAPSHOT_IDLE_MS
  const known = new Map<string, { snapshot: number; committed: number }>()
  const due = new Set<string>()
  let commits = 0
  let commitsSinceSnapshot = 0
  let timer: ReturnType<typeof setTimeout> | undefined
  let immediate: ReturnType<typeof setImmediate> | undefined
  let retry: ReturnType<typeof setTimeout> | undefined
  let closed = false
  /** The current wait before looking again at a snapshot held back for a command (see `tick`). */
  let holdMs = idleMs

  const note = (sessionId: string, committed: number) => {
    let progress = known.get(sessionId)
    if (progress === undefined) {
      progress = { snapshot: store.snapshotRevision(sessionId), committed }
      known.set(sessionId, progress)
    }
    if (committed > progress.committed) progress.committed = committed
    if (snapshotDue(progress.snapshot, progress.committed, every)) due.add(sessionId)
  }

  const cancel = () => {
    if (timer !== undefined) clearTimeout(timer)
    if (immediate !== undefined) clearImmediate(immediate)
    timer = immediate = undefined
  }

  /** (Re)arms the next snapshot: after `idleMs` of idleness, or now if commits kept it waiting too long. */
  const schedule = () => {
    cancel()
    if (closed || commits > 0 || due.size === 0) return
    if (commitsSinceSnapshot >= SNAPSHOT_EVERY_COMMITS) immediate = setImmediate(tick)
    else {
      timer = setTimeout(tick, idleMs)
      timer.unref?.()
    }
  }

  const tick = () => {
    timer = immediate = undefined
    if (closed || commits > 0) return
    const sessionId = due.values().next().value
    if (sessionId === undefined) return
    if ((options.urgentQueued?.() ?? 0) > 0 && commitsSinceSnapshot < SNAPSHOT_HOLD_COMMITS) {
      // A command's entry is on its way: looked at again after its commit, or a little later
      // (longer each time, should the writer be retrying a failing commit).
      holdMs = Math.min(holdMs * 2, HOLD_MAX_MS)
      timer = setTimeout(tick, holdMs)
      timer.unref?.()
      return
    }
    holdMs = idleMs
    due.delete(sessionId)
    commitsSinceSnapshot = 0
    try {
      const written = store.write(sessionId)
      const progress = known.get(sessionId)
      if (progress !== undefined && written !== null) {
        progress.snapshot = written.revision
        // Folded as far as `SNAPSHOT_MAX_FOLD` goes: the rest in a later snapshot.
        if (snapshotDue(progress.snapshot, progress.committed, every)) due.add(sessionId)
      }
      if (written !== null) options.onWritten?.(written)
    } catch (cause) {
      options.onError?.(sessionId, cause)
      // Retried later, not in a loop: whatever failed (a lock, a full disk) will not clear at once.
      if (retry === undefined) {
        retry = setTimeout(() => {
          retry = undefined
          due.add(sessionId)
          schedule()
        }, RETRY_MS)
        retry.unref?.()
      }
    }
    schedule()
  }

  return {
    /** A commit starts: no snapshot runs until it ends (they share the thread, not the lock). */
    commitStarted: () => {
      commits++
      cancel()
    },
    /** A commit ended: note the revisions it committed, then resume snapshots when idle. */
    commitEnded: (request: CommitRequest, result: CommitResult | undefined) => {
      commits--
      commitsSinceSnapshot++
      if (result?._tag === "Committed") {
        const rejected = new Set(result.rejected.map((r) => r.index))
        const latest = new Map<string, number>()
        request.entries.forEach((entry, index) => {
          if (rejected.has(index)) return
          for (const [sessionId, revision] of entry.events) {
            if (revision > (latest.get(sessionId) ?? 0)) latest.set(sessionId, revision)
          }
        })
        try {
          for (const [sessionId, revision] of latest) note(sessionId, revision)
        } catch (cause) {
          // Never the commit's problem: its result is already decided.
          options.onError?.("*", cause)
        }
      }
      schedule()
    },
    /** At start: sessions left behind their policy (an older database, a crash) catch up when idle. */
    catchUp: () => {
      try {
        for (const [sessionId, committed, snapshot] of store.progress()) {
          known.set(sessionId, { snapshot, committed })
          if (snapshotDue(snapshot, committed, every)) due.add(sessionId)
        }
      } catch (cause) {
        options.onError?.("*", cause)
      }
      schedule()
    },
    /** Sessions due a snapshot and not yet written. */
    pending: () => due.size,
    close: () => {
      closed = true
      cancel()
      if (retry !== undefined) clearTimeout(retry)
    }
  } as const
}

export type SnapshotScheduler = ReturnType<typeof makeSnapshotScheduler>

/**
 * The writer worker's snapshots over a connection of their own to `dbPath`. Busy timeout 0: the
 * only lock it could wait for in the worker's thread is the commit connection's, which cannot be
 * released while that thread waits (the scheduler never runs during a commit); another process's
 * lock makes the snapshot fail and be retried later instead. `close` also closes the connection.
 */
export const openSnapshotScheduler = (dbPath: string, options: SnapshotSchedulerOptions = {}): SnapshotScheduler => {
  const db = new Database(dbPath, { timeout: 0, fileMustExist: true })
  try {
    db.pragma("synchronous = NORMAL")
    // Its commits never checkpoint: the checkpointer thread does (`checkpointWorker.ts`).
    db.pragma("wal_autocheckpoint = 0")
    const scheduler = makeSnapshotScheduler(makeSnapshotStore(db), options)
    return {
      ...scheduler,
      close: () => {
        scheduler.close()
        db.close()
      }
    }
  } catch (cause) {
    db.close()
    throw cause
  }
}
