/** `/api/rules`: the approval rules over HTTP (PROTOCOL.md "Approval rules"). */
import { invalid, type Rule, RuleInput, type SessionId } from "@orbitdock/domain"
import { Effect, Layer, Schema } from "effect"
import type { ConnectorRoute } from "../connectors/Connector.js"
import { respond, withBody } from "../http/RouteAnswers.js"
import { Routes } from "../http/Routes.js"
import { Sessions, type SessionsShape } from "../Sessions.js"
import { problemOf, Rules, type RulesShape, type SessionFacts } from "./Rules.js"

const SimulateBody = Schema.Struct({
  /** The whole draft set (replaces the rules in force)… */
  rules: Schema.optional(Schema.Array(RuleInput)),
  /** …or changes to the rules in force. */
  add: Schema.optional(Schema.Array(RuleInput)),
  remove: Schema.optional(Schema.Array(Schema.String))
})

const DRAFT_AT = "draft"

/** A draft's rules as they would be added (ids given or made up, validated). */
const draftRules = (inputs: ReadonlyArray<RuleInput>): Effect.Effect<ReadonlyArray<Rule>, ReturnType<typeof invalid>> =>
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

export const routes = (rules: RulesShape, sessions: SessionsShape): ReadonlyArray<ConnectorRoute> => [
  {
    method: "GET",
    path: "/api/rules",
    handle: ({ query }) =>
      respond(
        Effect.suspend(() => {
          const at = query?.get("at") ?? undefined
          if (at !== undefined && Number.isNaN(Date.parse(at))) return Effect.fail(invalid("at must be an ISO time"))
          return Effect.succeed({ rules: rules.list(at === undefined ? undefined : new Date(at).toISOString()) })
        })
      )
  },
  { method: "POST", path: "/api/rules", handle: ({ body }) => respond(withBody(RuleInput, body, rules.add), 201) },
  {
    method: "DELETE",
    path: "/api/rules/*",
    handle: ({ pathRest }) => respond(rules.remove(pathRest ?? "").pipe(Effect.map((removed) => ({ removed }))))
  },
  {
    method: "POST",
    path: "/api/rules/simulate",
    handle: ({ body }) =>
      respond(
        withBody(SimulateBody, body, ({ rules: replacement, add, remove }) =>
          Effect.gen(function* () {
            if (replacement !== undefined && (add !== undefined || remove !== undefined)) {
              return yield* Effect.fail(invalid("give either rules (a whole draft) or add/remove (changes to the rules in force), not both"))
            }
            const added = yield* draftRules(replacement ?? add ?? [])
            const removed = new Set(remove ?? [])
            const draft = replacement !== undefined ? added : [...rules.list().filter((rule) => !removed.has(rule.id)), ...added]
            return yield* rules.simulate(draft, sessionLookup(sessions))
          })
        )
      )
  }
]

/** The rules' routes, added to the transport's. */
export const layer: Layer.Layer<never, never, Rules | Sessions | Routes> = Layer.effectDiscard(
  Effect.gen(function* () {
    const extra = yield* Routes
    extra.add(routes(yield* Rules, yield* Sessions))
  })
)
