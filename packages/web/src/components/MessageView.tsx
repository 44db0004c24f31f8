/**
 * One message by role: user and assistant text (streaming shown as it grows), reasoning collapsed,
 * tool calls with their command, status, exit code and output (a diff rendered as a diff), system
 * notes muted.
 */
import type { Message } from "@orbitdock/domain"
import { memo } from "react"
import { looksLikeDiff } from "../logic/diff.js"
import * as Format from "../logic/format.js"
import { DiffView } from "./DiffView.js"

const OUTPUT_PREVIEW = 4000

/** The command of a tool call: `input.command` (string or argv), else the content. */
const commandOf = (message: Message): string => {
  const input = message.tool?.input as { command?: unknown; cmd?: unknown } | undefined
  const command = input?.command ?? input?.cmd
  if (typeof command === "string") return command
  if (Array.isArray(command)) return command.map(String).join(" ")
  return message.content
}

const Output = ({ text }: { text: string }) => {
  if (looksLikeDiff(text)) return <DiffView text={text} />
  if (text.length <= OUTPUT_PREVIEW) return <pre className="tool-output" data-testid="tool-output">{text}</pre>
  return (
    <details>
      <summary>{text.length} characters of output</summary>
      <pre className="tool-output" data-testid="tool-output">{text}</pre>
    </details>
  )
}

export const MessageView = memo(({ message }: { message: Message }) => {
  const time = <span className="time muted small">{Format.clock(message.created_at)}</span>
  switch (message.role) {
    case "reasoning":
      return (
        <details className="msg msg-reasoning" data-testid="message" data-role="reasoning">
          <summary>
            Reasoning {time}
          </summary>
          <div className="text">{message.content}</div>
        </details>
      )
    case "tool": {
      const tool = message.tool
      const input = tool?.input as Record<string, unknown> | undefined
      const inputDiff = typeof input?.diff === "string" ? input.diff : typeof input?.patch === "string" ? input.patch : undefined
      return (
        <div className={`msg msg-tool tool-${tool?.status ?? "unknown"}`} data-testid="message" data-role="tool">
          <div className="tool-head">
            <span className="badge">{tool?.name ?? "tool"}</span>
            <code className="tool-command" data-testid="tool-command">
              {commandOf(message)}
            </code>
            {tool?.status !== undefined && (
              <span className={`badge tool-status-${tool.status}`} data-testid="tool-status">
                {tool.status}
              </span>
            )}
            {tool?.exit_code !== undefined && tool.exit_code !== null && (
              <span className={`badge ${tool.exit_code === 0 ? "" : "tool-status-error"}`} data-testid="tool-exit">
                exit {String(tool.exit_code)}
              </span>
            )}
            {time}
          </div>
          {inputDiff !== undefined && <DiffView text={inputDiff} />}
          {tool?.output !== undefined && tool.output !== "" && <Output text={String(tool.output)} />}
        </div>
      )
    }
    case "system":
      return (
        <div className="msg msg-system muted" data-testid="message" data-role="system">
          <span className="text">{message.content}</span> {time}
        </div>
      )
    default:
      return (
        <div className={`msg msg-${message.role}${message.streaming === true ? " streaming" : ""}`} data-testid="message" data-role={message.role}>
          <div className="msg-head small muted">
            {message.role === "user" ? "you" : "agent"} {time}
            {message.streaming === true && <span className="streaming-dot" aria-label="streaming" />}
          </div>
          <div className="text">{message.content}</div>
        </div>
      )
  }
})
