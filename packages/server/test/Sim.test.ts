import type { ServerMessage, SessionId, SessionMessage, SessionSnapshot } from "@orbitdock/domain"
import * as Rules from "../src/rules/Rules.js"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option, TestClock } from "effect"
import * as Sim from "../src/connectors/Sim.js"
import * as EventLogMemory from "../src/eventlog/EventLogMemory.js"
import * as SessionRegistry from "../src/SessionRegistry.js"
import { Sessions } from "../src/Sessions.js"
import { makeCollector } from "./helpers/collector.js"

// With the approval rules: "approve for this session" is one.
const TestSessions = SessionRegistry.layer([Sim.make]).pipe(Layer.provide(Rules.layer), Layer.provide(EventLogMemory.layer))

type Msg = SessionMessage | SessionSnapshot

/** Creates a sim session and subscribes to it; returns its id and the collector. */
const simSession = Effect.gen(function* () {
  const sessions = yield* Sessions
  const { session_id } = yield* sessions.execute({ type: "create_session", provider: "sim", cwd: "/work" })
  const collector = yield* makeCollector<Msg>()
  yield* sessions.subscribe(session_id!, collector, 1)
  return { sessions, id: session_id as SessionId, collector }
})

const shape = (m: Msg | ServerMessage) => {
  switch (m.type) {
    case "session_delta":
      return `delta ${JSON.stringify(m.changes)}`
    case "message_appended":
      return `append ${m.message.role} ${JSON.stringify(m.message.content)}${m.message.streaming ? " streaming" : ""}`
    case "message_updated":
      return `update ${JSON.stringify(m.changes)}`
    case "tokens_updated":
      return `tokens ${m.usage.input}/${m.usage.output}/${m.usage.total}`
    default:
      return m.type
  }
}

describe("idle sessions", () => {
  it.scoped("leave memory once the idle time has passed on the clock, and come back from the log unchanged", () =>
    Effect.gen(function* () {
      const sessions = yield* Sessions
      const { session_id } = yield* sessions.execute({ type: "create_session", provider: "sim", cwd: "/w" })
      const id = session_id as SessionId
      const watcher = yield* makeCollector<Msg>()
      yield* sessions.subscribe(id, watcher)
      yield* sessions.execute({ type: "send_message", session_id: id, content: "before" })
      yield* watcher.until((m) => m.type === "session_delta" && m.changes.status === "waiting")
      yield* sessions.unsubscribe(id, watcher)
      const before = yield* sessions.get(id)
      // Nothing references it now; the test's clock decides when it is idle (sweeps every 10 s).
      yield* TestClock.adjust("50 seconds")
      expect(Option.isSome(yield* sessions.snapshot(id))).toBe(true)
      yield* TestClock.adjust("20 seconds")
      expect(Option.isNone(yield* sessions.snapshot(id))).toBe(true)
      expect(yield* sessions.get(id)).toEqual(before)
      yield* sessions.execute({ type: "send_message", session_id: id, content: "after" })
      const after = yield* sessions.get(id)
      expect(after.messages.map((m) => m.content).slice(0, 3)).toEqual(["before", "echo: before", "after"])
    }).pipe(
      Effect.provide(SessionRegistry.layer([Sim.make], { evictIdleMs: 60_000 }).pipe(Layer.provide(EventLogMemory.layer)))
    )
  )
})

