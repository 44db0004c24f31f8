/**
 * Held permission prompts against the real registry (in-memory log): a request is recorded resolved
 * exactly once, its asker going away withdraws it (even while it is being raised), shared asks are
 * withdrawn only when every holder is gone, and a decision nobody can receive is never reported
 * delivered.
 */
import type { RequestId, SessionId } from "@orbitdock/domain"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Option, Schedule } from "effect"
import type { ConnectorFactory, ConnectorHost } from "../../../src/connectors/Connector.js"
import * as PermissionHold from "../../../src/connectors/claude/PermissionHold.js"
import * as EventLogMemory from "../../../src/eventlog/EventLogMemory.js"
import * as SessionRegistry from "../../../src/SessionRegistry.js"
import { Sessions } from "../../../src/Sessions.js"

const SESSION = "ses-hold" as SessionId

/** A registry whose one connector only hands its host out; the test plays the Claude connector. */
const withHost = <A, E>(f: (host: ConnectorHost) => Effect.Effect<A, E, Sessions>) => {
  let captured: ConnectorHost | undefined
  const capture: ConnectorFactory = (host) =>
    Effect.sync(() => {
      captured = host
      return { provider: "claude" } as never
    })
  return Effect.flatMap(Sessions, () =>
    captured!
      .commit(SESSION, [{ event: { type: "session_created", provider: "claude", cwd: "/w", status: "working", watch_only: true } }])
      .pipe(Effect.zipRight(f(captured!)))
  ).pipe(Effect.provide(SessionRegistry.layer([capture]).pipe(Layer.provide(EventLogMemory.layer))))
}

const ask = (command: string, dedupeKey?: string): PermissionHold.Ask => ({
  tool_name: "Bash",
  input: { command },
  dedupeKey,
  goneReason: "the hook's connection closed"
})

/** The session's request events, as (type, data) pairs. */
const requestEvents = (id: SessionId) =>
  Effect.flatMap(Sessions, (sessions) => sessions.events(id, 0, 1000)).pipe(
    Effect.map((page) => page.events.filter((e) => e.type.startsWith("approval_")).map((e) => ({ type: e.type, revision: e.revision, data: e.data as any })))
  )

/** Waits until the session shows a pending approval (the raise is committed), returning its id. */
const pendingApproval = (host: ConnectorHost) =>
  host.state(SESSION).pipe(
    Effect.flatMap((state) => Option.fromNullable(Option.getOrNull(state)?.pending_approval)),
    Effect.retry(Schedule.spaced("5 millis").pipe(Schedule.upTo("5 seconds"))),
    Effect.map((request) => request.id)
  )

/** Waits until `count` approvals were raised (committed). */
const raised = (count: number) =>
  requestEvents(SESSION).pipe(
    Effect.filterOrFail((events) => events.filter((e) => e.type === "approval_requested").length >= count),
    Effect.retry(Schedule.spaced("5 millis").pipe(Schedule.upTo("5 seconds")))
  )

const approve = (requestId: RequestId) => ({ request_id: requestId, approved: true, scope: "once" as const })

