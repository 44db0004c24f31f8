/** What a session waits for: an approval (approve once / for the session, deny) or a question. */
import type { RiskClass, SessionState } from "@orbitdock/domain"
import { useState } from "react"
import type { OrbitClient } from "../connection.js"
import { DiffView } from "./DiffView.js"

export const RISK_LABELS: Record<RiskClass, string> = {
  read_only: "reads only",
  writes_project: "writes in the project",
  writes_outside: "writes outside the project",
  network: "network",
  destructive: "destructive",
  privilege: "privilege"
}

/** `readOnly` (the history view): what was pending, without the actions. */
export const Pending = ({
  session,
  client,
  onRun,
  readOnly = false
}: {
  session: SessionState
  client: OrbitClient
  onRun: (p: Promise<unknown>) => void
  readOnly?: boolean
}) => {
  const approval = session.pending_approval
  const question = session.pending_question
  const [answer, setAnswer] = useState("")
  if (approval !== null) {
    return (
      <div className="panel pending approval" role="region" aria-label="Approval requested" data-testid="approval" data-request-id={approval.id}>
        <div className="pending-title">
          <strong>Approval requested</strong> <span className="badge">{approval.kind}</span>
          {approval.tool_name !== undefined && <span className="badge">{approval.tool_name}</span>}
        </div>
        {approval.risk !== undefined && approval.risk.length > 0 && (
          <div className="risk" data-testid="approval-risk" aria-label="What it could do">
            {approval.risk.map((risk) => (
              <span key={risk} className={`badge risk-${risk}`} data-risk={risk}>
                {RISK_LABELS[risk]}
              </span>
            ))}
          </div>
        )}
        {approval.command !== undefined && (
          <pre className="command" data-testid="approval-command">
            $ {approval.command}
          </pre>
        )}
        {approval.cwd !== undefined && <div className="muted small">in {approval.cwd}</div>}
        {approval.reason !== undefined && <div className="reason">{approval.reason}</div>}
        {approval.diff !== undefined && approval.diff !== "" && <DiffView text={approval.diff} />}
        {approval.input !== undefined && approval.command === undefined && <pre className="input">{JSON.stringify(approval.input, null, 2)}</pre>}
        {!readOnly && <div className="buttons">
          <button type="button" className="primary" onClick={() => onRun(client.approveTool(session.id, approval.id, true))} data-testid="approve-once" title="y">
            Approve once <kbd>y</kbd>
          </button>
          <button type="button" onClick={() => onRun(client.approveTool(session.id, approval.id, true, { scope: "session" }))} data-testid="approve-session" title="Y">
            Approve for this session <kbd>Y</kbd>
          </button>
          <button type="button" className="danger" onClick={() => onRun(client.approveTool(session.id, approval.id, false))} data-testid="deny" title="d">
            Deny <kbd>d</kbd>
          </button>
          <a
            className="button-link"
            href={`#/rules/from/${encodeURIComponent(session.id)}/${encodeURIComponent(approval.id)}`}
            data-testid="make-rule"
            title="A rule that answers requests like this one from now on, previewed against the past"
          >
            Make a rule…
          </a>
        </div>}
      </div>
    )
  }
  if (question !== null) {
    const submit = (value: string) => {
      if (value.trim() === "") return
      onRun(client.answerQuestion(session.id, question.id, value))
      setAnswer("")
    }
    return (
      <div className="panel pending question" role="region" aria-label="Question" data-testid="question" data-request-id={question.id}>
        <div className="pending-title">
          <strong>Question</strong>
        </div>
        <div className="question-text" data-testid="question-text">
          {question.question}
        </div>
        {!readOnly && question.options !== undefined && question.options.length > 0 && (
          <div className="buttons">
            {question.options.map((option) => (
              <button type="button" key={option} onClick={() => submit(option)}>
                {option}
              </button>
            ))}
          </div>
        )}
        {!readOnly && <form
          className="answer"
          onSubmit={(e) => {
            e.preventDefault()
            submit(answer)
          }}
        >
          <input value={answer} onChange={(e) => setAnswer(e.target.value)} placeholder="Your answer" aria-label="Answer" data-testid="answer-input" />
          <button type="submit" className="primary" disabled={answer.trim() === ""} data-testid="answer-button">
            Answer
          </button>
        </form>}
      </div>
    )
  }
  return null
}
