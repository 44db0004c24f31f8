/**
 * The approval rules in force: folded from their events (kept in the log's `rule_events`), changed
 * by `add` and `remove` (each change durable before it is answered), consulted by the connectors
 * before a request is raised (`screen`), and tried against every past request (`simulate`).
 */
import {
  type ApprovalRequest,
  conflict,
  invalid,
  notFound,
  type Provider,
  ProtocolError,
  type Rule,
  RuleEvent,
  type RuleInput,
  type RuleDecision,
  type SessionId,
  type SimulationReport
} from "@orbitdock/domain"
import { Context, Effect, Layer, Schema } from "effect"
import * as crypto from "node:crypto"
import * as os from "node:os"
import * as path from "node:path"
import { EventLog, type EventLogError } from "../eventlog/EventLog.js"
import { decide, globLiteral, validRegex, type Verdict } from "./Decide.js"
import { factsOf, type RequestFacts } from "./Requests.js"
import { makeHistory } from "./Simulate.js"

/** The session a request is raised in, as the rules see it. */
export interface SessionFacts {
  readonly id: SessionId
  readonly provider: Provider
  readonly cwd: string
}

export interface Screened {
  /** The request with its risk classes. */
  readonly request: ApprovalRequest
  /** What the rules decided; null: the person decides. */
  readonly decision: { readonly approved: boolean; readonly decided_by: RuleDecision } | null
}

export interface RulesShape {
  /** The rules in force now, or at a past time (ISO). */
  readonly list: (at?: string) => ReadonlyArray<Rule>
  readonly add: (input: RuleInput) => Effect.Effect<Rule, ProtocolError>
  readonly remove: (id: string) => Effect.Effect<Rule, ProtocolError>
  readonly screen: (session: SessionFacts, request: ApprovalRequest) => Screened
  /**
   * "Approve for this session": allow rules of that session naming what the request runs (each of
   * its simple commands exactly; a request without commands: its kind and tool, where its files
   * are), so the allowance is seen and revocable like any rule. The rules added (none already there).
   */
  readonly allowForSession: (session: SessionFacts, request: ApprovalRequest) => Effect.Effect<ReadonlyArray<Rule>, ProtocolError>
  /** Rules that would allow a request from now on in `scope`: what `allowForSession` adds, for any scope. */
  readonly suggest: (session: SessionFacts, request: ApprovalRequest, scope: Rule["scope"]) => { readonly facts: RequestFacts; readonly rules: ReadonlyArray<RuleInput> }
  /** Every past request judged by `draft`, against how it was decided then. */
  readonly simulate: (draft: ReadonlyArray<Rule>, sessionOf: (id: SessionId) => SessionFacts | undefined) => Effect.Effect<SimulationReport, ProtocolError>
  /** A request's facts and the verdict of `rules` on it (the current rules by default). */
  readonly judge: (session: SessionFacts, request: ApprovalRequest, rules?: ReadonlyArray<Rule>) => { readonly facts: RequestFacts; readonly verdict: Verdict }
}

export class Rules extends Context.Tag("@orbitdock/server/Rules")<Rules, RulesShape>() {}

const decodeEvent = Schema.decodeUnknownSync(Schema.parseJson(RuleEvent))

/** The rules in force after `events` (those at or before `at`, when given). */
export const fold = (events: ReadonlyArray<RuleEvent>, at?: string): ReadonlyArray<Rule> => {
  const rules = new Map<string, Rule>()
  for (const event of events) {
    if (at !== undefined && event.at > at) break
    if (event.type === "rule_added") rules.set(event.rule.id, event.rule)
    else rules.delete(event.rule_id)
  }
  return [...rules.values()]
}

/** What makes a rule unusable, in words; null when it is fine. */
export const problemOf = (input: RuleInput): string | null => {
  if (input.match.command_regex !== undefined && !validRegex(input.match.command_regex)) {
    return `command_regex is not a valid regular expression: ${input.match.command_regex}`
  }
  if (input.scope.kind === "project" && !path.isAbsolute(input.scope.cwd)) return `a project's cwd must be an absolute path, not ${input.scope.cwd}`
  if (input.id !== undefined && !/^[A-Za-z0-9_.:-]+$/.test(input.id)) return "a rule id is letters, digits and _ . : -"
  return null
}

