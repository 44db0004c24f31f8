/**
 * `orbitdock hooks install|uninstall|status`: OrbitDock's hook entries in Claude Code's
 * `settings.json`. Install merges them in (the user's own hooks are kept, a 0600 backup is written
 * first, running it twice changes nothing) for the server running on the data dir, over its Unix
 * socket by default; uninstall takes only ours out; status tells what is installed and whether the
 * server answers. The entries themselves are built by `HookSettings`.
 */
import { Command, Options } from "@effect/cli"
import { Console, Duration, Effect, Option } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { DEFAULT_PERMISSION_TIMEOUT } from "../connectors/claude/ClaudeConnector.js"
import { HOOK_EVENTS, type HookTarget, installed, withOurs, withoutOurs } from "../connectors/claude/HookSettings.js"
import * as Discovery from "./Discovery.js"
import { CliError, tokenOf } from "./ServerClient.js"
import { dataDirOption, tokenFlagWarning } from "./Shared.js"

/** Claude Code's user settings file for an environment. */
export const defaultSettingsPath = (env: Readonly<Record<string, string | undefined>> = process.env): string =>
  path.join(env.CLAUDE_CONFIG_DIR ?? path.join(env.HOME ?? os.homedir(), ".claude"), "settings.json")

export interface InstallOptions {
  readonly settingsPath: string
  readonly dataDir: string
  /** `unix` (default): curl over the server's Unix socket, no token in settings.json; `http`: native http hooks with the token. */
  readonly transport: "unix" | "http"
  /** http: the server's URL; null: the one the running server recorded (and proved to be) in server.json. */
  readonly url: string | null
  readonly token: string | null
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

/**
 * Writes the settings (with a 0600 backup of the previous file). A file holding a token becomes
 * 0600; otherwise an existing file keeps its mode and a new one is 0644, like Claude Code's own.
 */
const writeSettings = (file: string, settings: Record<string, unknown>, secret: boolean) =>
  Effect.try({
    try: () => {
      fs.mkdirSync(path.dirname(file), { recursive: true })
      let backup: string | null = null
      let mode = 0o644
      if (fs.existsSync(file)) {
        mode = fs.statSync(file).mode & 0o777
        backup = `${file}.orbitdock-backup-${new Date().toISOString().replace(/[:.]/g, "-")}`
        // 0600 whatever the original's mode: an older install may have put a token in it.
        fs.writeFileSync(backup, fs.readFileSync(file), { mode: 0o600, flag: "wx" })
      }
      if (secret) mode = 0o600
      const temp = `${file}.orbitdock-tmp`
      fs.rmSync(temp, { force: true })
      fs.writeFileSync(temp, `${JSON.stringify(settings, null, 2)}\n`, { mode, flag: "wx" })
      fs.chmodSync(temp, mode)
      fs.renameSync(temp, file)
      return backup
    },
    catch: (e) => new CliError({ message: `cannot write ${file}: ${e instanceof Error ? e.message : String(e)}` })
  })

/** Whether an executable named `name` is on PATH. */
const onPath = (name: string): boolean =>
  (process.env.PATH ?? "").split(path.delimiter).some((dir) => {
    try {
      fs.accessSync(path.join(dir, name), fs.constants.X_OK)
      return true
    } catch {
      return false
    }
  })

/**
 * The server the hooks are for: the one running on the data dir (its `server.json`), else the
 * defaults of a server started there later (its socket at `<data-dir>/server.sock`). An http
 * target needs a URL that proved to be that server (or `--url`): a token is never written for a
 * port nobody vouched for.
 */
const targetOf = (options: InstallOptions) =>
  Effect.gen(function* () {
    const notes: Array<string> = []
    const found = Discovery.discover(options.dataDir)
    if (found._tag === "Stale") notes.push(Discovery.staleMessage(options.dataDir, found.reason))
    const running = found._tag === "Running" ? found.file : null
    if (running !== null && running.socket === null && options.transport === "unix") {
      return yield* Effect.fail(
        new CliError({
          message: `the server running on ${options.dataDir} has no Unix socket (started with --socket none): restart it with one, or use --transport http`
        })
      )
    }
    const socketPath = running?.socket ?? path.join(options.dataDir, "server.sock")
    if (running === null) notes.push(`no server is running on ${options.dataDir} now: the hooks reach it once \`orbitdock serve\` runs there`)
    if (options.transport === "unix") {
      if (!onPath("curl")) notes.push("curl is not on PATH: the hooks need it to reach the server")
      const target: HookTarget = { transport: "unix", socketPath, url: null, token: null, permissionTimeoutS: options.permissionTimeoutS }
      return { target, notes }
    }
    const token = tokenOf(options.dataDir, options.token)
    if (token === null) {
      return yield* Effect.fail(
        new CliError({
          message: `no token in ${path.join(options.dataDir, "token")}: start the server once (orbitdock serve), set ORBITDOCK_TOKEN, or use the default --transport unix`
        })
      )
    }
    let url = options.url
    if (url === null) {
      const verified = yield* Discovery.discoverVerified(options.dataDir)
      if (verified._tag !== "Running") {
        return yield* Effect.fail(
          new CliError({
            message: `no running server on ${options.dataDir} to point http hooks at${verified._tag === "Stale" ? ` (${verified.reason})` : ""}: start \`orbitdock serve\` first, or pass --url`
          })
        )
      }
      url = verified.file.url
    }
    const target: HookTarget = { transport: "http", socketPath, url, token, permissionTimeoutS: options.permissionTimeoutS }
    return { target, notes }
  })

/** Installs (or refreshes) OrbitDock's hooks; returns what happened and what the user should know. */
export const install = (options: InstallOptions) =>
  Effect.gen(function* () {
    const { target, notes } = yield* targetOf(options)
    const current = yield* readSettings(options.settingsPath)
    const next = withOurs(current, target)
    const via = target.transport === "unix" ? `the Unix socket ${target.socketPath}` : target.url!
    if (JSON.stringify(next) === JSON.stringify(current)) return { changed: false, backup: null as string | null, via, notes }
    const backup = yield* writeSettings(options.settingsPath, next, target.transport === "http")
    return { changed: true, backup, via, notes }
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
    transport: Options.choice("transport", ["unix", "http"]).pipe(
      Options.withDefault("unix" as const),
      Options.withDescription(
        "unix: every hook pipes its event to curl over the server's Unix socket (no token in settings.json, no port to squat); http: Claude's native http hooks to the server's TCP URL, with the token in settings.json (SessionStart still goes over the socket)"
      )
    ),
    url: Options.text("url").pipe(
      Options.optional,
      Options.withDescription("With --transport http: the server URL (default: the one the running server recorded in <data-dir>/server.json)")
    ),
    token: Options.text("token").pipe(
      Options.optional,
      Options.withDescription("With --transport http: the TCP token (default: ORBITDOCK_TOKEN or <data-dir>/token); visible in ps, prefer those")
    ),
    permissionTimeout: Options.integer("permission-timeout").pipe(
      Options.withDefault(Math.ceil(Duration.toSeconds(DEFAULT_PERMISSION_TIMEOUT)) + 20),
      Options.withDescription("Seconds Claude waits for a held permission prompt (keep above the server's hold timeout)")
    )
  },
  (flags) =>
    Effect.gen(function* () {
      yield* tokenFlagWarning(flags.token)
      const settingsPath = settingsPathOf(flags.settings)
      const result = yield* install({
        settingsPath,
        dataDir: path.resolve(flags.dataDir),
        transport: flags.transport,
        url: Option.getOrNull(flags.url),
        token: Option.getOrNull(flags.token),
        permissionTimeoutS: flags.permissionTimeout
      })
      for (const note of result.notes) yield* Console.error(`orbitdock: ${note}`)
      yield* Console.log(
        result.changed
          ? `installed OrbitDock's hooks in ${settingsPath}, reaching the server through ${result.via}${result.backup === null ? "" : ` (backup: ${result.backup})`}`
          : `OrbitDock's hooks are already installed in ${settingsPath}, reaching the server through ${result.via}`
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
      const dataDir = path.resolve(flags.dataDir)
      const found = Discovery.discover(dataDir)
      const socketPath = (found._tag === "Running" ? found.file.socket : null) ?? path.join(dataDir, "server.sock")
      const server = yield* Discovery.socketAnswers(socketPath, 1000)
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
