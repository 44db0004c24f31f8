/**
 * `orbitdock hooks install|uninstall|status`: OrbitDock's hook entries in Claude Code's
 * `settings.json`. Install merges them in (the user's own hooks are kept, a backup is written first,
 * running it twice changes nothing); uninstall takes only ours out; status tells what is installed
 * and whether the server answers. The entries themselves are built by `HookSettings`.
 */
import { Command, Options } from "@effect/cli"
import { Console, Duration, Effect, Option } from "effect"
import * as fs from "node:fs"
import * as http from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import { DEFAULT_PERMISSION_TIMEOUT } from "../connectors/claude/ClaudeConnector.js"
import { HOOK_EVENTS, type HookTarget, installed, withOurs, withoutOurs } from "../connectors/claude/HookSettings.js"
import { CliError } from "./ServerClient.js"
import { dataDirOption } from "./Shared.js"

/** Claude Code's user settings file for an environment. */
export const defaultSettingsPath = (env: Readonly<Record<string, string | undefined>> = process.env): string =>
  path.join(env.CLAUDE_CONFIG_DIR ?? path.join(env.HOME ?? os.homedir(), ".claude"), "settings.json")

export interface InstallOptions {
  readonly settingsPath: string
  readonly dataDir: string
  readonly url: string
  readonly token: string | null
  readonly mode: "http" | "command"
  readonly permissionTimeoutS: number
}

const readSettings = (file: string): Effect.Effect<Record<string, unknown>, CliError> =>
  Effect.try({
    try: () => {
      if (!fs.existsSync(file)) return {}
      const text = fs.readFileSync(file, "utf8")
      if (text.trim().length === 0) return {}
      const parsed: unknown = JSON.parse(text)
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("not a JSON object")
      return parsed as Record<string, unknown>
    },
    catch: (e) => new CliError({ message: `cannot read ${file}: ${e instanceof Error ? e.message : String(e)}` })
  })

/** Writes the settings (with a backup of the previous file); a file holding a token becomes 0600. */
const writeSettings = (file: string, settings: Record<string, unknown>, secret: boolean) =>
  Effect.try({
    try: () => {
      fs.mkdirSync(path.dirname(file), { recursive: true })
      let backup: string | null = null
      if (fs.existsSync(file)) {
        backup = `${file}.orbitdock-backup-${new Date().toISOString().replace(/[:.]/g, "-")}`
        // 0600 whatever the original's mode: an older install may have put a token in it.
        fs.writeFileSync(backup, fs.readFileSync(file), { mode: 0o600, flag: "wx" })
      }
      const temp = `${file}.orbitdock-tmp`
      fs.writeFileSync(temp, `${JSON.stringify(settings, null, 2)}\n`, { mode: secret ? 0o600 : 0o644 })
      if (secret) fs.chmodSync(temp, 0o600)
      fs.renameSync(temp, file)
      return backup
    },
    catch: (e) => new CliError({ message: `cannot write ${file}: ${e instanceof Error ? e.message : String(e)}` })
  })

const tokenOf = (dataDir: string, token: string | null): string | null => {
  if (token !== null) return token
  if (process.env.ORBITDOCK_TOKEN !== undefined) return process.env.ORBITDOCK_TOKEN.trim()
  const file = path.join(dataDir, "token")
  return fs.existsSync(file) ? fs.readFileSync(file, "utf8").trim() : null
}

/** Installs (or refreshes) OrbitDock's hooks; returns what happened. */
export const install = (options: InstallOptions) =>
  Effect.gen(function* () {
    const token = tokenOf(options.dataDir, options.token)
    if (options.mode === "http" && token === null) {
      return yield* Effect.fail(
        new CliError({
          message: `no token in ${path.join(options.dataDir, "token")}: start the server once (orbitdock serve), pass --token, or use --mode command`
        })
      )
    }
    const target: HookTarget = {
      url: options.url,
      token,
      socketPath: path.join(options.dataDir, "server.sock"),
      mode: options.mode,
      permissionTimeoutS: options.permissionTimeoutS
    }
    const current = yield* readSettings(options.settingsPath)
    const next = withOurs(current, target)
    if (JSON.stringify(next) === JSON.stringify(current)) return { changed: false, backup: null as string | null }
    const backup = yield* writeSettings(options.settingsPath, next, options.mode === "http")
    return { changed: true, backup }
  })

/** Removes OrbitDock's hooks, leaving everything else as it was. */
export const uninstall = (settingsPath: string) =>
  Effect.gen(function* () {
    if (!fs.existsSync(settingsPath)) return { changed: false, backup: null as string | null }
    const current = yield* readSettings(settingsPath)
    const next = withoutOurs(current)
    if (JSON.stringify(next) === JSON.stringify(current)) return { changed: false, backup: null as string | null }
    const mode = fs.statSync(settingsPath).mode & 0o777
    const backup = yield* writeSettings(settingsPath, next, mode === 0o600)
    return { changed: true, backup }
  })

