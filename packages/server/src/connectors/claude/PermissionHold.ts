/**
 * Permission prompts held open while OrbitDock asks the user: a terminal session's PermissionRequest
 * (or PreToolUse) hook, or a driven session's `can_use_tool` control request.
 *
 * Owns the pending decisions: raising `approval_requested`, waiting for `approve_tool` or for the
 * no-decision timeout (then `approval_resolved: expired`, and the caller answers "no decision" so
 * Claude's own prompt takes over), and `withdrawn` when the asker goes away (hook connection closed,
 * process ended, turn interrupted). Does not know how an answer is delivered to Claude.
 */
import type { ApprovalRequest, ProtocolError, RequestId, SessionId } from "@orbitdock/domain"
import { Deferred, type Duration, Effect } from "effect"
import type { ApproveParams, ConnectorHost } from "../Connector.js"

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
}

interface Held {
  readonly sessionId: SessionId
  readonly deferred: Deferred.Deferred<Decision>
  readonly waiters: { count: number }
}

export interface PermissionHold {
  /**
   * Raises an approval and waits for its decision, at most `timeout` (none: wait for the user). The
   * approval is committed before waiting; the resolution is committed before this returns.
   */
  readonly hold: (
    sessionId: SessionId,
    ask: Ask,
    timeout: Duration.DurationInput | undefined
  ) => Effect.Effect<Decision, ProtocolError>
  /** Delivers the user's decision; `false` when nobody holds this request any more. */
  readonly decide: (sessionId: SessionId, params: ApproveParams) => Effect.Effect<boolean, ProtocolError>
  /** Withdraws every request held for a session (its turn or process ended). */
  readonly withdrawAll: (sessionId: SessionId) => Effect.Effect<void>
  /** Whether a request is held by this process. */
  readonly isHeld: (requestId: string) => boolean
}

export const make = (host: ConnectorHost): PermissionHold => {
  const held = new Map<string, Held>()
  const byAsk = new Map<string, RequestId>()

  const resolve = (sessionId: SessionId, requestId: RequestId, decision: Decision) => {
    const outcome = decision.kind
    return host.commit(sessionId, [
      {
        event: {
          type: "approval_resolved",
          request_id: requestId,
          outcome,
          ...(decision.kind === "approved" ? { scope: decision.scope } : {})
        },
        source_key: `resolved:${requestId}`
      }
    ])
  }

  /** Settles a request once: the first of decision, timeout and withdrawal wins and is recorded. */
  const settle = (requestId: RequestId, decision: Decision) =>
    Effect.gen(function* () {
      const entry = held.get(requestId)
      if (entry === undefined) return false
      const won = yield* Deferred.succeed(entry.deferred, decision)
      if (!won) return false
      held.delete(requestId)
      for (const [key, id] of byAsk) if (id === requestId) byAsk.delete(key)
      yield* resolve(entry.sessionId, requestId, decision)
      return true
    })

  const hold: PermissionHold["hold"] = (sessionId, ask, timeout) =>
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
        entry = { sessionId, deferred: yield* Deferred.make<Decision>(), waiters: { count: 1 } }
        held.set(requestId, entry)
        if (ask.dedupeKey !== undefined) byAsk.set(ask.dedupeKey, requestId)
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
        yield* host.commit(sessionId, [{ event: { type: "approval_requested", request }, source_key: `asked:${requestId}` }]).pipe(
          Effect.tapError(() => Effect.sync(() => held.delete(requestId)))
        )
      }
      const wait = Deferred.await(entry.deferred)
      const decided =
        timeout === undefined
          ? wait
          : wait.pipe(
              Effect.timeout(timeout),
              Effect.catchTag("TimeoutException", () =>
                settle(requestId, { kind: "expired" }).pipe(Effect.zipRight(Deferred.await(entry.deferred)))
              )
            )
      return yield* decided.pipe(
        Effect.onInterrupt(() =>
          Effect.suspend(() => {
            entry.waiters.count--
            return entry.waiters.count > 0
              ? Effect.void
              : settle(requestId, { kind: "withdrawn" }).pipe(Effect.ignore)
          })
        )
      )
    })

  return {
    hold,
    decide: (_sessionId, params) =>
      settle(params.request_id, params.approved ? { kind: "approved", scope: params.scope } : { kind: "denied" }),
    withdrawAll: (sessionId) =>
      Effect.forEach(
        [...held].filter(([, h]) => h.sessionId === sessionId).map(([id]) => id as RequestId),
        (id) => settle(id, { kind: "withdrawn" }).pipe(Effect.ignore),
        { discard: true }
      ),
    isHeld: (requestId) => held.has(requestId)
  }
}
