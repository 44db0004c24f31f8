/**
 * De-duplication by source key, which an actor does from the keys' digests (real SQLite log, real
 * writer worker, and a restart on the same file): a key seen before is dropped whether its event is
 * committed or still queued, within a step or across steps and restarts; a different key that
 * happens to share a digest is recorded. The worker runs from `dist/` (`npx tsc -b packages/server`).
 */
import { describe, expect, it } from "@effect/vitest"
import type { MessageId, SessionId } from "@orbitdock/domain"
import { Context, Effect, Layer, Option, Scope } from "effect"
import * as path from "node:path"
import type { ConnectorFactory, ConnectorHost, EventInput } from "../src/connectors/Connector.js"
import { EventLog } from "../src/eventlog/EventLog.js"
import * as EventLogSqlite from "../src/eventlog/EventLogSqlite.js"
import { digest } from "../src/eventlog/sourceKeyDigest.js"
import * as SessionRegistry from "../src/SessionRegistry.js"
import { tempDir } from "./helpers/eventLogFixtures.js"

const id = "keyed" as SessionId
const created: EventInput = { event: { type: "session_created", provider: "codex", cwd: "/w", status: "waiting" } }
const keyed = (key: string, text: string): EventInput => ({
  event: {
    type: "message_appended",
    message: { id: `m-${text}` as MessageId, role: "assistant", content: text, created_at: "2026-01-01T00:00:00.000Z" }
  },
  source_key: key
})
// Two different keys with the same FNV-1a digest (found by search; asserted below).
const twinA = "item:682669:appended"
const twinB = "item:1069324:appended"

/** A registry over the log file in `dir`, in a scope of its own (closing it is a clean stop). */
const open = (dir: string) =>
  Effect.gen(function* () {
    let host: ConnectorHost | undefined
    const capture: ConnectorFactory = (h) =>
      Effect.sync(() => {
        host = h
        return { provider: "codex" } as never
      })
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(
      SessionRegistry.layer([capture]).pipe(
        // A long flush: what an actor checks may still be queued, not committed.
        Layer.provideMerge(EventLogSqlite.layerWith({ dbPath: path.join(dir, "log.db"), flushMs: 60_000, batchSize: 10_000 }))
      ),
      scope
    )
    const contents = Effect.map(host!.state(id), (s) => Option.getOrThrow(s).messages.map((m) => m.content))
    return { host: host!, log: Context.get(context, EventLog), contents, close: Scope.close(scope, Effect.void) }
  })

describe("de-duplication by source key", () => {
  it.scopedLive("drops a key seen before, queued or committed, across restarts; records a different key with the same digest", () =>
    Effect.gen(function* () {
      expect(digest(twinA)).toBe(digest(twinB))
      const dir = yield* tempDir
      const first = yield* open(dir)
      yield* first.host.emit(id, [created])
      // Within one emit, across emits while nothing is committed yet, and a digest twin.
      const a = yield* first.host.emit(id, [keyed("k1", "one"), keyed("k1", "one again"), keyed("k2", "two")])
      const b = yield* first.host.emit(id, [keyed("k2", "two again"), keyed(twinA, "twin a")])
      const c = yield* first.host.emit(id, [keyed(twinB, "twin b"), keyed(twinA, "twin a again")])
      expect((yield* a.folded).length).toBe(2)
      expect((yield* b.folded).length).toBe(1)
      expect((yield* c.folded).length).toBe(1)
      yield* first.log.flush
      yield* c.durable
      expect(yield* first.contents).toStrictEqual(["one", "two", "twin a", "twin b"])
      yield* first.close

      // After a restart the actor knows only the digests: the log answers for the suspects.
      const second = yield* open(dir)
      const d = yield* second.host.emit(id, [keyed("k1", "one, replayed"), keyed(twinB, "twin b, replayed"), keyed("k3", "three")])
      expect((yield* d.folded).length).toBe(1)
      yield* second.log.flush
      yield* d.durable
      expect(yield* second.contents).toStrictEqual(["one", "two", "twin a", "twin b", "three"])
      expect(yield* Effect.forEach(["k1", "k2", "k3", twinA, twinB, "k4"], (key) => second.log.hasSourceKey(id, key))).toStrictEqual([
        true,
        true,
        true,
        true,
        true,
        false
      ])
      yield* second.close
    }))
})