describe("PermissionHold", () => {
  it.live("an asker that stops waiting withdraws its request, with why; a later decision is not delivered", () =>
    withHost((host) =>
      Effect.gen(function* () {
        const hold = PermissionHold.make(host)
        const asker = yield* Effect.fork(hold.hold(SESSION, ask("ls"), undefined))
        const id = yield* pendingApproval(host)
        yield* Fiber.interrupt(asker)
        expect(hold.isHeld(id)).toBe(false)
        expect(Option.getOrThrow(yield* host.state(SESSION))).toMatchObject({ pending_approval: null, attention: false })
        expect(yield* hold.decide(SESSION, approve(id))).toBe(false)
        const events = yield* requestEvents(SESSION)
        expect(events.map((e) => e.data.outcome ?? "asked")).toEqual(["asked", "withdrawn"])
        expect(events[1]!.data.reason).toBe("the hook's connection closed")
      })
    ))

  it.live("an asker gone while its request is being raised still withdraws it", () =>
    withHost((host) =>
      Effect.gen(function* () {
        const hold = PermissionHold.make(host)
        for (let i = 0; i < 20; i++) {
          const asker = yield* Effect.fork(hold.hold(SESSION, ask(`echo ${i}`), undefined))
          // Let it start raising (the commit waits for the disk), then take the asker away.
          yield* Effect.yieldNow()
          yield* Fiber.interrupt(asker)
        }
        // Every request raised was withdrawn: none is left pending.
        expect(Option.getOrThrow(yield* host.state(SESSION))).toMatchObject({ pending_approval: null, attention: false })
        const events = yield* requestEvents(SESSION)
        const asked = events.filter((e) => e.type === "approval_requested").map((e) => e.data.request.id)
        const withdrawn = events.filter((e) => e.data.outcome === "withdrawn").map((e) => e.data.request_id)
        expect(asked.length).toBeGreaterThan(0)
        expect(withdrawn.sort()).toEqual(asked.sort())
      })
    ))

  it.live("identical asks share one request: it stays while one holder still waits, which gets the decision", () =>
    withHost((host) =>
      Effect.gen(function* () {
        const hold = PermissionHold.make(host)
        const first = yield* Effect.fork(hold.hold(SESSION, ask("make", "k"), undefined))
        const id = yield* pendingApproval(host)
        const second = yield* Effect.fork(hold.hold(SESSION, ask("make", "k"), undefined))
        yield* Effect.yieldNow()
        yield* Fiber.interrupt(first)
        expect(hold.isHeld(id)).toBe(true)
        expect(yield* hold.decide(SESSION, approve(id))).toBe(true)
        expect(yield* Fiber.join(second)).toEqual({ kind: "approved", scope: "once" })
        const events = yield* requestEvents(SESSION)
        expect(events.map((e) => e.data.outcome ?? "asked")).toEqual(["asked", "approved"])
      })
    ))

  it.live("withdrawAll withdraws every held request of the session in one commit; their holders learn it", () =>
    withHost((host) =>
      Effect.gen(function* () {
        const hold = PermissionHold.make(host)
        const askers = []
        for (const command of ["a", "b", "c"]) askers.push(yield* Effect.fork(hold.hold(SESSION, ask(command), undefined)))
        yield* raised(3)
        yield* hold.withdrawAll(SESSION, "claude exited (code 137)")
        for (const asker of askers) expect(yield* Fiber.join(asker)).toEqual({ kind: "withdrawn" })
        const resolved = (yield* requestEvents(SESSION)).filter((e) => e.type === "approval_resolved")
        expect(resolved.map((e) => [e.data.outcome, e.data.reason])).toEqual(Array(3).fill(["withdrawn", "claude exited (code 137)"]))
        // One commit: consecutive revisions.
        expect(resolved.map((e) => e.revision - resolved[0]!.revision)).toEqual([0, 1, 2])
        expect(Option.getOrThrow(yield* host.state(SESSION))).toMatchObject({ pending_approval: null, attention: false })
      })
    ))

  it.live("a pending request nobody here holds (its hook went with the previous process) is recorded withdrawn on decide", () =>
    withHost((host) =>
      Effect.gen(function* () {
        const before = PermissionHold.make(host)
        const asker = yield* Effect.fork(before.hold(SESSION, ask("rm x"), undefined))
        const id = yield* pendingApproval(host)
        // The asker is lost without a trace (a new PermissionHold, as after a restart).
        const after = PermissionHold.make(host)
        expect(yield* after.decide(SESSION, approve(id))).toBe(false)
        const events = yield* requestEvents(SESSION)
        expect(events.map((e) => e.data.outcome ?? "asked")).toEqual(["asked", "withdrawn"])
        expect(Option.getOrThrow(yield* host.state(SESSION)).pending_approval).toBeNull()
        // The old holder's own withdrawal, if it ever comes, is not recorded twice.
        yield* Fiber.interrupt(asker)
        expect((yield* requestEvents(SESSION)).length).toBe(2)
      })
    ))
})
