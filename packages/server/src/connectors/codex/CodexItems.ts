/**
 * How a Codex thread item looks as an OrbitDock message: role, content and tool call, for items in
 * any state (started, completed, declined). Pure; used by `CodexTranslate`.
 */
import type { ToolCall } from "@orbitdock/domain"
import type { FileUpdateChange, ThreadItem } from "./CodexSchemas.js"

export type ItemKind = "agentMessage" | "reasoning" | "commandExecution" | "fileChange" | "other"

export interface ShownItem {
  readonly kind: ItemKind
  readonly role: "user" | "assistant" | "reasoning" | "tool"
  readonly content: string
  readonly tool?: ToolCall
}

const userText = (item: Extract<ThreadItem, { type: "userMessage" }>): string =>
  item.content
    .map((part) => part.text ?? "")
    .filter((text) => text.length > 0)
    .join("\n")

/** A readable diff of a `fileChange`: added files as all-`+` hunks, updates as Codex's unified diff. */
export const renderChanges = (changes: ReadonlyArray<FileUpdateChange>): string =>
  changes
    .map((change) => {
      switch (change.kind.type) {
        case "add": {
          const lines = change.diff.endsWith("\n") ? change.diff.slice(0, -1).split("\n") : change.diff.split("\n")
          return `--- /dev/null\n+++ ${change.path}\n@@ -0,0 +1,${lines.length} @@\n${lines.map((l) => `+${l}`).join("\n")}\n`
        }
        case "delete":
          return `--- ${change.path}\n+++ /dev/null\n`
        default: {
          const target = change.kind.move_path ?? change.path
          const body = change.diff.length === 0 || change.diff.endsWith("\n") ? change.diff : `${change.diff}\n`
          return `--- ${change.path}\n+++ ${target}\n${body}`
        }
      }
    })
    .join("")

const toolStatus = (status: string, exitCode: number | undefined): ToolCall["status"] =>
  status === "inProgress" ? "running" : status === "completed" && (exitCode === undefined || exitCode === 0) ? "ok" : "error"

/** The message an item is shown as, in its current state, or null for items we do not show. */
export const itemMessage = (item: ThreadItem): ShownItem | null => {
  switch (item.type) {
    case "userMessage":
      return { kind: "other", role: "user", content: userText(item as Extract<ThreadItem, { type: "userMessage" }>) }
    case "agentMessage":
      return { kind: "agentMessage", role: "assistant", content: (item as Extract<ThreadItem, { type: "agentMessage" }>).text }
    case "reasoning": {
      const r = item as Extract<ThreadItem, { type: "reasoning" }>
      return { kind: "reasoning", role: "reasoning", content: (r.summary.length > 0 ? r.summary : r.content).join("\n\n") }
    }
    case "commandExecution": {
      const c = item as Extract<ThreadItem, { type: "commandExecution" }>
      const declined = c.status === "declined"
      const output = c.aggregatedOutput ?? (declined ? "declined by the user" : undefined)
      return {
        kind: "commandExecution",
        role: "tool",
        content: c.command,
        tool: {
          name: "shell",
          input: { command: c.command, ...(c.cwd === undefined ? {} : { cwd: c.cwd }) },
          ...(output === undefined ? {} : { output }),
          status: toolStatus(c.status, c.exitCode),
          ...(c.exitCode === undefined ? {} : { exit_code: c.exitCode })
        }
      }
    }
    case "fileChange": {
      const f = item as Extract<ThreadItem, { type: "fileChange" }>
      return {
        kind: "fileChange",
        role: "tool",
        content: f.changes.map((change) => `${change.kind.type} ${change.path}`).join("\n"),
        tool: {
          name: "apply_patch",
          input: { changes: f.changes },
          ...(f.status === "declined" ? { output: "declined by the user" } : {}),
          status: toolStatus(f.status, undefined)
        }
      }
    }
    case "mcpToolCall": {
      const m = item as Extract<ThreadItem, { type: "mcpToolCall" }>
      const output = m.error !== undefined && m.error !== null ? JSON.stringify(m.error) : m.result === undefined || m.result === null ? undefined : JSON.stringify(m.result)
      return {
        kind: "other",
        role: "tool",
        content: `${m.server}.${m.tool}`,
        tool: {
          name: `${m.server}.${m.tool}`,
          input: m.arguments,
          ...(output === undefined ? {} : { output }),
          status: m.status === "inProgress" ? "running" : m.status === "completed" ? "ok" : "error"
        }
      }
    }
    case "plan":
      return { kind: "other", role: "assistant", content: (item as Extract<ThreadItem, { type: "plan" }>).text }
    default:
      return null
  }
}

