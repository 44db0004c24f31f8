/**
 * Trying a draft rule set against the past: every approval request in the log, judged by the draft,
 * compared with how it was decided then (by a rule, or asked of a person, and what the person
 * answered). Past requests are read once and kept (with their parsed facts), then only what the
 * log gained since is read: a draft is judged against 100,000 requests in well under a second.
 */
import type { ApprovalOutcome, ApprovalRequest, Rule, RuleEffect, SessionId, SimulationReport } from "@orbitdock/domain"
import { Effect } from "effect"
import type { EventLogError, EventLogShape } from "../eventlog/EventLog.js"
import { inTurn, TURN_MS, TurnCost } from "../internal/eventLoopSlice.js"
import { decide } from "./Decide.js"
import { factsOf, type RequestFacts } from "./Requests.js"
import type { SessionFacts } from "./Rules.js"

interface PastRequest {
  readonly sessionId: SessionId
  readonly request: ApprovalRequest
  /** How it was decided: by rules (their effect), or asked (`ask`) of a person. */
  before: RuleEffect
  /** What became of it (null: still pending). */
  outcome: ApprovalOutcome | null
  facts: RequestFacts | null
}

type Example = SimulationReport["changes"][number]["examples"][number]

const EXAMPLES = 5
// Small pages, and judging in turns: trying a draft never holds the event loop for long.
const PAGE = 2_000
const MAX_TURN_ITEMS = 5_000
const judgeCost = new TurnCost()

export const makeHistory = (log: EventLogShape, home: string) => {
  const past: Array<PastRequest> = []
  const byId = new Map<string, PastRequest>()
  let cursor = 0

  /** Reads what the log gained since the last call (what was queued for it first committed). */
  const catchUp: Effect.Effect<void, EventLogError> = Effect.gen(function* () {
    // What was queued a moment ago too, unless the log cannot commit now (then what is committed).
    yield* log.flush.pipe(Effect.timeout("2 seconds"), Effect.ignore)
    for (;;) {
      const page = yield* log.readApprovals(cursor, PAGE)
      for (const stored of page) {
        cursor = stored.position
        const event = stored.event
        if (event.type === "approval_requested") {
          const entry: PastRequest = { sessionId: stored.session_id, request: event.request, before: "ask", outcome: null, facts: null }
          past.push(entry)
          byId.set(`${stored.session_id}\u0000${event.request.id}`, entry)
        } else if (event.type === "approval_resolved") {
          const entry = byId.get(`${stored.session_id}\u0000${event.request_id}`)
          if (entry === undefined) continue
          entry.outcome = event.outcome
          if (event.decided_by !== undefined) entry.before = event.outcome === "approved" ? "allow" : "deny"
        }
      }
      if (page.length < PAGE) return
    }
  })

  const simulate = (draft: ReadonlyArray<Rule>, sessionOf: (id: SessionId) => SessionFacts | undefined, nowMs: () => number) =>
    Effect.gen(function* () {
      yield* catchUp
      const started = nowMs()
      const transitions = new Map<string, { from: RuleEffect; to: RuleEffect; count: number; approved: number; denied: number; examples: Array<Example> }>()
      const byRule: Record<string, number> = {}
      let unchanged = 0
      let skipped = 0
      const judgeOne = (entry: PastRequest): void => {
        if (entry.facts === null) {
          const session = sessionOf(entry.sessionId)
          if (session === undefined) {
            skipped++
            return
          }
          entry.facts = factsOf(entry.request, session, home)
        }
        const verdict = decide(draft, entry.facts)
        for (const rule of verdict.rules) byRule[rule.id] = (byRule[rule.id] ?? 0) + 1
        if (verdict.effect === entry.before) {
          unchanged++
          return
        }
        const key = `${entry.before}>${verdict.effect}`
        let transition = transitions.get(key)
        if (transition === undefined) {
          transition = { from: entry.before, to: verdict.effect, count: 0, approved: 0, denied: 0, examples: [] }
          transitions.set(key, transition)
        }
        transition.count++
        if (entry.before === "ask" && entry.outcome === "approved") transition.approved++
        if (entry.before === "ask" && entry.outcome === "denied") transition.denied++
        if (transition.examples.length < EXAMPLES) {
          transition.examples.push({
            session_id: entry.sessionId,
            request_id: entry.request.id,
            kind: entry.request.kind,
            what: entry.request.command ?? entry.request.tool_name ?? entry.request.kind,
            outcome: entry.outcome,
            explanation: verdict.explanation
          })
        }
      }
      // In turns of a few milliseconds: the event loop serves clients between them.
      for (let start = 0; start < past.length; ) {
        const from = start
        const count = Math.min(judgeCost.itemsWithin(TURN_MS, MAX_TURN_ITEMS), past.length - from)
        yield* inTurn(
          () => {
            for (let index = from; index < from + count; index++) judgeOne(past[index]!)
          },
          { cost: judgeCost, items: count }
        )
        start += count
      }
      const report: SimulationReport = {
        requests: past.length,
        unchanged,
        changes: [...transitions.values()].map(({ approved, denied, ...rest }) => ({ ...rest, approved_then: approved, denied_then: denied })),
        by_rule: byRule,
        skipped,
        elapsed_ms: Math.round((nowMs() - started) * 10) / 10
      }
      return report
    })

  return { simulate, catchUp, size: () => past.length }
}

export type History = ReturnType<typeof makeHistory>
