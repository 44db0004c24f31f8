/** The agent's plan: steps with their status. */
import type { PlanStep } from "@orbitdock/domain"

const MARK: Record<PlanStep["status"], string> = { pending: "○", in_progress: "◔", completed: "●" }

export const PlanView = ({ plan }: { plan: ReadonlyArray<PlanStep> }) => (
  <details className="panel plan" open data-testid="plan">
    <summary>
      Plan ({plan.filter((s) => s.status === "completed").length}/{plan.length})
    </summary>
    <ol>
      {plan.map((step, index) => (
        <li key={index} className={`plan-${step.status}`}>
          <span aria-label={step.status}>{MARK[step.status]}</span> {step.step}
        </li>
      ))}
    </ol>
  </details>
)
