/**
 * OrbitDock's entries in Claude Code's `settings.json` (`hooks`), as pure functions: which hooks to
 * add, merging them in without touching the user's own hooks, taking them out again, and telling
 * which are installed. File I/O and the CLI live in `cli/hooks.ts`.
 *
 * Transport (FORMATS.md §3.1), `unix` by default: a command hook for every event that pipes the
 * body to `curl --unix-socket <data-dir>/server.sock`. The socket sits in the 0700 data directory, so
 * no other user can answer in the server's place, and it needs no token: settings.json holds no
 * secret. `http` (opt-in): native `http` hooks to the server's TCP URL with the token in a header
 * (settings.json then holds the token and is written 0600), and the Unix-socket command hook for
 * `SessionStart`, for which Claude Code skips `http` hooks.
 */

/**
 * The events OrbitDock listens to. Not PostToolUse: its body repeats the whole tool output (which
 * can pass the 1 MiB body limit) and the transcript brings the same result anyway.
 */
export const HOOK_EVENTS = [
  "SessionStart",
  "UserPromptSubmit",
  "PreToolUse",
  "PermissionRequest",
  "Stop",
  "SubagentStop",
  "SessionEnd"
] as const
export type HookEventName = (typeof HOOK_EVENTS)[number]

/** The command hook's header with claude's pid. */
export const PID_HEADER = "x-claude-pid"

/** Every OrbitDock hook URL carries this query, which is how our entries are recognised. */
export const MARKER = "orbitdock=1"

export interface HookTarget {
  readonly transport: "unix" | "http"
  /** The server's Unix socket (every command hook). */
  readonly socketPath: string
  /** http: the server's URL (`http://127.0.0.1:4000`) and TCP token (sent as a Bearer header). */
  readonly url: string | null
  readonly token: string | null
  /** Seconds Claude waits for a PermissionRequest/PreToolUse answer (above OrbitDock's hold timeout). */
  readonly permissionTimeoutS: number
}

type Json = Record<string, unknown>

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`

/** The hook entry for one event. */
export const hookEntry = (event: HookEventName, target: HookTarget): Json => {
  const timeout = event === "PermissionRequest" || event === "PreToolUse" ? target.permissionTimeoutS : 10
  if (target.transport === "http" && event !== "SessionStart" && target.url !== null && target.token !== null) {
    return {
      type: "http",
      url: `${target.url.replace(/\/$/, "")}/hook?${MARKER}`,
      headers: { Authorization: `Bearer ${target.token}` },
      timeout
    }
  }
  // curl prints the server's answer, which Claude reads as the hook output; a server that is down
  // must not turn into a hook error in the user's terminal, hence `|| true`. `$PPID` of the shell
  // Claude runs the command in is claude itself: OrbitDock watches that process
  // (`ClaudeProcesses.ts`), since a killed claude sends no SessionEnd.
  const command = [
    "curl -sS",
    `--max-time ${timeout}`,
    `--unix-socket ${shellQuote(target.socketPath)}`,
    `-X POST -H 'content-type: application/json' -H "${PID_HEADER}: $PPID" --data-binary @-`,
    shellQuote(`http://localhost/hook?${MARKER}`),
    "|| true"
  ].join(" ")
  return { type: "command", command, timeout: timeout + 5 }
}

const isOurs = (hook: unknown): boolean => {
  if (typeof hook !== "object" || hook === null) return false
  const h = hook as Json
  return (typeof h.url === "string" && h.url.includes(MARKER)) || (typeof h.command === "string" && h.command.includes(MARKER))
}

/** The settings without any OrbitDock hook (the user's hooks untouched, empty leftovers removed). */
export const withoutOurs = (settings: Json): Json => {
  const hooks = settings.hooks
  if (typeof hooks !== "object" || hooks === null || Array.isArray(hooks)) return settings
  const next: Json = {}
  for (const [event, groups] of Object.entries(hooks as Json)) {
    if (!Array.isArray(groups)) {
      next[event] = groups
      continue
    }
    const kept = groups.flatMap((group: unknown) => {
      if (typeof group !== "object" || group === null || !Array.isArray((group as Json).hooks)) return [group]
      const entries = ((group as Json).hooks as Array<unknown>).filter((h) => !isOurs(h))
      if (entries.length === ((group as Json).hooks as Array<unknown>).length) return [group]
      return entries.length === 0 ? [] : [{ ...(group as Json), hooks: entries }]
    })
    if (kept.length > 0) next[event] = kept
  }
  const { hooks: _h, ...rest } = settings
  return Object.keys(next).length === 0 ? rest : { ...rest, hooks: next }
}

/** The settings with OrbitDock's hooks (replacing older OrbitDock entries, keeping the user's). */
export const withOurs = (settings: Json, target: HookTarget): Json => {
  const base = withoutOurs(settings)
  const hooks: Json = { ...((base.hooks as Json | undefined) ?? {}) }
  for (const event of HOOK_EVENTS) {
    const groups = Array.isArray(hooks[event]) ? (hooks[event] as Array<unknown>) : []
    hooks[event] = [...groups, { hooks: [hookEntry(event, target)] }]
  }
  return { ...base, hooks }
}

/** Every OrbitDock hook entry in the settings, with its event. */
function* ourHooks(settings: Json): Generator<readonly [string, Json]> {
  const hooks = settings.hooks
  if (typeof hooks !== "object" || hooks === null) return
  for (const [event, groups] of Object.entries(hooks as Json)) {
    if (!Array.isArray(groups)) continue
    for (const group of groups) {
      const entries = typeof group === "object" && group !== null ? (group as Json).hooks : undefined
      if (!Array.isArray(entries)) continue
      for (const h of entries) if (isOurs(h)) yield [event, h as Json] as const
    }
  }
}

/** Which events have an OrbitDock hook, and through what (a command hook goes over the Unix socket). */
export const installed = (settings: Json): Partial<Record<string, "http" | "unix">> => {
  const out: Partial<Record<string, "http" | "unix">> = {}
  for (const [event, hook] of ourHooks(settings)) out[event] = hook.type === "http" ? "http" : "unix"
  return out
}

/** Where each installed OrbitDock hook sends its event: the Unix socket a command hook names, or an http hook's URL. */
export const destinations = (settings: Json): Partial<Record<string, string>> => {
  const out: Partial<Record<string, string>> = {}
  for (const [event, hook] of ourHooks(settings)) {
    if (typeof hook.url === "string") out[event] = hook.url.replace(/\/hook\?.*$/, "")
    else if (typeof hook.command === "string") {
      const socket = /--unix-socket '((?:[^']|'\\'')*)'/.exec(hook.command)
      if (socket !== null) out[event] = socket[1]!.replace(/'\\''/g, "'")
    }
  }
  return out
}
