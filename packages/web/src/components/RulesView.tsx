/**
 * Approval rules, from the page: the rules in force (each removable), and a new rule, previewed
 * against every past request before it is added. Opened from a pending approval ("Make a rule…",
 * `#/rules/from/<session>/<request>`), the form starts from a rule of that session's project that
 * would allow what the request does, and the preview runs at once. The server owns the rules.
 */
import {
  type ApprovalKind,
  type Provider,
  type RiskClass,
  type Rule,
  type RuleEffect,
  type RuleInput,
  type SimulationReport
} from "@orbitdock/domain"
import { useCallback, useEffect, useState } from "react"
import { type OrbitClient, describeError, getJson } from "../connection.js"
import { RISK_LABELS } from "./Pending.js"

const KINDS: ReadonlyArray<ApprovalKind> = ["exec", "patch", "tool"]
const RISKS: ReadonlyArray<RiskClass> = ["read_only", "writes_project", "writes_outside", "network", "destructive", "privilege"]
const PROVIDERS: ReadonlyArray<Provider> = ["claude", "codex", "sim"]

interface Suggestion {
  readonly request: { readonly command?: string; readonly tool_name?: string; readonly kind: ApprovalKind }
  readonly commands: ReadonlyArray<{ readonly text: string; readonly risk: ReadonlyArray<RiskClass> }>
  readonly risk: ReadonlyArray<RiskClass>
  readonly rules: ReadonlyArray<RuleInput>
}

/** The form's state: every field as the person edits it. */
interface Draft {
  effect: RuleEffect
  scope: "global" | "project" | "session"
  cwd: string
  sessionId: string
  command: string
  regex: string
  kinds: ReadonlySet<ApprovalKind>
  tool: string
  risks: ReadonlySet<RiskClass>
  providers: ReadonlySet<Provider>
  paths: "" | "inside" | "outside"
  note: string
}

const emptyDraft: Draft = {
  effect: "allow",
  scope: "global",
  cwd: "",
  sessionId: "",
  command: "",
  regex: "",
  kinds: new Set(),
  tool: "",
  risks: new Set(),
  providers: new Set(),
  paths: "",
  note: ""
}

const draftOf = (rule: RuleInput, note: string): Draft => ({
  ...emptyDraft,
  effect: rule.effect,
  scope: rule.scope.kind,
  cwd: rule.scope.kind === "project" ? rule.scope.cwd : "",
  sessionId: rule.scope.kind === "session" ? rule.scope.session_id : "",
  command: rule.match.command ?? "",
  regex: rule.match.command_regex ?? "",
  kinds: new Set(rule.match.kind ?? []),
  tool: (rule.match.tool ?? []).join(","),
  risks: new Set(rule.match.risk ?? []),
  providers: new Set(rule.match.provider ?? []),
  paths: rule.match.paths ?? "",
  note
})

const inputOf = (draft: Draft): RuleInput => {
  const tools = draft.tool.split(",").map((t) => t.trim()).filter((t) => t !== "")
  return {
    effect: draft.effect,
    scope:
      draft.scope === "project"
        ? { kind: "project", cwd: draft.cwd.trim() }
        : draft.scope === "session"
          ? { kind: "session", session_id: draft.sessionId.trim() as never }
          : { kind: "global" },
    match: {
      ...(draft.command.trim() === "" ? {} : { command: draft.command.trim() }),
      ...(draft.regex.trim() === "" ? {} : { command_regex: draft.regex.trim() }),
      ...(draft.kinds.size === 0 ? {} : { kind: KINDS.filter((k) => draft.kinds.has(k)) }),
      ...(tools.length === 0 ? {} : { tool: tools }),
      ...(draft.risks.size === 0 ? {} : { risk: RISKS.filter((r) => draft.risks.has(r)) }),
      ...(draft.providers.size === 0 ? {} : { provider: PROVIDERS.filter((p) => draft.providers.has(p)) }),
      ...(draft.paths === "" ? {} : { paths: draft.paths })
    },
    ...(draft.note.trim() === "" ? {} : { note: draft.note.trim() })
  }
}

const toggled = <A,>(set: ReadonlySet<A>, value: A): ReadonlySet<A> => {
  const next = new Set(set)
  if (next.has(value)) next.delete(value)
  else next.add(value)
  return next
}

/** A fieldset of checkboxes, one per value. */
const Checks = <A extends string>({
  legend,
  values,
  chosen,
  label,
  onToggle,
  testId
}: {
  legend: string
  values: ReadonlyArray<A>
  chosen: ReadonlySet<A>
  label: (value: A) => string
  onToggle: (value: A) => void
  testId?: (value: A) => string
}) => (
  <fieldset>
    <legend>{legend}</legend>
    {values.map((value) => (
      <label key={value} className="check">
        <input type="checkbox" checked={chosen.has(value)} onChange={() => onToggle(value)} {...(testId === undefined ? {} : { "data-testid": testId(value) })} />
        {label(value)}
      </label>
    ))}
  </fieldset>
)

