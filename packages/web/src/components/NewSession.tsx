/** Starts a new session: provider, cwd, model, approval policy, sandbox and an optional first prompt. */
import type { ApprovalPolicy, Provider, SandboxMode, SessionSummary } from "@orbitdock/domain"
import { useState } from "react"
import { describeError, type OrbitClient } from "../connection.js"

const POLICIES: ReadonlyArray<{ value: ApprovalPolicy; label: string }> = [
  { value: "untrusted", label: "untrusted — ask before anything that changes the machine" },
  { value: "on-request", label: "on-request — the agent asks when it wants to" },
  { value: "never", label: "never ask" }
]
const SANDBOXES: ReadonlyArray<SandboxMode | ""> = ["", "read-only", "workspace-write", "danger-full-access"]

export const NewSession = ({
  client,
  sessions,
  onCreated
}: {
  client: OrbitClient
  sessions: ReadonlyArray<SessionSummary>
  onCreated: (id: string) => void
}) => {
  const recentCwd = sessions.length > 0 ? sessions[sessions.length - 1].cwd : ""
  const [provider, setProvider] = useState<Provider>("claude")
  const [cwd, setCwd] = useState(recentCwd)
  const [model, setModel] = useState("")
  const [policy, setPolicy] = useState<ApprovalPolicy>("untrusted")
  const [sandbox, setSandbox] = useState<SandboxMode | "">("")
  const [prompt, setPrompt] = useState("")
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)

  const submit = async () => {
    setBusy(true)
    setError(null)
    try {
      const id = await client.createSession({
        provider,
        cwd: cwd.trim(),
        ...(model.trim() === "" ? {} : { model: model.trim() }),
        ...(prompt.trim() === "" ? {} : { prompt }),
        approval_policy: policy,
        ...(sandbox === "" ? {} : { sandbox })
      })
      onCreated(id)
    } catch (e) {
      setError(describeError(e))
    } finally {
      setBusy(false)
    }
  }

  return (
    <form
      className="new-session"
      data-testid="new-session"
      onSubmit={(e) => {
        e.preventDefault()
        void submit()
      }}
    >
      <h2>New session</h2>
      <label>
        Provider
        <select value={provider} onChange={(e) => setProvider(e.target.value as Provider)} data-testid="new-provider">
          <option value="claude">Claude Code</option>
          <option value="codex">Codex</option>
          <option value="sim">sim (simulated agent)</option>
        </select>
      </label>
      <label>
        Working directory
        <input value={cwd} onChange={(e) => setCwd(e.target.value)} placeholder="/path/to/project" required data-testid="new-cwd" />
      </label>
      <label>
        Model <span className="muted">(optional)</span>
        <input value={model} onChange={(e) => setModel(e.target.value)} placeholder="the agent's default" data-testid="new-model" />
      </label>
      <label>
        Approval policy
        <select value={policy} onChange={(e) => setPolicy(e.target.value as ApprovalPolicy)} data-testid="new-policy">
          {POLICIES.map((p) => (
            <option key={p.value} value={p.value}>
              {p.label}
            </option>
          ))}
        </select>
      </label>
      <label>
        Sandbox <span className="muted">(where the agent supports it)</span>
        <select value={sandbox} onChange={(e) => setSandbox(e.target.value as SandboxMode | "")} data-testid="new-sandbox">
          {SANDBOXES.map((s) => (
            <option key={s} value={s}>
              {s === "" ? "the agent's default" : s}
            </option>
          ))}
        </select>
      </label>
      <label>
        First message <span className="muted">(optional)</span>
        <textarea rows={3} value={prompt} onChange={(e) => setPrompt(e.target.value)} data-testid="new-prompt" />
      </label>
      {error !== null && (
        <div className="error-line" role="alert" data-testid="new-error">
          {error}
        </div>
      )}
      <button type="submit" className="primary" disabled={busy || cwd.trim() === ""} data-testid="new-submit">
        {busy ? "Starting…" : "Start session"}
      </button>
    </form>
  )
}
