/**
 * Permission prompts held open while OrbitDock asks the user: a terminal session's PermissionRequest
 * (or PreToolUse) hook, or a driven session's `can_use_tool` control request.
 *
 * Owns the pending decisions: raising `approval_requested`, waiting for `approve_tool` or for the
 * no-decision timeout (then `approval_resolved: expired`, and the caller answers "no decision" so
 * Claude's own prompt takes over), and `withdrawn` (with its reason) when the asker goes away: the
 * waiting fiber is interrupted (the hook's connection closed) or its process ended, the turn was
 * interrupted. A request is recorded resolved exactly once, and a decision is only reported
 * delivered when it went to an asker that was still waiting. Does not know how an answer is
 * delivered to Claude.
 */
import type { ApprovalRequest, ProtocolError, RequestId, SessionId } from "@orbitdock/domain"
import { Deferred, type Duration, Effect, Option } from "effect"
import { type ApproveParams, type ConnectorHost, type EventInput, ruledEvents } from "../Connector.js"

export type Decision =
  | { readonly kind: "approved"; readonly scope: "once" | "session" }
  | { readonly kind: "denied" }
  | { readonly kind: "expired" }
  | { readonly kind: "withdrawn" }

/** What the asker knows about the tool call. */
export interface Ask {
  readonly tool_name: string
  readonly input: unknown
  readonly cwd?: string | undefined
  readonly reason?: string | undefined
  /** Identical asks in flight share one approval (Claude may run two identical hooks, e.g. curl + http). */
  readonly dedupeKey?: string | undefined
  /** Why the request is withdrawn if every fiber holding it stops waiting (is interrupted). */
  readonly goneReason: string
}

interface Held {
  readonly sessionId: SessionId
  readonly deferred: Deferred.Deferred<Decision>
  readonly waiters: { count: number }
}

export interface PermissionHold {
  /**
   * Raises an approval and waits for its decision, at most `timeout` (none: wait for the user). The
   * approval is committed before waiting; the resolution is committed before this returns. Once the
   * approval is raised, an interruption withdraws it (`ask.goneReason`) unless others hold it too.
   */
  readonly hold: (
    sessionId: SessionId,
    ask: Ask,
    timeout: Duration.DurationInput | undefined
  ) => Effect.Effect<Decision, ProtocolError>
  /**
   * Delivers the user's decision: `true` once recorded and handed to the waiting asker. `false` when
   * nobody waits for it any more; the request is then recorded `withdrawn` (if it was not already),
   * so it never stays pending.
   */
  readonly decide: (sessionId: SessionId, params: ApproveParams) => Effect.Effect<boolean, ProtocolError>
  /** Withdraws every request held for a session in one commit (its asker went away: `reason`). */
  readonly withdrawAll: (sessionId: SessionId, reason: string) => Effect.Effect<void>
  /** Whether a request is held by this process. */
  readonly isHeld: (requestId: string) => boolean
}

const resolution = (requestId: RequestId, decision: Decision, reason?: string): EventInput => ({
  event: {
    type: "approval_resolved",
    request_id: requestId,
    outcome: decision.kind,
    ...(decision.kind === "approved" ? { scope: decision.scope } : {}),
    ...(reason === undefined ? {} : { reason })
  },
  // One resolution per request: a second one (e.g. a late `decide` racing a withdrawal) is dropped.
  source_key: `resolved:${requestId}`
})

