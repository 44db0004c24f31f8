/**
 * The `sim` provider (PROTOCOL.md, last section): a built-in, deterministic simulated agent for
 * client developers, demos, tests and benchmarks. It needs no external program. Each session's agent
 * state (running turn, pending request, running token totals) lives here;
 * the turn runs in its own fiber and talks to OrbitDock only through the `ConnectorHost`.
 */
import {
  conflict,
  invalid,
  type MessageId,
  type ProtocolError,
  type RequestId,
  type SessionId,
  type SessionState,
  type TokenUsage
} from "@orbitdock/domain"
import { Deferred, Effect, Fiber, FiberSet, Option } from "effect"
import { inTurn, TurnCost } from "../internal/eventLoopSlice.js"
import { type Connector, type ConnectorFactory, type ConnectorHost, type EventInput, ruledEvents } from "./Connector.js"

type Turn =
  | { readonly kind: "text"; readonly text: string }
  | { readonly kind: "exec"; readonly command: string }
  | { readonly kind: "ask"; readonly question: string }
  | { readonly kind: "burst"; readonly count: number }
  | { readonly kind: "sleep"; readonly ms: number }

/** How a message's content selects the turn (the regular expressions are normative). */
export const parseTurn = (content: string): Turn => {
  let m: RegExpExecArray | null
  if ((m = /^\/exec (.+)$/.exec(content))) return { kind: "exec", command: m[1]! }
  if ((m = /^\/ask (.+)$/.exec(content))) return { kind: "ask", question: m[1]! }
  if ((m = /^\/burst (\d+)$/.exec(content))) return { kind: "burst", count: Number(m[1]) }
  if ((m = /^\/sleep (\d+)$/.exec(content))) return { kind: "sleep", ms: Number(m[1]) }
  return { kind: "text", text: content }
}

/** The plain-text reply grows in three steps, each the full content so far. */
export const growingContent = (full: string): readonly [string, string, string] => {
  const third = Math.ceil(full.length / 3)
  return [full.slice(0, third), full.slice(0, Math.min(full.length, third * 2)), full]
}

/** The largest `/burst`: a turn is one session's work, and what it emits is kept forever. */
export const MAX_BURST = 100_000

/** The longest `/sleep`: an hour (beyond a timer's range, a sleep would never end). */
export const MAX_SLEEP_MS = 3_600_000

/** The turn a message's content selects, or why the sim refuses it. */
const acceptable = (content: string): Effect.Effect<Turn, ProtocolError> => {
  const turn = parseTurn(content)
  if (turn.kind === "burst" && turn.count > MAX_BURST) return Effect.fail(invalid(`/burst takes at most ${MAX_BURST} messages`))
  if (turn.kind === "sleep" && turn.ms > MAX_SLEEP_MS) return Effect.fail(invalid(`/sleep takes at most ${MAX_SLEEP_MS} ms`))
  return Effect.succeed(turn)
}

/** Messages per emit of a `/burst`: big enough to be fast, small enough to stay interruptible. */
const BURST_CHUNK = 256

type Decision =
  | { readonly kind: "approval"; readonly approved: boolean; readonly scope: "once" | "session" }
  | { readonly kind: "answer"; readonly answer: string }

interface Pending {
  readonly id: RequestId
  readonly kind: "approval" | "question"
  readonly decided: Deferred.Deferred<Decision>
}

interface SimSession {
  /** A turn is running (set before its fiber starts, cleared when it ends). */
  busy: boolean
  turn: Fiber.RuntimeFiber<void, ProtocolError> | null
  pending: Pending | null
  /** The assistant message still streaming, to close it on interrupt. */
  streaming: MessageId | null
  /** The running totals carried by `tokens_updated`. */
  usage: { input: number; output: number }
  /** This turn's input and output, added to `usage` when the turn ends. */
  turnUsage: { input: number; output: number }
}

const totals = (usage: { input: number; output: number }): TokenUsage => ({
  input: usage.input,
  output: usage.output,
  cached_input: 0,
  total: usage.input + usage.output
})