export const make = Effect.gen(function* () {
  const log = yield* EventLog
  const clock = yield* Effect.clock
  const home = os.homedir()
  const events: Array<RuleEvent> = []
  for (const payload of yield* log.ruleEvents) {
    try {
      events.push(decodeEvent(payload))
    } catch (error) {
      // Never lose the rest: one unreadable change is skipped, loudly.
      yield* Effect.logError(`an approval rule event cannot be read and is skipped: ${String(error).slice(0, 300)}`)
    }
  }
  let current = fold(events)
  const history = makeHistory(log, home)
  const writes = yield* Effect.makeSemaphore(1)
  const nowIso = () => new Date(clock.unsafeCurrentTimeMillis()).toISOString()

  const record = (event: RuleEvent) =>
    Effect.flatten(
      log.append({
        events: [],
        ruleEvents: [[`${event.type}:${crypto.randomUUID()}`, event.at, event.type, JSON.stringify(Schema.encodeSync(RuleEvent)(event))]],
        urgent: true
      })
    ).pipe(
      Effect.mapError((error) => new ProtocolError({ code: "unavailable", message: `the rule change could not be saved: ${error.message}` })),
      Effect.tap(() =>
        Effect.sync(() => {
          events.push(event)
          current = fold(events)
        })
      )
    )

  /** Matches that allow what a request does: each simple command named exactly, else its kind, tool and where its files are. */
  const allowing = (facts: RequestFacts): ReadonlyArray<Rule["match"]> =>
    facts.commands.length > 0
      ? [...new Set(facts.commands.map((command) => command.text))].map((text) => ({ command: globLiteral(text) }))
      : [{ kind: [facts.kind], tool: [facts.tool], ...(facts.paths.length > 0 ? { paths: facts.inside ? ("inside" as const) : ("outside" as const) } : {}) }]

  const judge: RulesShape["judge"] = (session, request, rules = current) => {
    const facts = factsOf(request, session, home)
    return { facts, verdict: decide(rules, facts) }
  }

  const add = (input: RuleInput): Effect.Effect<Rule, ProtocolError> =>
      writes.withPermits(1)(
        Effect.gen(function* () {
          const problem = problemOf(input)
          if (problem !== null) return yield* Effect.fail(invalid(problem))
          const id = input.id ?? `rule_${crypto.randomBytes(5).toString("hex")}`
          if (current.some((rule) => rule.id === id)) return yield* Effect.fail(conflict(`a rule ${id} already exists; remove it first`))
          const at = nowIso()
          const rule: Rule = {
            id,
            effect: input.effect,
            scope: input.scope,
            match: input.match,
            ...(input.note === undefined ? {} : { note: input.note }),
            created_at: at
          }
          yield* record({ type: "rule_added", at, rule })
          yield* Effect.logInfo(`approval rule ${id} added: ${rule.effect} ${JSON.stringify(rule.match)} (${rule.scope.kind})`)
          return rule
        })
      )

  return Rules.of({
    list: (at) => (at === undefined ? current : fold(events, at)),
    add,
    remove: (id) =>
      writes.withPermits(1)(
        Effect.gen(function* () {
          const rule = current.find((candidate) => candidate.id === id)
          if (rule === undefined) return yield* Effect.fail(notFound(`no rule ${id}`))
          yield* record({ type: "rule_removed", at: nowIso(), rule_id: id })
          yield* Effect.logInfo(`approval rule ${id} removed`)
          return rule
        })
      ),
    screen: (session, request) => {
      const { facts, verdict } = judge(session, request)
      const screened: ApprovalRequest = {
        ...request,
        risk: facts.risk,
        ...(facts.commands.length === 0 && facts.paths.length === 0
          ? {}
          : { analysis: { commands: facts.commands.map(({ text, risk }) => ({ text, risk })), paths: facts.paths } })
      }
      if (verdict.effect === "ask") return { request: screened, decision: null }
      return {
        request: screened,
        decision: {
          approved: verdict.effect === "allow",
          decided_by: { rule_ids: verdict.rules.map((rule) => rule.id), explanation: verdict.explanation }
        }
      }
    },
    judge,
    suggest: (session, request, scope) => {
      const { facts } = judge(session, request)
      return { facts, rules: allowing(facts).map((match) => ({ effect: "allow" as const, scope, match })) }
    },
    allowForSession: (session, request) =>
      Effect.gen(function* () {
        const { facts } = judge(session, request)
        const scope = { kind: "session" as const, session_id: session.id }
        const added: Array<Rule> = []
        for (const match of allowing(facts)) {
          const same = current.some(
            (rule) => rule.effect === "allow" && rule.scope.kind === "session" && rule.scope.session_id === session.id && JSON.stringify(rule.match) === JSON.stringify(match)
          )
          if (same) continue
          added.push(yield* add({ effect: "allow", scope, match, note: `approved for this session (request ${request.id})` }))
        }
        return added
      }),
    simulate: (draft, sessionOf) =>
      history.simulate(draft, sessionOf, () => performance.now()).pipe(
        Effect.mapError((error) => new ProtocolError({ code: "unavailable", message: `the log could not be read: ${error.message}` }))
      )
  })
}).pipe(Effect.annotateLogs({ module: "Rules" }))

export const layer: Layer.Layer<Rules, EventLogError, EventLog> = Layer.effect(Rules, make)