describe("sim provider", () => {
  it.layer(TestSessions)((it) => {
    it.effect("a plain-text turn is exactly the normative sequence, revisions gapless", () =>
      Effect.gen(function* () {
        const { sessions, id, collector } = yield* simSession
        yield* sessions.execute({ type: "send_message", session_id: id, content: "hello world" })
        yield* collector.until((m) => m.type === "session_delta" && m.changes.status === "waiting")
        expect(collector.received.map(shape)).toEqual([
          'delta {"status":"working"}',
          'append user "hello world"',
          'append assistant "" streaming',
          'update {"content":"echo: "}',
          'update {"content":"echo: hello "}',
          'update {"content":"echo: hello world","streaming":false}',
          "tokens 11/17/28",
          // Minor 2: the turn's end is what the person waits for.
          'delta {"status":"waiting","attention_detail":{"reason":"turn_finished","since":"1970-01-01T00:00:00.000Z","summary":"echo: hello world","seen":false}}'
        ])
        const revisions = collector.received.map((m) => m.revision)
        expect(revisions).toEqual([2, 3, 4, 5, 6, 7, 8, 9])
        const state = yield* sessions.get(id)
        expect(state.status).toBe("waiting")
        expect(state.title).toBe("hello world")
        expect(state.messages.map((m) => m.content)).toEqual(["hello world", "echo: hello world"])
      })
    )

    it.effect("/exec asks, runs once approved, then runs without asking after a session-wide approval", () =>
      Effect.gen(function* () {
        const { sessions, id, collector } = yield* simSession
        yield* sessions.execute({ type: "send_message", session_id: id, content: "/exec ls -la" })
        const asked = yield* collector.until((m) => m.type === "approval_requested")
        if (asked.type !== "approval_requested") throw new Error("unreachable")
        expect(asked.request).toMatchObject({ kind: "exec", command: "ls -la", cwd: "/work" })
        expect((yield* sessions.get(id)).attention).toBe(true)
        expect((yield* sessions.get(id)).status).toBe("working")
        yield* sessions.execute({
          type: "approve_tool",
          session_id: id,
          request_id: asked.request.id,
          approved: true,
          scope: "session"
        })
        yield* collector.until((m) => m.type === "session_delta" && m.changes.status === "waiting")
        const state = yield* sessions.get(id)
        expect(state.attention).toBe(false)
        expect(state.messages.slice(1).map((m) => [m.role, m.content, m.tool])).toEqual([
          ["tool", "ls -la", { name: "shell", input: { command: "ls -la" }, output: "ran: ls -la", status: "ok", exit_code: 0 }],
          ["assistant", "echo: done", undefined]
        ])
        // Resolving it again: conflict; an id never issued: not_found.
        const again = yield* sessions
          .execute({ type: "approve_tool", session_id: id, request_id: asked.request.id, approved: true })
          .pipe(Effect.flip)
        expect(again.code).toBe("conflict")
        const unknown = yield* sessions
          .execute({ type: "approve_tool", session_id: id, request_id: "req_nope" as never, approved: true })
          .pipe(Effect.flip)
        expect(unknown.code).toBe("not_found")
        const before = collector.received.length
        yield* sessions.execute({ type: "send_message", session_id: id, content: "/exec ls -la" })
        yield* collector.until((m) => m.type === "session_delta" && m.changes.status === "waiting")
        // "For this session" became a session rule: the same command is answered by it, nobody asked.
        const later = collector.received.slice(before)
        expect(later.some((m) => m.type === "session_delta" && m.changes.attention === true)).toBe(false)
        const page = yield* sessions.events(id, 0, 1000)
        const resolutions = page.events.filter((e) => e.type === "approval_resolved").map((e) => e.data)
        expect(resolutions.at(-1)).toMatchObject({ outcome: "approved", decided_by: { rule_ids: [expect.any(String)] } })
      })
    )

    it.effect("a denied /exec does not run; /ask takes an answer; tokens are running totals", () =>
      Effect.gen(function* () {
        const { sessions, id, collector } = yield* simSession
        yield* sessions.execute({ type: "send_message", session_id: id, content: "/exec rm -rf /" })
        const asked = yield* collector.until((m) => m.type === "approval_requested")
        if (asked.type !== "approval_requested") throw new Error("unreachable")
        yield* sessions.execute({ type: "approve_tool", session_id: id, request_id: asked.request.id, approved: false })
        yield* collector.until((m) => m.type === "session_delta" && m.changes.status === "waiting")
        yield* sessions.execute({ type: "send_message", session_id: id, content: "/ask color?" })
        const question = yield* collector.until((m) => m.type === "question_asked")
        if (question.type !== "question_asked") throw new Error("unreachable")
        expect(question.request.question).toBe("color?")
        const wrongKind = yield* sessions
          .execute({ type: "approve_tool", session_id: id, request_id: question.request.id, approved: true })
          .pipe(Effect.flip)
        expect(wrongKind.code).toBe("conflict")
        yield* sessions.execute({ type: "answer_question", session_id: id, request_id: question.request.id, answer: "blue" })
        yield* collector.until((m) => m.type === "session_delta" && m.changes.status === "waiting")
        const state = yield* sessions.get(id)
        expect(state.messages.filter((m) => m.role !== "user").map((m) => m.content)).toEqual([
          "echo: denied",
          "answer: blue"
        ])
        const input = "/exec rm -rf /".length + "/ask color?".length
        const output = "echo: denied".length + "answer: blue".length
        expect(state.token_usage).toEqual({ input, output, cached_input: 0, total: input + output })
      })
    )

    it.effect("send during a turn is a conflict; interrupt closes the turn; end ends the session", () =>
      Effect.gen(function* () {
        const { sessions, id, collector } = yield* simSession
        yield* sessions.execute({ type: "send_message", session_id: id, content: "/sleep 60000" })
        const busy = yield* sessions.execute({ type: "send_message", session_id: id, content: "hi" }).pipe(Effect.flip)
        expect(busy.code).toBe("conflict")
        yield* sessions.execute({ type: "interrupt_session", session_id: id })
        const state = yield* sessions.get(id)
        expect(state.status).toBe("waiting")
        expect(state.messages.at(-1)?.content).toBe("interrupted")
        // Interrupting an idle session is only an ack.
        const revision = state.revision
        yield* sessions.execute({ type: "interrupt_session", session_id: id })
        expect((yield* sessions.get(id)).revision).toBe(revision)
        yield* sessions.execute({ type: "end_session", session_id: id })
        const ended = yield* collector.until((m) => m.type === "session_ended")
        expect(ended).toMatchObject({ type: "session_ended", reason: "ended_by_user" })
        expect((yield* sessions.get(id)).status).toBe("ended")
        const late = yield* sessions.execute({ type: "send_message", session_id: id, content: "hi" }).pipe(Effect.flip)
        expect(late.code).toBe("conflict")
      })
    )

    it.effect("/burst or /sleep over the cap is refused before anything happens, by send_message and create_session", () =>
      Effect.gen(function* () {
        const { sessions, id, collector } = yield* simSession
        const before = (yield* sessions.get(id)).revision
        for (const content of [`/burst ${Sim.MAX_BURST + 1}`, "/burst 99999999999999999999999"]) {
          const refused = yield* sessions.execute({ type: "send_message", session_id: id, content }).pipe(Effect.flip)
          expect(refused).toMatchObject({ code: "invalid_message", message: `/burst takes at most ${Sim.MAX_BURST} messages` })
        }
        for (const content of [`/sleep ${Sim.MAX_SLEEP_MS + 1}`, "/sleep 99999999999999999999999"]) {
          const refused = yield* sessions.execute({ type: "send_message", session_id: id, content }).pipe(Effect.flip)
          expect(refused).toMatchObject({ code: "invalid_message", message: `/sleep takes at most ${Sim.MAX_SLEEP_MS} ms` })
        }
        expect((yield* sessions.get(id)).revision).toBe(before)
        expect(collector.received.filter((m) => m.revision! > before)).toEqual([])
        const count = (yield* sessions.list({})).length
        const created = yield* sessions
          .execute({ type: "create_session", provider: "sim", cwd: "/w", prompt: "/burst 1000000" })
          .pipe(Effect.flip)
        expect(created.code).toBe("invalid_message")
        expect((yield* sessions.list({})).length).toBe(count)
        // The sim is not left busy: the next turn runs.
        yield* sessions.execute({ type: "send_message", session_id: id, content: "/burst 3" })
        yield* collector.until((m) => m.type === "message_appended" && m.message.content === "burst 3")
      })
    )

    it.effect("/burst N appends N messages, and since_revision catches up without gaps", () =>
      Effect.gen(function* () {
        const { sessions, id, collector } = yield* simSession
        yield* sessions.execute({ type: "send_message", session_id: id, content: "/burst 1000" })
        yield* collector.until((m) => m.type === "session_delta" && m.changes.status === "waiting")
        const state = yield* sessions.get(id)
        expect(state.messages.length).toBe(1001)
        expect(state.messages.at(-1)?.content).toBe("burst 1000")
        const late = yield* makeCollector<Msg>()
        const { revision } = yield* sessions.subscribe(id, late, 500)
        expect(revision).toBe(state.revision)
        expect(late.received.map((m) => m.revision)).toEqual(
          Array.from({ length: state.revision - 500 }, (_, i) => 501 + i)
        )
        const snap = yield* makeCollector<Msg>()
        yield* sessions.subscribe(id, snap)
        expect(snap.received).toEqual([{ type: "session_snapshot", session_id: id, revision: state.revision, session: state }])
        const page = yield* sessions.events(id, 0, 10)
        expect(page.events.map((e) => e.revision)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
        expect(page.next_after).toBe(10)
        const at = yield* sessions.stateAt(id, 3)
        expect(at.messages.map((m) => m.content)).toEqual(["/burst 1000"])
        expect(at.revision).toBe(3)
      })
    )
  })
})