export const make: ConnectorFactory = (host: ConnectorHost) =>
  Effect.gen(function* () {
    const turns = yield* FiberSet.make<void, ProtocolError>()
    const sims = new Map<SessionId, SimSession>()
    /** What building a burst's messages costs per message (`eventLoopSlice.ts`). */
    const burstCost = new TurnCost()

    /** The sim state of a session, rebuilt from its state after a restart (token totals carry on). */
    const simOf = (session: SessionState): SimSession => {
      let sim = sims.get(session.id)
      if (sim === undefined) {
        sim = {
          busy: false,
          turn: null,
          pending: null,
          streaming: null,
          usage: { input: session.token_usage.input, output: session.token_usage.output },
          turnUsage: { input: 0, output: 0 }
        }
        sims.set(session.id, sim)
      }
      return sim
    }

    const message = (role: "user" | "assistant" | "system", content: string, streaming?: boolean): EventInput => ({
      event: {
        type: "message_appended",
        message: {
          id: host.newId("msg") as MessageId,
          role,
          content,
          created_at: host.now(),
          ...(streaming === undefined ? {} : { streaming })
        }
      }
    })

    /**
     * Emits one step of a turn. An interrupt may land after the events were handed over: the sim
     * records what it opened (a streaming message, a request) before emitting, so that interrupt
     * closes whatever may exist.
     */
    const emit = (sessionId: SessionId, events: ReadonlyArray<EventInput>) => host.emit(sessionId, events).pipe(Effect.asVoid)

    const reply = (sessionId: SessionId, sim: SimSession, content: string) => {
      sim.turnUsage.output += content.length
      return emit(sessionId, [message("assistant", content)])
    }

    /** The closing events of a turn: running totals, then `waiting` (or `turn_aborted`). */
    const closing = (sim: SimSession, end: EventInput): ReadonlyArray<EventInput> => {
      sim.usage = { input: sim.usage.input + sim.turnUsage.input, output: sim.usage.output + sim.turnUsage.output }
      sim.turnUsage = { input: 0, output: 0 }
      return [{ event: { type: "tokens_updated", usage: totals(sim.usage) } }, end]
    }

    const awaitDecision = (sessionId: SessionId, sim: SimSession, kind: Pending["kind"], request: EventInput["event"]) =>
      Effect.gen(function* () {
        const decided = yield* Deferred.make<Decision>()
        const id = (request.type === "approval_requested" || request.type === "question_asked" ? request.request.id : "") as RequestId
        sim.pending = { id, kind, decided }
        yield* emit(sessionId, [{ event: request }])
        return yield* Deferred.await(decided)
      })

    const runTool = (sessionId: SessionId, sim: SimSession, command: string) =>
      emit(sessionId, [
        {
          event: {
            type: "message_appended",
            message: {
              id: host.newId("msg") as MessageId,
              role: "tool",
              content: command,
              created_at: host.now(),
              tool: { name: "shell", input: { command }, output: `ran: ${command}`, status: "ok", exit_code: 0 }
            }
          }
        }
      ])

    const body = (session: SessionState, sim: SimSession, turn: Turn): Effect.Effect<void, ProtocolError> => {
      const id = session.id
      switch (turn.kind) {
        case "text":
          return Effect.gen(function* () {
            const full = `echo: ${turn.text}`
            const open = message("assistant", "", true)
            const messageId = (open.event as { message: { id: MessageId } }).message.id
            sim.streaming = messageId
            yield* emit(id, [open])
            const steps = growingContent(full)
            for (let i = 0; i < steps.length; i++) {
              const last = i === steps.length - 1
              yield* emit(id, [
                {
                  event: {
                    type: "message_updated",
                    message_id: messageId,
                    changes: last ? { content: steps[i], streaming: false } : { content: steps[i] }
                  }
                }
              ])
            }
            sim.streaming = null
            sim.turnUsage.output += full.length
          })
        case "exec":
          return Effect.gen(function* () {
            const screened = yield* host.screenApproval(id, {
              id: host.newId("req") as RequestId,
              kind: "exec",
              created_at: host.now(),
              command: turn.command,
              cwd: session.cwd
            })
            const decided = screened.decision
            if (decided !== null) {
              // Decided by an approval rule (one "approved for this session" included): nobody waits.
              yield* emit(id, ruledEvents({ ...screened, decision: decided }))
              if (!decided.approved) return yield* reply(id, sim, "echo: denied")
            } else {
              const decision = yield* awaitDecision(id, sim, "approval", { type: "approval_requested", request: screened.request })
              if (decision.kind !== "approval" || !decision.approved) return yield* reply(id, sim, "echo: denied")
            }
            yield* runTool(id, sim, turn.command)
            yield* reply(id, sim, "echo: done")
          })
        case "ask":
          return Effect.gen(function* () {
            const decision = yield* awaitDecision(id, sim, "question", {
              type: "question_asked",
              request: { id: host.newId("req") as RequestId, created_at: host.now(), question: turn.question }
            })
            yield* reply(id, sim, `answer: ${decision.kind === "answer" ? decision.answer : ""}`)
          })
        case "burst":
          return Effect.gen(function* () {
            for (let start = 1; start <= turn.count; start += BURST_CHUNK) {
              // Emits return at once while the mailbox has room: without turns, dozens of bursts
              // would build their messages back to back without letting I/O in.
              const size = Math.min(BURST_CHUNK, turn.count - start + 1)
              const events = yield* inTurn(
                () => {
                  const chunk: Array<EventInput> = []
                  for (let i = start; i < start + size; i++) {
                    const content = `burst ${i}`
                    sim.turnUsage.output += content.length
                    chunk.push(message("assistant", content))
                  }
                  return chunk
                },
                { cost: burstCost, items: size }
              )
              yield* emit(id, events)
            }
          })
        case "sleep":
          return Effect.sleep(turn.ms).pipe(Effect.zipRight(reply(id, sim, "echo: slept")))
      }
    }

    /** Starts a turn: its first events are committed before the command is acked; the rest runs on. */
    const startTurn = (session: SessionState, content: string) =>
      Effect.gen(function* () {
        const sim = simOf(session)
        if (sim.busy) return yield* Effect.fail(conflict("the sim is running a turn; interrupt it or wait"))
        const turn = yield* acceptable(content)
        sim.busy = true
        sim.turnUsage = { input: content.length, output: 0 }
        yield* host
          .commit(session.id, [{ event: { type: "turn_started" } }, message("user", content)])
          .pipe(Effect.tapError(() => Effect.sync(() => (sim.busy = false))))
        const run = body(session, sim, turn).pipe(
          Effect.zipRight(Effect.suspend(() => emit(session.id, closing(sim, { event: { type: "turn_completed" } })))),
          Effect.tapErrorCause((cause) => Effect.logError("sim turn failed", cause)),
          Effect.ensuring(
            Effect.sync(() => {
              sim.busy = false
              sim.turn = null
            })
          )
        )
        const fiber = yield* FiberSet.run(turns, run)
        // The fiber may already have finished; only a running turn is remembered.
        if (sim.busy) sim.turn = fiber
      })

    const decide = (session: SessionState, requestId: RequestId, kind: Pending["kind"], resolution: EventInput, decision: Decision) =>
      Effect.gen(function* () {
        const sim = simOf(session)
        const pending = sim.pending
        if (pending === null || pending.id !== requestId || pending.kind !== kind) {
          return yield* Effect.fail(conflict(`request ${requestId} is not waiting for an answer`))
        }
        sim.pending = null
        yield* host.commit(session.id, [resolution])
        yield* Deferred.succeed(pending.decided, decision)
      })

    /** Stops the running turn and clears what it left open; returns the events that record it. */
    const stopTurn = (session: SessionState) =>
      Effect.gen(function* () {
        const sim = simOf(session)
        const turn = sim.turn
        if (turn === null) return Option.none<ReadonlyArray<EventInput>>()
        yield* Fiber.interrupt(turn)
        sim.turn = null
        sim.busy = false
        const events: Array<EventInput> = []
        if (sim.streaming !== null) {
          events.push({ event: { type: "message_updated", message_id: sim.streaming, changes: { streaming: false } } })
          sim.streaming = null
        }
        if (sim.pending !== null) {
          events.push(
            sim.pending.kind === "approval"
              ? { event: { type: "approval_resolved", request_id: sim.pending.id, outcome: "withdrawn" } }
              : { event: { type: "question_resolved", request_id: sim.pending.id, outcome: "withdrawn" } }
          )
          sim.pending = null
        }
        return Option.some(events)
      })

    const connector: Connector = {
      provider: "sim",
      create: (sessionId, params) =>
        Effect.gen(function* () {
          // A prompt the sim would refuse refuses the creation, before the session exists.
          if (params.prompt !== undefined) yield* acceptable(params.prompt)
          yield* host.commit(sessionId, [
            {
              event: {
                type: "session_created",
                provider: "sim",
                cwd: params.cwd,
                status: "waiting",
                model: params.model ?? "sim",
                approval_policy: params.approval_policy,
                ...(params.sandbox === undefined ? {} : { sandbox: params.sandbox })
              }
            }
          ])
          if (params.prompt !== undefined) {
            const state = yield* host.state(sessionId)
            if (Option.isSome(state)) yield* startTurn(state.value, params.prompt)
          }
        }),
      sendMessage: startTurn,
      approve: (session, params) => {
        const sim = simOf(session)
        return decide(
          session,
          params.request_id,
          "approval",
          {
            event: {
              type: "approval_resolved",
              request_id: params.request_id,
              outcome: params.approved ? "approved" : "denied",
              scope: params.scope
            }
          },
          { kind: "approval", approved: params.approved, scope: params.scope }
        )
      },
      answer: (session, requestId, answer) =>
        decide(
          session,
          requestId,
          "question",
          { event: { type: "question_resolved", request_id: requestId, outcome: "answered", answer } },
          { kind: "answer", answer }
        ),
      interrupt: (session) =>
        Effect.gen(function* () {
          const stopped = yield* stopTurn(session)
          if (Option.isNone(stopped)) return
          const sim = simOf(session)
          sim.turnUsage.output += "interrupted".length
          yield* host.commit(session.id, [
            ...stopped.value,
            message("assistant", "interrupted"),
            ...closing(sim, { event: { type: "turn_aborted", reason: "interrupted by user" } })
          ])
        }),
      end: (session) =>
        Effect.gen(function* () {
          const stopped = yield* stopTurn(session)
          yield* host.commit(session.id, [
            ...Option.getOrElse(stopped, () => []),
            { event: { type: "session_ended", reason: "ended_by_user" } }
          ])
          sims.delete(session.id)
        }),
      // The simulated agent lives in the server process: it never survives a restart.
      survivedRestart: () => Effect.succeed(false)
    }
    return connector
  })
