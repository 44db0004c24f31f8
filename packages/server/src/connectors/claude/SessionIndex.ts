/**
 * Which OrbitDock session a Claude session id belongs to, and bringing watched sessions into being.
 *
 * The rule: a Claude session OrbitDock only watches (started in a terminal) gets the Claude session
 * id itself as its OrbitDock id (`external_id` repeats it). A session OrbitDock drives gets the id the
 * registry chose, and its Claude session id (passed with `--session-id`) is mapped to it by a
 * checkpoint `claude:session:<claude id>` committed together with its `session_created`, so hooks and
 * transcript lines of a driven session find it again after a restart.
 *
 * A Claude session id from a hook body or a transcript's file name only ever names a `claude`
 * session: an id that is another provider's session (a `sim` or `codex` one) is refused, never
 * written to or reopened.
 *
 * Also owns one lock per session, which serializes the read-modify-emit steps (token totals, turn
 * boundaries) that the hook route, the transcript tailer and the headless driver all perform.
 */
import type { SessionId, SessionState } from "@orbitdock/domain"
import { Effect, Option } from "effect"
import { BoundedCache } from "../../internal/boundedCache.js"
import { KeyedLocks } from "../../internal/keyedLocks.js"
import type { ConnectorHost, EventInput } from "../Connector.js"

/** The checkpoint key mapping a Claude session id to the OrbitDock session that drives it. */
export const mappingKey = (claudeId: string): string => `claude:session:${claudeId}`

/** What `ensure` found: the session, none yet (it cannot be created without a cwd), or another provider's. */
export type Ensured =
  | { readonly _tag: "Session"; readonly session: SessionState }
  | { readonly _tag: "Unknown" }
  | { readonly _tag: "Foreign"; readonly sessionId: SessionId; readonly provider: string }

/** What a first sighting tells us about a watched session. */
export interface Sighting {
  readonly cwd?: string | undefined
  readonly model?: string | undefined
}

export interface SessionIndex {
  /** The OrbitDock session of a Claude session id (driven mapping, else the id itself). */
  readonly resolve: (claudeId: string) => Effect.Effect<SessionId>
  /** Records a driven session's mapping in memory (its checkpoint is committed by the creator). */
  readonly remember: (claudeId: string, sessionId: SessionId) => void
  /**
   * The claude session for a Claude session id, creating a watch-only one when it does not exist
   * yet; `Unknown` when it cannot be created (no cwd known yet), `Foreign` when the id names a
   * session of another provider.
   */
  readonly ensure: (claudeId: string, sighting: Sighting) => Effect.Effect<Ensured>
  /** Runs `effect` while holding the session's lock. */
  readonly locked: <A, E, R>(sessionId: SessionId, effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

/** Claude ids resolved to themselves that are remembered (any hook body can name a new one). */
const MAX_CACHED_IDS = 10_000

export const make = (host: ConnectorHost): SessionIndex => {
  // Driven sessions' mappings: one per process OrbitDock started, kept.
  const driven = new Map<string, SessionId>()
  // Every other id maps to itself; remembered only to spare the checkpoint lookup on the next hook.
  const selfMapped = new BoundedCache<string, true>(MAX_CACHED_IDS)
  const locks = new KeyedLocks()

  const resolve = (claudeId: string): Effect.Effect<SessionId> =>
    Effect.suspend(() => {
      const known = driven.get(claudeId)
      if (known !== undefined) return Effect.succeed(known)
      if (selfMapped.get(claudeId) !== undefined) return Effect.succeed(claudeId as SessionId)
      return host.checkpoint(mappingKey(claudeId)).pipe(
        Effect.map((value) => {
          if (Option.isSome(value)) {
            driven.set(claudeId, value.value as SessionId)
            return value.value as SessionId
          }
          selfMapped.set(claudeId, true)
          return claudeId as SessionId
        })
      )
    })

  const locked = <A, E, R>(sessionId: SessionId, effect: Effect.Effect<A, E, R>) => locks.withLock(sessionId, effect)

  const unknown: Ensured = { _tag: "Unknown" }
  const found = (session: SessionState): Ensured =>
    session.provider === "claude"
      ? { _tag: "Session", session }
      : { _tag: "Foreign", sessionId: session.id, provider: session.provider }

  const ensure = (claudeId: string, sighting: Sighting): Effect.Effect<Ensured> =>
    Effect.gen(function* () {
      const sessionId = yield* resolve(claudeId)
      return yield* locked(
        sessionId,
        Effect.gen(function* () {
          const existing = yield* host.state(sessionId)
          if (Option.isSome(existing)) return found(existing.value)
          if (sighting.cwd === undefined) return unknown
          const created: EventInput = {
            event: {
              type: "session_created",
              provider: "claude",
              cwd: sighting.cwd,
              status: "waiting",
              external_id: claudeId,
              watch_only: true,
              ...(sighting.model === undefined ? {} : { model: sighting.model })
            },
            source_key: `created:${claudeId}`
          }
          yield* host.emit(sessionId, [created]).pipe(
            Effect.catchAll((e) => Effect.logWarning(`claude: could not create session ${sessionId}: ${e.message}`))
          )
          return Option.match(yield* host.state(sessionId), { onNone: () => unknown, onSome: found })
        })
      )
    })

  return {
    resolve,
    remember: (claudeId, sessionId) => {
      selfMapped.delete(claudeId)
      driven.set(claudeId, sessionId)
    },
    ensure,
    locked
  }
}