export const matchText = (rule: RuleInput): string => {
  const m = rule.match
  const parts = [
    m.command === undefined ? null : `command “${m.command}”`,
    m.command_regex === undefined ? null : `regex /${m.command_regex}/`,
    m.kind === undefined ? null : `kind ${m.kind.join(", ")}`,
    m.tool === undefined ? null : `tool ${m.tool.join(", ")}`,
    m.risk === undefined ? null : `risk ${m.risk.map((r) => RISK_LABELS[r]).join(", ")}`,
    m.provider === undefined ? null : `agent ${m.provider.join(", ")}`,
    m.paths === undefined ? null : `files ${m.paths} the project`
  ].filter((part) => part !== null)
  const where = rule.scope.kind === "global" ? "everywhere" : rule.scope.kind === "project" ? `in ${rule.scope.cwd}` : `in session ${rule.scope.session_id}`
  return `${parts.length === 0 ? "anything" : parts.join(" · ")} — ${where}`
}

export const RulesView = ({ client, token, from }: { client: OrbitClient; token: string; from: { sessionId: string; requestId: string } | null }) => {
  const [rules, setRules] = useState<ReadonlyArray<Rule> | null>(null)
  const [draft, setDraft] = useState<Draft>(emptyDraft)
  const [suggestion, setSuggestion] = useState<Suggestion | null>(null)
  const [preview, setPreview] = useState<SimulationReport | null>(null)
  const [status, setStatus] = useState<string | null>(null)

  const reload = useCallback(() => client.listRules().then(setRules, (error: unknown) => setStatus(`Could not read the rules: ${describeError(error)}`)), [client])
  useEffect(() => void reload(), [reload])

  const runPreview = useCallback(
    (input: RuleInput) =>
      client.simulateRules({ add: [input] }).then(
        (report) => {
          setPreview(report)
          setStatus(null)
        },
        (error: unknown) => setStatus(`Preview failed: ${describeError(error)}`)
      ),
    [client]
  )

  // From a pending approval: a rule of its project that would allow it, previewed at once.
  useEffect(() => {
    if (from === null) return
    const query = `?session_id=${encodeURIComponent(from.sessionId)}&request_id=${encodeURIComponent(from.requestId)}`
    getJson<Suggestion>(token, `/api/rules/suggest${query}`).then(
      (found) => {
        setSuggestion(found)
        const first = found.rules[0]
        if (first !== undefined) {
          setDraft(draftOf(first, ""))
          void runPreview(first)
        }
      },
      (error: unknown) => setStatus(`That approval is no longer pending: ${describeError(error)}`)
    )
  }, [from, token, runPreview])

  const set = (change: Partial<Draft>) => {
    setDraft((current) => ({ ...current, ...change }))
    setPreview(null)
  }

  const add = () =>
    client.addRule(inputOf(draft)).then(
      (rule) => {
        setStatus(`Rule ${rule.id} added: it decides from now on.`)
        setPreview(null)
        setDraft(emptyDraft)
        return reload()
      },
      (error: unknown) => setStatus(`Not added: ${describeError(error)}`)
    )

  const remove = (rule: Rule) =>
    client.removeRule(rule.id).then(
      () => {
        setStatus(`Rule ${rule.id} removed.`)
        return reload()
      },
      (error: unknown) => setStatus(describeError(error))
    )

  return (
    <section className="rules" data-testid="rules" aria-label="Approval rules">
      <h2>Approval rules</h2>
      <p className="muted">
        Rules answer requests before they reach you: a deny beats an allow, the most specific scope wins, anything unmatched is asked.
        A destructive command is only ever allowed by a rule that names it exactly.
      </p>
      {status !== null && (
        <p role="status" className="muted" data-testid="rules-status">
          {status}
        </p>
      )}
      {suggestion !== null && (
        <div className="rule-preview" data-testid="rule-from-request">
          <strong>From the pending request</strong>
          {suggestion.commands.length > 0 ? (
            <ul>
              {suggestion.commands.map((command) => (
                <li key={command.text}>
                  <code>{command.text}</code> {command.risk.map((r) => RISK_LABELS[r]).join(", ")}
                </li>
              ))}
            </ul>
          ) : (
            <p>
              {suggestion.request.kind} {suggestion.request.tool_name ?? ""}: {suggestion.risk.map((r) => RISK_LABELS[r]).join(", ")}
            </p>
          )}
          {suggestion.rules.length > 1 && <p className="muted">It runs {suggestion.rules.length} commands: the form holds the first; add one rule for each.</p>}
        </div>
      )}
      <h3>New rule</h3>
      <form
        className="rule-form"
        data-testid="rule-form"
        onSubmit={(e) => {
          e.preventDefault()
          void add()
        }}
      >
        <label>
          Effect
          <select value={draft.effect} onChange={(e) => set({ effect: e.target.value as RuleEffect })} data-testid="rule-effect">
            <option value="allow">allow</option>
            <option value="ask">ask</option>
            <option value="deny">deny</option>
          </select>
        </label>
        <label>
          Where
          <select value={draft.scope} onChange={(e) => set({ scope: e.target.value as Draft["scope"] })} data-testid="rule-scope">
            <option value="global">everywhere</option>
            <option value="project">a project</option>
            <option value="session">one session</option>
          </select>
        </label>
        {draft.scope === "project" && (
          <label>
            Project directory
            <input value={draft.cwd} onChange={(e) => set({ cwd: e.target.value })} placeholder="/path/to/project" />
          </label>
        )}
        {draft.scope === "session" && (
          <label>
            Session id
            <input value={draft.sessionId} onChange={(e) => set({ sessionId: e.target.value })} />
          </label>
        )}
        <label>
          Command (glob: * any text)
          <input value={draft.command} onChange={(e) => set({ command: e.target.value })} placeholder="git status*" data-testid="rule-command" />
        </label>
        <label>
          Regular expression
          <input value={draft.regex} onChange={(e) => set({ regex: e.target.value })} placeholder="^npm (test|run lint)$" />
        </label>
        <label>
          Tools (comma-separated)
          <input value={draft.tool} onChange={(e) => set({ tool: e.target.value })} placeholder="Bash, Write" />
        </label>
        <label>
          Files
          <select value={draft.paths} onChange={(e) => set({ paths: e.target.value as Draft["paths"] })}>
            <option value="">anywhere</option>
            <option value="inside">inside the project</option>
            <option value="outside">outside the project</option>
          </select>
        </label>
        <Checks legend="Kinds" values={KINDS} chosen={draft.kinds} label={(kind) => kind} onToggle={(kind) => set({ kinds: toggled(draft.kinds, kind) })} />
        <Checks
          legend="Risk"
          values={RISKS}
          chosen={draft.risks}
          label={(risk) => RISK_LABELS[risk]}
          testId={(risk) => `rule-risk-${risk}`}
          onToggle={(risk) => set({ risks: toggled(draft.risks, risk) })}
        />
        <Checks
          legend="Agents"
          values={PROVIDERS}
          chosen={draft.providers}
          label={(provider) => provider}
          onToggle={(provider) => set({ providers: toggled(draft.providers, provider) })}
        />
        <label>
          Note
          <input value={draft.note} onChange={(e) => set({ note: e.target.value })} placeholder="why this rule exists" />
        </label>
        <button type="button" onClick={() => void runPreview(inputOf(draft))} data-testid="rule-preview-button">
          Preview against the past
        </button>
        <button type="submit" className="primary" data-testid="rule-add">
          Add rule
        </button>
      </form>
      {preview !== null && (
        <div className="rule-preview" data-testid="rule-preview" aria-live="polite">
          <p>
            Of {preview.requests} past request{preview.requests === 1 ? "" : "s"}, {preview.requests - preview.unchanged} would have been decided
            differently.
          </p>
          <ul>
            {preview.changes.map((change) => (
              <li key={`${change.from}>${change.to}`} data-testid="rule-preview-change">
                {change.count} {change.from} → {change.to}
                {change.from === "ask" ? ` (you approved ${change.approved_then}, denied ${change.denied_then})` : ""}
                <ul>
                  {change.examples.map((example) => (
                    <li key={example.request_id}>
                      <code>{example.what}</code> <span className="muted">{example.explanation}</span>
                    </li>
                  ))}
                </ul>
              </li>
            ))}
          </ul>
        </div>
      )}
      <h3>In force</h3>
      {rules !== null && rules.length === 0 && <p className="muted">No rules: every request is asked.</p>}
      <ul className="rule-list">
        {(rules ?? []).map((rule) => (
          <li key={rule.id} data-testid="rule" data-rule-id={rule.id}>
            <span className={`badge effect-${rule.effect}`}>{rule.effect}</span>
            <span>{matchText(rule)}</span>
            {rule.note !== undefined && <span className="muted">{rule.note}</span>}
            <span className="spacer" />
            <button type="button" className="danger" onClick={() => void remove(rule)} aria-label={`Remove rule ${rule.id}`} data-testid="rule-remove">
              Remove
            </button>
          </li>
        ))}
      </ul>
    </section>
  )
}