export const make = (host: ConnectorHost): PermissionHold => {
  /** Requests waiting for a decision, and those settled whose resolution is not committed yet. */
  const held = new Map<string, Held>()
  const byAsk = new Map<string, RequestId>()

  /**
   * Settles requests once: for each, the first of decision, timeout and withdrawal wins. The winners'
   * resolutions are committed together; until then they stay in `held` (a racing `decide` sees them
   * settled, not unknown). Returns the ids this call settled.
   */
  const settle = (sessionId: SessionId, requestIds: ReadonlyArray<RequestId>, decision: Decision, reason?: string) =>
    // Uninterruptible: a request settled here is also recorded.
    Effect.uninterruptible(Effect.gen(function* () {
      const won: Array<RequestId> = []
      for (const requestId of requestIds) {
        const entry = held.get(requestId)
        if (entry === undefined) continue
        if (!(yield* Deferred.succeed(entry.deferred, decision))) continue
        for (const [key, id] of byAsk) if (id === requestId) byAsk.delete(key)
        won.push(requestId)
      }
      if (won.length === 0) return won
      yield* host
        .commit(sessionId, won.map((id) => resolution(id, decision, reason)))
        .pipe(Effect.ensuring(Effect.sync(() => won.forEach((id) => held.delete(id)))))
      return won
    }))

  const requestOf = (requestId: RequestId, ask: Ask): ApprovalRequest => {
    const command =
      typeof ask.input === "object" && ask.input !== null && typeof (ask.input as Record<string, unknown>).command === "string"
        ? ((ask.input as Record<string, unknown>).command as string)
        : undefined
    const request: ApprovalRequest = {
      id: requestId,
      kind: "tool",
      created_at: host.now(),
      tool_name: ask.tool_name,
      input: ask.input,
      ...(command === undefined ? {} : { command }),
      ...(ask.cwd === undefined ? {} : { cwd: ask.cwd }),
      ...(ask.reason === undefined ? {} : { reason: ask.reason })
    }
    return request
  }

  const raise = (sessionId: SessionId, request: ApprovalRequest) =>
    host.commit(sessionId, [{ event: { type: "approval_requested", request }, source_key: `asked:${request.id}` }])

  const hold: PermissionHold["hold"] = (sessionId, ask, timeout) =>
    // Uninterruptible from joining (or raising) the request until the withdrawal is in place: an
    // asker that goes away while the approval is being committed must not leave it pending.
    Effect.uninterruptibleMask((restore) =>
      Effect.gen(function* () {
        const joined = ask.dedupeKey === undefined ? undefined : byAsk.get(ask.dedupeKey)
        const existing = joined === undefined ? undefined : held.get(joined)
        let requestId: RequestId
        let entry: Held
        if (existing !== undefined && joined !== undefined) {
          requestId = joined
          entry = existing
          entry.waiters.count++
        } else {
          requestId = host.newId("req") as RequestId
          const screened = yield* host.screenApproval(sessionId, requestOf(requestId, ask))
          const ruled = screened.decision
          if (ruled !== null) {
            // Decided by the rules: recorded asked and answered at once, nobody waits.
            yield* host.commit(sessionId, ruledEvents({ ...screened, decision: ruled }, { requested: `asked:${requestId}`, resolved: `resolved:${requestId}` }))
            return ruled.approved ? ({ kind: "approved", scope: "once" } as const) : ({ kind: "denied" } as const)
          }
          entry = { sessionId, deferred: yield* Deferred.make<Decision>(), waiters: { count: 1 } }
          held.set(requestId, entry)
          if (ask.dedupeKey !== undefined) byAsk.set(ask.dedupeKey, requestId)
          const raised = entry
          yield* raise(sessionId, screened.request).pipe(
            Effect.tapError(() =>
              Effect.suspend(() => {
                held.delete(requestId)
                if (ask.dedupeKey !== undefined) byAsk.delete(ask.dedupeKey)
                // Never raised: whoever joined it meanwhile stops waiting.
                return Deferred.succeed(raised.deferred, { kind: "withdrawn" })
              })
            )
          )
        }
        const wait = Deferred.await(entry.deferred)
        const decided =
          timeout === undefined
            ? wait
            : wait.pipe(
                Effect.timeout(timeout),
                Effect.catchTag("TimeoutException", () =>
                  settle(sessionId, [requestId], { kind: "expired" }, "nobody decided in time").pipe(Effect.zipRight(wait))
                )
              )
        return yield* restore(decided).pipe(
          Effect.onInterrupt(() =>
            Effect.suspend(() => {
              entry.waiters.count--
              return entry.waiters.count > 0
                ? Effect.void
                : settle(sessionId, [requestId], { kind: "withdrawn" }, ask.goneReason).pipe(Effect.ignore)
            })
          )
        )
      })
    )

  const decide: PermissionHold["decide"] = (sessionId, params) =>
    Effect.gen(function* () {
      const decision: Decision = params.approved ? { kind: "approved", scope: params.scope } : { kind: "denied" }
      if (held.has(params.request_id)) {
        const won = yield* settle(sessionId, [params.request_id], decision)
        // Not won: it was settled just before (withdrawn, expired), and that resolution is recorded.
        return won.length > 0
      }
      // Pending for clients, yet nobody here holds it: its asker is gone (e.g. the hook that asked
      // went with an earlier server process). Record that instead of a decision nobody receives.
      yield* host.commit(sessionId, [
        resolution(params.request_id, { kind: "withdrawn" }, "nobody is waiting for this answer any more")
      ])
      return false
    })

  const withdrawAll: PermissionHold["withdrawAll"] = (sessionId, reason) =>
    settle(
      sessionId,
      [...held].filter(([, h]) => h.sessionId === sessionId).map(([id]) => id as RequestId),
      { kind: "withdrawn" },
      reason
    ).pipe(Effect.ignore)

  return { hold, decide, withdrawAll, isHeld: (requestId) => held.has(requestId) }
}

/**
 * At startup: the session's pending approvals that nobody holds (their hooks were connections to the
 * previous server process) are withdrawn, so they do not wait for answers nobody can receive.
 */
export const withdrawOrphans = (host: ConnectorHost, hold: PermissionHold, sessionId: SessionId, reason: string) =>
  Effect.gen(function* () {
    // `state` shows the first pending approval only: withdraw it and look again.
    for (;;) {
      const pending = Option.flatMap(yield* host.state(sessionId), (s) => Option.fromNullable(s.pending_approval))
      if (Option.isNone(pending) || hold.isHeld(pending.value.id)) return
      const receipt = yield* host.commit(sessionId, [resolution(pending.value.id, { kind: "withdrawn" }, reason)])
      // Dropped as already resolved: the state would not change, so stop rather than loop.
      if ((yield* receipt.folded).length === 0) return
    }
  })
