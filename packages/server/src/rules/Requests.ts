/**
 * An approval request as the rules see it: its kind and tool, its simple commands (parsed, with
 * their risk classes), the files it would touch and where they are, and the session's provider,
 * directory and id. Built once per request (parsing costs ~0.3 ms); pure.
 */
import type { ApprovalRequest, Provider, RiskClass, SessionId } from "@orbitdock/domain"
import * as path from "node:path"
import * as Shell from "./Shell.js"

export interface RequestFacts {
  readonly kind: ApprovalRequest["kind"]
  /** Claude's tool name, `shell` for a Codex command, `apply_patch` for a Codex patch. */
  readonly tool: string
  readonly commands: ReadonlyArray<Shell.SimpleCommand>
  readonly risk: ReadonlyArray<RiskClass>
  /** Files it writes or edits, resolved; `?` for one not known in advance. */
  readonly paths: ReadonlyArray<string>
  /** Whether every path is inside the session's directory (true when it touches none). */
  readonly inside: boolean
  readonly provider: Provider
  readonly cwd: string
  readonly sessionId: SessionId
}

const READ_TOOLS = new Set(["Read", "Glob", "Grep", "LS", "NotebookRead", "TodoWrite", "TodoRead", "Task", "ExitPlanMode"])
const NETWORK_TOOLS = new Set(["WebFetch", "WebSearch"])
const EDIT_TOOLS = new Set(["Write", "Edit", "MultiEdit", "NotebookEdit"])

/** The files a unified diff changes (`+++ b/…`, `--- a/…` for deletions, `*** Update File:` of apply_patch). */
export const diffPaths = (diff: string): ReadonlyArray<string> => {
  const found = new Set<string>()
  for (const line of diff.split("\n")) {
    const match = /^(?:\+\+\+|---) (?:[ab]\/)?(.+?)\s*$/.exec(line) ?? /^\*\*\* (?:Update|Add|Delete) File: (.+?)\s*$/.exec(line)
    if (match !== null && match[1] !== "/dev/null") found.add(match[1])
  }
  return [...found]
}

const isInside = (target: string, cwd: string): boolean => target === cwd || target.startsWith(cwd.endsWith("/") ? cwd : `${cwd}/`)

const stringField = (input: unknown, field: string): string | undefined => {
  if (typeof input !== "object" || input === null) return undefined
  const value = (input as Record<string, unknown>)[field]
  return typeof value === "string" ? value : undefined
}

/** Facts of a request raised in a session (`cwd`: the session's directory). */
export const factsOf = (
  request: ApprovalRequest,
  session: { readonly id: SessionId; readonly provider: Provider; readonly cwd: string },
  home: string
): RequestFacts => {
  const cwd = path.normalize(request.cwd ?? session.cwd)
  const resolve = (file: string) => (path.isAbsolute(file) ? path.normalize(file) : path.resolve(cwd, file))
  const base = { kind: request.kind, provider: session.provider, cwd: path.normalize(session.cwd), sessionId: session.id }
  // Read when it was raised: no need to parse it again (what trying rules against the past relies on).
  const recorded = request.analysis
  if (recorded !== undefined && request.risk !== undefined) {
    return {
      ...base,
      tool: request.tool_name ?? (request.kind === "patch" ? "apply_patch" : request.kind === "exec" ? "shell" : "tool"),
      commands: recorded.commands.map(({ text, risk }) => ({ words: [], text, risk, writes: [] })),
      risk: request.risk,
      paths: recorded.paths,
      inside: recorded.paths.every((target) => target !== Shell.UNKNOWN_PATH && isInside(target, base.cwd))
    }
  }
  const command = request.command ?? (request.tool_name === "Bash" ? stringField(request.input, "command") : undefined)
  if (command !== undefined && (request.kind === "exec" || request.tool_name === "Bash")) {
    const analysis = Shell.analyze(command, cwd, home)
    return {
      ...base,
      tool: request.tool_name ?? "shell",
      commands: analysis.commands,
      risk: analysis.risk,
      paths: analysis.writes,
      inside: analysis.writes.every((target) => target !== Shell.UNKNOWN_PATH && isInside(target, base.cwd))
    }
  }
  let paths: ReadonlyArray<string> = []
  const risk = new Set<RiskClass>()
  if (request.kind === "patch") {
    paths = diffPaths(request.diff ?? "").map(resolve)
  } else if (request.tool_name !== undefined && EDIT_TOOLS.has(request.tool_name)) {
    const file = stringField(request.input, "file_path") ?? stringField(request.input, "notebook_path")
    paths = file === undefined ? [Shell.UNKNOWN_PATH] : [resolve(file)]
  } else if (request.tool_name !== undefined && READ_TOOLS.has(request.tool_name)) risk.add("read_only")
  else if (request.tool_name !== undefined && NETWORK_TOOLS.has(request.tool_name)) risk.add("network")
  const inside = paths.every((target) => target !== Shell.UNKNOWN_PATH && isInside(target, base.cwd))
  if (paths.length > 0) risk.add(inside ? "writes_project" : "writes_outside")
  return {
    ...base,
    tool: request.tool_name ?? (request.kind === "patch" ? "apply_patch" : "tool"),
    commands: [],
    risk: [...risk],
    paths,
    inside
  }
}
