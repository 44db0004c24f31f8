/**
 * Message paging in a live session (real SQLite log, real writer worker): once the worker has
 * snapshotted a session and paged its older messages out, the actor drops them from memory, and
 * everything that hands out the whole state (GET, a subscriber's snapshot, the JSON text) still
 * gives exactly the replay of the log, including updates of paged messages made before and after
 * the drop. The worker runs from `dist/` (run `npx tsc -b packages/server` first).
 */
import { describe, expect, it } from "@effect/vitest"
import type { MessageId, SessionId, SessionMessage, SessionSnapshot, SessionState } from "@orbitdock/domain"
import { SessionMirror, SessionProjection } from "@orbitdock/projections"
import { Context, Effect, Layer, Option } from "effect"
import * as path from "node:path"
import type { ConnectorFactory, ConnectorHost, EventInput } from "../src/connectors/Connector.js"
import { EventLog } from "../src/eventlog/EventLog.js"
import * as EventLogSqlite from "../src/eventlog/EventLogSqlite.js"
import * as MessagePages from "../src/eventlog/messagePages.js"
import * as AssembledState from "../src/eventlog/assembledState.js"
import * as SessionRegistry from "../src/SessionRegistry.js"
import { Sessions } from "../src/Sessions.js"
import { tempDir } from "./helpers/eventLogFixtures.js"

const id = "paged-live" as SessionId
const created: EventInput = { event: { type: "session_created", provider: "codex", cwd: "/w", status: "waiting" } }
const append = (i: number): EventInput => ({
  event: {
    type: "message_appended",
    message: { id: `m${i}` as MessageId, role: "assistant", content: `message ${i} ${"x".repeat(100)}`, created_at: "2026-01-01T00:00:00.000Z" }
  }
})
const update = (i: number, content: string): EventInput => ({
  event: { type: "message_updated", message_id: `m${i}` as MessageId, changes: { content, streaming: false } }
})

/** A mirror fed every message a subscriber gets: what a client that watched from the start shows. */
const mirror = () => {
  let state: SessionState | undefined
  return {
    subscriber: {
      push: (message: SessionMessage | SessionSnapshot) => {
        state = SessionMirror.applyMessage(state as SessionState, message)
      }
    },
    state: () => state!
  }
}

const plain = (state: SessionState): SessionState => ({ ...state, messages: [...state.messages] })

describe("message paging in a live session", () => {
  it.scopedLive("drops the paged messages from memory; the whole state stays the replay of the log", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      let host: ConnectorHost | undefined
      const capture: ConnectorFactory = (h) =>
        Effect.sync(() => {
          host = h
          return { provider: "codex" } as never
        })
      const context = yield* Layer.build(
        SessionRegistry.layer([capture]).pipe(
          Layer.provideMerge(EventLogSqlite.layerWith({ dbPath: path.join(dir, "log.db"), flushMs: 5, batchSize: 500 }))
        )
      )
      const sessions = Context.get(context, Sessions)
      const log = Context.get(context, EventLog)
      const inMemory = Effect.map(host!.state(id), (s) => Option.getOrThrow(s).messages.length)

      yield* host!.emit(id, [created])
      const watcher = mirror()
      yield* sessions.subscribe(id, watcher.subscriber)
      // 1,500 messages in small emits, each 10th followed by an update of an older message (old
      // ones included), with pauses so that the worker snapshots and pages between them.
      let receipt = yield* host!.emit(id, [])
      for (let i = 0; i < 1500; i += 10) {
        const events = Array.from({ length: 10 }, (_, k) => append(i + k))
        events.push(update((i * 7) % (i + 10), `updated at ${i}`))
        receipt = yield* host!.emit(id, events)
        if (i % 200 === 0) yield* Effect.flatMap(receipt.durable, () => Effect.sleep("30 millis"))
      }
      yield* receipt.durable

      // Wait for the worker to page most of it, then for the actor to notice (it looks after a step).
      for (let tries = 0; (yield* inMemory) > MessagePages.KEEP_MESSAGES + 2 * MessagePages.PAGE_MESSAGES; tries++) {
        if (tries > 200) throw new Error(`the actor still holds ${yield* inMemory} messages`)
        yield* Effect.sleep("50 millis")
        receipt = yield* host!.emit(id, [update(1499, `nudge ${tries}`)])
        yield* receipt.durable
      }
      expect((yield* log.pagedProgress(id))!.paged).toBeGreaterThanOrEqual(1500 - MessagePages.KEEP_MESSAGES - 2 * MessagePages.PAGE_MESSAGES)

      // Updates of paged messages now: the pages do not have them until the next snapshot.
      receipt = yield* host!.emit(id, [update(0, "first, changed late"), update(700, "middle, changed late"), append(1500)])
      yield* receipt.durable

      const replayed = SessionProjection.replay(id, yield* log.readSession(id, 0)).state
      expect(replayed.messages[0]!.content).toBe("first, changed late")
      const whole = yield* sessions.get(id)
      expect(plain(whole)).toEqual(replayed)
      expect(watcher.state()).toEqual(replayed)
      const late = mirror()
      yield* sessions.subscribe(id, late.subscriber)
      expect(plain(late.state())).toEqual(replayed)
      // With updates of paged messages pending, the state is not spliced from the pages' text.
      expect(AssembledState.jsonChunksOf(yield* sessions.get(id))).toBeUndefined()

      // Once the worker has snapshotted those updates (and the actor has looked), it is spliced again.
      for (let tries = 0; AssembledState.jsonChunksOf(yield* sessions.get(id)) === undefined; tries++) {
        if (tries > 200) throw new Error("the updates of paged messages never reached the pages")
        yield* Effect.sleep("50 millis")
        const more = Array.from({ length: 20 }, (_, k) => append(1501 + tries * 20 + k))
        receipt = yield* host!.emit(id, more)
        yield* receipt.durable
      }
      const final = SessionProjection.replay(id, yield* log.readSession(id, 0)).state
      const chunks = AssembledState.jsonChunksOf(yield* sessions.get(id))!
      expect(JSON.parse(chunks.join(""))).toEqual(final)
      expect(watcher.state()).toEqual(final)
    }), 60_000)
})