/** Whether the server answers `GET /health` on its Unix socket. */
const reachable = (socketPath: string): Effect.Effect<boolean> =>
  Effect.async<boolean>((resume) => {
    const req = http.get({ socketPath, path: "/health", timeout: 1000 }, (res) => {
      res.resume()
      resume(Effect.succeed(res.statusCode === 200))
    })
    req.on("error", () => resume(Effect.succeed(false)))
    req.on("timeout", () => {
      req.destroy()
      resume(Effect.succeed(false))
    })
  })

const settingsOption = Options.text("settings").pipe(
  Options.optional,
  Options.withDescription("Claude Code settings file (default: $CLAUDE_CONFIG_DIR or ~/.claude, settings.json)")
)
const settingsPathOf = (flag: Option.Option<string>) => path.resolve(Option.getOrElse(flag, () => defaultSettingsPath()))

const installCommand = Command.make(
  "install",
  {
    settings: settingsOption,
    dataDir: dataDirOption,
    url: Options.text("url").pipe(Options.withDefault("http://127.0.0.1:4000"), Options.withDescription("Server URL the http hooks post to")),
    token: Options.text("token").pipe(Options.optional, Options.withDescription("TCP token (default: ORBITDOCK_TOKEN or <data-dir>/token)")),
    mode: Options.choice("mode", ["http", "command"]).pipe(
      Options.withDefault("http" as const),
      Options.withDescription("http: native http hooks with the token (SessionStart via curl); command: curl over the Unix socket for all")
    ),
    permissionTimeout: Options.integer("permission-timeout").pipe(
      Options.withDefault(Math.ceil(Duration.toSeconds(DEFAULT_PERMISSION_TIMEOUT)) + 20),
      Options.withDescription("Seconds Claude waits for a held permission prompt (keep above the server's hold timeout)")
    )
  },
  (flags) =>
    Effect.gen(function* () {
      const settingsPath = settingsPathOf(flags.settings)
      const result = yield* install({
        settingsPath,
        dataDir: path.resolve(flags.dataDir),
        url: flags.url,
        token: Option.getOrNull(flags.token),
        mode: flags.mode,
        permissionTimeoutS: flags.permissionTimeout
      })
      yield* Console.log(
        result.changed
          ? `installed OrbitDock's hooks in ${settingsPath}${result.backup === null ? "" : ` (backup: ${result.backup})`}`
          : `OrbitDock's hooks are already installed in ${settingsPath}`
      )
    })
).pipe(Command.withDescription("Add OrbitDock's hooks to Claude Code's settings (keeps your own hooks)"))

const uninstallCommand = Command.make("uninstall", { settings: settingsOption }, (flags) =>
  Effect.gen(function* () {
    const settingsPath = settingsPathOf(flags.settings)
    const result = yield* uninstall(settingsPath)
    yield* Console.log(
      result.changed
        ? `removed OrbitDock's hooks from ${settingsPath}${result.backup === null ? "" : ` (backup: ${result.backup})`}`
        : `no OrbitDock hooks in ${settingsPath}`
    )
  })
).pipe(Command.withDescription("Remove OrbitDock's hooks from Claude Code's settings"))

const statusCommand = Command.make(
  "status",
  { settings: settingsOption, dataDir: dataDirOption, json: Options.boolean("json").pipe(Options.withDescription("Print JSON instead of text")) },
  (flags) =>
    Effect.gen(function* () {
      const settingsPath = settingsPathOf(flags.settings)
      const hooks = installed(yield* readSettings(settingsPath))
      const socketPath = path.join(path.resolve(flags.dataDir), "server.sock")
      const server = yield* reachable(socketPath)
      const missing = HOOK_EVENTS.filter((e) => hooks[e] === undefined)
      if (flags.json) {
        yield* Console.log(JSON.stringify({ settings: settingsPath, hooks, missing, server_reachable: server }))
        return
      }
      yield* Console.log(`settings: ${settingsPath}`)
      for (const event of HOOK_EVENTS) yield* Console.log(`  ${event.padEnd(18)} ${hooks[event] ?? "not installed"}`)
      yield* Console.log(`server (${socketPath}): ${server ? "reachable" : "not reachable"}`)
    })
).pipe(Command.withDescription("Show which OrbitDock hooks are installed and whether the server answers"))

/** `orbitdock hooks …` (the lead adds it under the root command). */
export const command = Command.make("hooks").pipe(
  Command.withDescription("Manage OrbitDock's Claude Code hooks"),
  Command.withSubcommands([installCommand, uninstallCommand, statusCommand])
)
