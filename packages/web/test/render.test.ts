/**
 * What the conversation renders for each kind of message, as static HTML (react-dom/server: no DOM
 * environment needed): reasoning collapsed, tool calls with command, status, exit code and output,
 * diffs as diff rows, streaming marked.
 */
import type { Message } from "@orbitdock/domain"
import { createElement } from "react"
import { renderToStaticMarkup } from "react-dom/server"
import { describe, expect, it } from "vitest"
import { DiffView } from "../src/components/DiffView.js"
import { MessageView } from "../src/components/MessageView.js"

const message = (fields: Partial<Message>): Message =>
  ({ id: "m1", role: "assistant", content: "", created_at: "2026-01-01T00:00:00.000Z", ...fields }) as Message
const render = (m: Message) => renderToStaticMarkup(createElement(MessageView, { message: m }))

describe("message rendering", () => {
  it("collapses reasoning in a closed <details>", () => {
    const html = render(message({ role: "reasoning", content: "thinking hard" }))
    expect(html).toMatch(/^<details class="msg msg-reasoning"/)
    expect(html).not.toContain(" open")
    expect(html).toContain("thinking hard")
  })

  it("shows a tool call's command, status, exit code and output", () => {
    const html = render(
      message({ role: "tool", content: "ls", tool: { name: "shell", input: { command: ["ls", "-la"] }, output: "total 0", status: "error", exit_code: 2 } })
    )
    expect(html).toContain('data-testid="tool-command">ls -la</code>')
    expect(html).toContain('class="badge tool-status-error" data-testid="tool-status">error</span>')
    expect(html).toContain("exit 2")
    expect(html).toContain('data-testid="tool-output">total 0</pre>')
  })

  it("renders a diff in a tool's output or input as diff rows", () => {
    const diff = "--- a/f.ts\n+++ b/f.ts\n@@ -1,2 +1,2 @@\n keep\n-old\n+new\n"
    const fromOutput = render(message({ role: "tool", content: "apply_patch", tool: { name: "apply_patch", output: diff, status: "ok" } }))
    expect(fromOutput).toContain('class="diff-del"')
    expect(fromOutput).toContain('class="diff-add"')
    expect(fromOutput).not.toContain("tool-output")
    const fromInput = render(message({ role: "tool", content: "edit", tool: { name: "edit", input: { diff }, status: "running" } }))
    expect(fromInput).toContain('class="diff-add"')
    const table = renderToStaticMarkup(createElement(DiffView, { text: diff }))
    expect(table).toContain("f.ts")
    expect(table).toContain('<span class="add-count">+1</span>')
    expect(table).toContain('<tr class="diff-add"><td class="ln"></td><td class="ln">2</td><td class="sign">+</td><td class="code">new</td></tr>')
  })

  it("marks streaming messages and shows user, assistant and system text", () => {
    expect(render(message({ content: "echo: h", streaming: true }))).toContain('aria-label="streaming"')
    expect(render(message({ content: "echo: hi", streaming: false }))).not.toContain("streaming")
    expect(render(message({ role: "user", content: "hi <b>" }))).toContain("hi &lt;b&gt;")
    expect(render(message({ role: "system", content: "interrupted: server restarted" }))).toContain('data-role="system"')
  })
})

describe("the plan", () => {
  it("lists steps with their status and counts the completed ones", async () => {
    const { PlanView } = await import("../src/components/PlanView.js")
    const html = renderToStaticMarkup(
      createElement(PlanView, {
        plan: [
          { step: "read the code", status: "completed" },
          { step: "write the fix", status: "in_progress" },
          { step: "run the tests", status: "pending" }
        ]
      })
    )
    expect(html).toContain("Plan (1/3)")
    expect(html).toContain('<li class="plan-completed">')
    expect(html).toContain('<li class="plan-in_progress">')
    expect(html).toContain("run the tests")
  })
})
