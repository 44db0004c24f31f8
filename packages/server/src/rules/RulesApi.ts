/**
 * The approval rules as clients reach them: the WebSocket's `list_rules`, `add_rule`,
 * `remove_rule`, `simulate_rules` (`RulesApi`, used by `Socket.ts`) and `/api/rules` over HTTP
 * (PROTOCOL.md "Approval rules"), one implementation for both.
 */
import {
  type ApprovalRequest,
  invalid,
  notFound,
  type ProtocolError,
  type Rule,
  RuleInput,
  RulesDraft,
  type SessionId,
  type SimulationReport
} from "@orbitdock/domain"
import { Context, Effect, Layer } from "effect"
import type { ConnectorRoute } from "../connectors/Connector.js"
import { respond, withBody } from "../http/RouteAnswers.js"
import { Routes } from "../http/Routes.js"
import { Sessions, type SessionsShape } from "../Sessions.js"
import { problemOf, Rules, type RulesShape, type SessionFacts } from "./Rules.js"

export interface RulesApi {
  /** The rules in force, or at a past time (ISO; anything else is `invalid_message`). */
  readonly list: (at?: string) => Effect.Effect<ReadonlyArray<Rule>, ProtocolError>
  readonly add: (input: RuleInput) => Effect.Effect<Rule, ProtocolError>
  readonly remove: (id: string) => Effect.Effect<Rule, ProtocolError>
  readonly simulate: (draft: RulesDraft) => Effect.Effect<SimulationReport, ProtocolError>
  /** A session's pending approval as the rules see it, and rules (of its project) that would allow it. */
  readonly suggest: (sessionId: SessionId, requestId: string) => Effect.Effect<Suggestion, ProtocolError>
}

export interface Suggestion {
  readonly request: ApprovalRequest
  readonly commands: ReadonlyArray<{ readonly text: string; readonly risk: ReadonlyArray<string> }>
  readonly risk: ReadonlyArray<string>
  readonly inside: boolean
  readonly rules: ReadonlyArray<RuleInput>
}

export class RulesApiTag extends Context.Tag("@orbitdock/server/RulesApi")<RulesApiTag, RulesApi>() {}

const DRAFT_AT = "draft"

/** A draft's rules as they would be added (ids given or made up, validated). */
const draftRules = (inputs: ReadonlyArray<RuleInput>): Effect.Effect<ReadonlyArray<Rule>, ProtocolError> =>
  Effect.forEach(inputs, (input, index) => {
    const problem = problemOf(input)
    if (problem !== null) return Effect.fail(invalid(`rule ${index + 1}: ${problem}`))
    return Effect.succeed<Rule>({
      id: input.id ?? `draft_${index + 1}`,
      effect: input.effect,
      scope: input.scope,
      match: input.match,
      ...(input.note === undefined ? {} : { note: input.note }),
      created_at: DRAFT_AT
    })
  })

const sessionLookup = (sessions: SessionsShape) => (id: SessionId): SessionFacts | undefined => {
  const summary = sessions.summary(id)
  return summary === undefined ? undefined : { id, provider: summary.provider, cwd: summary.cwd }
}

export const make = (rules: RulesShape, sessions: SessionsShape): RulesApi => ({
  suggest: (sessionId, requestId) =>
    sessions.get(sessionId).pipe(
      Effect.flatMap((state) => {
        const request = state.pending_approval
        if (request === null || request.id !== requestId) return Effect.fail(notFound(`session ${sessionId} is not waiting for approval ${requestId}`))
        const { facts, rules: suggested } = rules.suggest({ id: state.id, provider: state.provider, cwd: state.cwd }, request, { kind: "project", cwd: state.cwd })
        return Effect.succeed<Suggestion>({
          request,
          commands: facts.commands.map((command) => ({ text: command.text, risk: command.risk })),
          risk: facts.risk,
          inside: facts.inside,
          rules: suggested
        })
      })
    ),
  list: (at) =>
    at === undefined
      ? Effect.succeed(rules.list())
      : Number.isNaN(Date.parse(at))
        ? Effect.fail(invalid(`at must be an ISO time, not ${JSON.stringify(at.slice(0, 60))}`))
        : Effect.succeed(rules.list(new Date(at).toISOString())),
  add: rules.add,
  remove: rules.remove,
  simulate: ({ rules: replacement, add, remove }) =>
    Effect.gen(function* () {
      if (replacement !== undefined && (add !== undefined || remove !== undefined)) {
        return yield* Effect.fail(invalid("give either rules (a whole draft) or add/remove (changes to the rules in force), not both"))
      }
      const added = yield* draftRules(replacement ?? add ?? [])
      const removed = new Set(remove ?? [])
      const draft = replacement !== undefined ? added : [...rules.list().filter((rule) => !removed.has(rule.id)), ...added]
      return yield* rules.simulate(draft, sessionLookup(sessions))
    })
})

export const routes = (api: RulesApi): ReadonlyArray<ConnectorRoute> => [
  {
    method: "GET",
    path: "/api/rules",
    handle: ({ query }) =>
      respond(api.list(query?.get("at") ?? undefined).pipe(Effect.map((rules) => ({ rules }))))
  },
  { method: "POST", path: "/api/rules", handle: ({ body }) => respond(withBody(RuleInput, body, api.add), 201) },
  {
    method: "DELETE",
    path: "/api/rules/*",
    handle: ({ pathRest }) => respond(api.remove(pathRest ?? "").pipe(Effect.map((removed) => ({ removed }))))
  },
  { method: "POST", path: "/api/rules/simulate", handle: ({ body }) => respond(withBody(RulesDraft, body, api.simulate)) },
  {
    method: "GET",
    path: "/api/rules/suggest",
    handle: ({ query }) =>
      respond(
        Effect.suspend(() => {
          const sessionId = query?.get("session_id")
          const requestId = query?.get("request_id")
          if (!sessionId || !requestId) return Effect.fail(invalid("session_id and request_id are required"))
          return api.suggest(sessionId as SessionId, requestId)
        })
      )
  }
]

/** After start, the past is read in the background so that a first try of a draft is quick too. */
const WARM_UP_AFTER = "10 seconds"

/** The rules for clients: the WebSocket's (a service the transport finds) and HTTP's routes. */
export const layer: Layer.Layer<RulesApiTag, never, Rules | Sessions | Routes> = Layer.scoped(
  RulesApiTag,
  Effect.gen(function* () {
    const api = make(yield* Rules, yield* Sessions)
    ;(yield* Routes).add(routes(api))
    yield* api.simulate({ rules: [] }).pipe(
      Effect.delay(WARM_UP_AFTER),
      Effect.catchAll((error) => Effect.logWarning(`the past requests could not be read ahead: ${error.message}`)),
      Effect.interruptible,
      Effect.forkScoped
    )
    return api
  })
)
