/**
 * `orbitdock service install|uninstall|status|logs|start|stop`: OrbitDock as a service of the
 * person's session, started at login and restarted when it fails: a systemd user unit on Linux, a
 * launchd agent on macOS. Installing twice changes nothing; uninstalling removes every trace. The
 * command line holds no token (the server reads `<data-dir>/token`).
 */
import { Command, Options } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import { execFile, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { logFile } from "../Logging.js"
import type { Finding } from "./Doctor.js"
import { selfCommand } from "./SelfCommand.js"
import { CliError } from "./ServerClient.js"
import { dataDirOption } from "./Shared.js"

export const UNIT_NAME = "orbitdock.service"
export const LAUNCHD_LABEL = "dev.orbitdock.server"

/** What the service runs. */
export interface ServiceSpec {
  /** The program and its arguments, `serve` and its options included. */
  readonly argv: ReadonlyArray<string>
  /** Variables the agents need (PATH to find codex, claude, curl; their config dirs). */
  readonly env: Readonly<Record<string, string>>
}

/** Variables passed on from the installing shell: what finds the agents and their settings. */
const PASSED_ON = ["PATH", "CLAUDE_CONFIG_DIR", "CODEX_HOME", "ORBITDOCK_CODEX_BIN", "ORBITDOCK_CLAUDE_BIN", "ORBITDOCK_DATA_DIR"] as const

export const specFor = (serveArgs: ReadonlyArray<string>, env: Readonly<Record<string, string | undefined>>, self = selfCommand()): ServiceSpec => {
  const passed: Record<string, string> = {}
  for (const name of PASSED_ON) if (env[name] !== undefined && env[name] !== "") passed[name] = env[name]!
  return { argv: [...self, "serve", ...serveArgs], env: passed }
}

/** One argument of a systemd command line: quoted when needed, `%` and `$` escaped (specifiers, variables). */
const systemdWord = (arg: string): string => {
  const escaped = arg.replace(/%/g, "%%").replace(/\$/g, "$$$$")
  return /^[A-Za-z0-9_@+=:,./-]+$/.test(escaped) ? escaped : `"${escaped.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`
}

/** The systemd user unit. */
export const systemdUnit = (spec: ServiceSpec): string =>
  [
    "[Unit]",
    "Description=OrbitDock: mission control for AI coding agents",
    "After=network.target",
    "",
    "[Service]",
    "Type=simple",
    `ExecStart=${spec.argv.map(systemdWord).join(" ")}`,
    ...Object.entries(spec.env).map(([name, value]) => `Environment=${systemdWord(`${name}=${value}`)}`),
    // On failure only: a clean stop (SIGTERM, exit 0) stays stopped.
    "Restart=on-failure",
    "RestartSec=2",
    // SIGTERM lets the server commit what is queued before it exits.
    "KillSignal=SIGTERM",
    "TimeoutStopSec=30",
    "UMask=0077",
    "",
    "[Install]",
    "WantedBy=default.target",
    ""
  ].join("\n")

const xml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")

/** The launchd agent. */
export const launchdPlist = (spec: ServiceSpec, logPath: string): string =>
  [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">`,
    `<plist version="1.0">`,
    `<dict>`,
    `  <key>Label</key><string>${LAUNCHD_LABEL}</string>`,
    `  <key>ProgramArguments</key>`,
    `  <array>`,
    ...spec.argv.map((arg) => `    <string>${xml(arg)}</string>`),
    `  </array>`,
    `  <key>EnvironmentVariables</key>`,
    `  <dict>`,
    ...Object.entries(spec.env).map(([name, value]) => `    <key>${xml(name)}</key><string>${xml(value)}</string>`),
    `  </dict>`,
    `  <key>RunAtLoad</key><true/>`,
    // Restarted when it exits with a failure; a clean exit stays stopped.
    `  <key>KeepAlive</key><dict><key>SuccessfulExit</key><false/></dict>`,
    `  <key>ThrottleInterval</key><integer>2</integer>`,
    `  <key>Umask</key><integer>63</integer>`,
    `  <key>StandardOutPath</key><string>${xml(logPath)}</string>`,
    `  <key>StandardErrorPath</key><string>${xml(logPath)}</string>`,
    `</dict>`,
    `</plist>`,
    ""
  ].join("\n")

/** Where the service definition lives, and the platform's tools. */
export interface Platform {
  readonly kind: "systemd" | "launchd"
  readonly file: string
  readonly contents: (spec: ServiceSpec) => string
  /** Commands that make the written file take effect and start it (idempotent). */
  readonly enable: ReadonlyArray<ReadonlyArray<string>>
  readonly restart: ReadonlyArray<string>
  readonly disable: ReadonlyArray<ReadonlyArray<string>>
  readonly start: ReadonlyArray<string>
  readonly stop: ReadonlyArray<string>
  /** Prints whether it is running. */
  readonly status: ReadonlyArray<string>
  /** Where its output goes, and the command that shows it. */
  readonly logs: (lines: number, follow: boolean) => ReadonlyArray<string>
  readonly logsWhere: string
}

export const platformFor = (
  platform: NodeJS.Platform = process.platform,
  env: Readonly<Record<string, string | undefined>> = process.env
): Platform | null => {
  const home = env.HOME ?? os.homedir()
  if (platform === "linux") {
    const config = env.XDG_CONFIG_HOME ?? path.join(home, ".config")
    const user = (...args: Array<string>) => ["systemctl", "--user", ...args]
    return {
      kind: "systemd",
      file: path.join(config, "systemd", "user", UNIT_NAME),
      contents: systemdUnit,
      enable: [user("daemon-reload"), user("enable", "--now", UNIT_NAME)],
      restart: user("restart", UNIT_NAME),
      disable: [user("disable", "--now", UNIT_NAME)],
      start: user("start", UNIT_NAME),
      stop: user("stop", UNIT_NAME),
      status: user("status", "--no-pager", UNIT_NAME),
      logs: (lines, follow) => ["journalctl", "--user", "-u", UNIT_NAME, "-n", String(lines), "--no-pager", ...(follow ? ["-f"] : [])],
      logsWhere: `the journal (journalctl --user -u ${UNIT_NAME})`
    }
  }
  if (platform === "darwin") {
    const uid = typeof process.getuid === "function" ? process.getuid() : 0
    const file = path.join(home, "Library", "LaunchAgents", `${LAUNCHD_LABEL}.plist`)
    const log = path.join(home, "Library", "Logs", "OrbitDock", "server.log")
    return {
      kind: "launchd",
      file,
      contents: (spec) => launchdPlist(spec, log),
      enable: [["launchctl", "bootstrap", `gui/${uid}`, file]],
      restart: ["launchctl", "kickstart", "-k", `gui/${uid}/${LAUNCHD_LABEL}`],
      disable: [["launchctl", "bootout", `gui/${uid}/${LAUNCHD_LABEL}`]],
      start: ["launchctl", "kickstart", `gui/${uid}/${LAUNCHD_LABEL}`],
      stop: ["launchctl", "kill", "SIGTERM", `gui/${uid}/${LAUNCHD_LABEL}`],
      status: ["launchctl", "print", `gui/${uid}/${LAUNCHD_LABEL}`],
      logs: (lines, follow) => ["tail", "-n", String(lines), ...(follow ? ["-f"] : []), log],
      logsWhere: log
    }
  }
  return null
}

interface Ran {
  readonly code: number
  readonly output: string
}

const run = (argv: ReadonlyArray<string>): Effect.Effect<Ran> =>
  Effect.async<Ran>((resume) => {
    execFile(argv[0]!, argv.slice(1), { timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof (error as { code?: unknown }).code === "number" ? ((error as { code: number }).code) : 127
      resume(Effect.succeed({ code, output: `${stdout}${stderr}`.trim() || (error?.message ?? "") }))
    })
  })

const platformOrFail = Effect.suspend(() => {
  const platform = platformFor()
  return platform === null
    ? Effect.fail(new CliError({ message: `no service manager OrbitDock knows on ${process.platform} (systemd on Linux, launchd on macOS): run \`orbitdock serve\` under your own` }))
    : Effect.succeed(platform)
})

/** Runs the commands in order; the first failure becomes a CliError that says what is left done. */
const runAll = (commands: ReadonlyArray<ReadonlyArray<string>>, onFailure: (command: string, output: string) => string) =>
  Effect.forEach(commands, (argv) =>
    Effect.flatMap(run(argv), (ran) => (ran.code === 0 ? Effect.void : Effect.fail(new CliError({ message: onFailure(argv.join(" "), ran.output) }))))
  )

const serveOptions = {
  dataDir: dataDirOption,
  host: Options.text("host").pipe(Options.optional, Options.withDescription("TCP host the service listens on (serve's default: 127.0.0.1)")),
  port: Options.integer("port").pipe(Options.optional, Options.withDescription("TCP port (serve's default: 4000)")),
  publicHost: Options.text("public-host").pipe(Options.repeated, Options.withDescription("Extra accepted Host name (a phone's address for this machine)")),
  codexBin: Options.text("codex-bin").pipe(Options.optional, Options.withDescription("Codex binary")),
  claudeBin: Options.text("claude-bin").pipe(Options.optional, Options.withDescription("Claude Code binary")),
  noStart: Options.boolean("no-start").pipe(Options.withDescription("Write the service definition only: do not enable or start it"))
}

/** `serve`'s arguments for these options (absolute paths: a service has no working directory of ours). */
export const serveArgsOf = (flags: {
  readonly dataDir: string
  readonly host: Option.Option<string>
  readonly port: Option.Option<number>
  readonly publicHost: ReadonlyArray<string>
  readonly codexBin: Option.Option<string>
  readonly claudeBin: Option.Option<string>
}): Array<string> => [
  "--data-dir",
  path.resolve(flags.dataDir),
  ...Option.match(flags.host, { onNone: () => [], onSome: (h) => ["--host", h] }),
  ...Option.match(flags.port, { onNone: () => [], onSome: (p) => ["--port", String(p)] }),
  ...flags.publicHost.flatMap((h) => ["--public-host", h]),
  ...Option.match(flags.codexBin, { onNone: () => [], onSome: (b) => ["--codex-bin", path.resolve(b)] }),
  ...Option.match(flags.claudeBin, { onNone: () => [], onSome: (b) => ["--claude-bin", path.resolve(b)] })
]

const install = Command.make("install", serveOptions, (flags) =>
  Effect.gen(function* () {
    const platform = yield* platformOrFail
    const contents = platform.contents(specFor(serveArgsOf(flags), process.env))
    const previous = fs.existsSync(platform.file) ? fs.readFileSync(platform.file, "utf8") : null
    if (previous !== contents) {
      yield* Effect.try({
        try: () => {
          fs.mkdirSync(path.dirname(platform.file), { recursive: true })
          const temp = `${platform.file}.${process.pid}.tmp`
          fs.writeFileSync(temp, contents, { mode: 0o644 })
          fs.renameSync(temp, platform.file)
        },
        catch: (e) => new CliError({ message: `cannot write ${platform.file}: ${(e as Error).message}` })
      })
    }
    yield* Console.log(previous === contents ? `${platform.file} is up to date` : `wrote ${platform.file}`)
    if (flags.noStart) return
    const manual = (command: string, output: string) =>
      `${command} failed: ${output}\nthe service is written at ${platform.file} but not running: run \`${platform.enable.map((c) => c.join(" ")).join(" && ")}\` in your login session`
    if (platform.kind === "launchd" && previous !== null) {
      // launchd reads the file when the agent is bootstrapped: out with the old one first (it may not be loaded).
      yield* Effect.forEach(platform.disable, run)
    }
    yield* runAll(platform.enable, manual)
    // A changed definition takes effect once the running service restarts.
    if (platform.kind === "systemd" && previous !== null && previous !== contents) yield* runAll([platform.restart], manual)
    yield* Console.log(`OrbitDock runs as a service now: it starts at login and restarts if it fails; logs: ${platform.logsWhere}`)
    if (platform.kind === "systemd") yield* Console.log("to start it at boot, before you log in: loginctl enable-linger")
  })
).pipe(Command.withDescription("Run OrbitDock as a service: started at login, restarted on failure (systemd user unit / launchd agent)"))

const uninstall = Command.make("uninstall", {}, () =>
  Effect.gen(function* () {
    const platform = yield* platformOrFail
    if (!fs.existsSync(platform.file)) {
      yield* Console.log(`no OrbitDock service is installed (${platform.file} does not exist)`)
      return
    }
    // Stopped and disabled first; a manager that is not reachable has nothing running to stop.
    const stopped = yield* Effect.forEach(platform.disable, run)
    fs.rmSync(platform.file, { force: true })
    if (platform.kind === "systemd") yield* run(["systemctl", "--user", "daemon-reload"])
    const failure = stopped.find((r) => r.code !== 0)
    yield* Console.log(`removed ${platform.file}${failure === undefined ? " (the service is stopped and disabled)" : ` (stopping it said: ${failure.output})`}`)
  })
).pipe(Command.withDescription("Stop the service and remove it"))

const passThrough = (argv: ReadonlyArray<string>) =>
  Effect.async<number>((resume) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: "inherit" })
    child.once("error", (e) => {
      process.stderr.write(`orbitdock: ${argv[0]}: ${e.message}\n`)
      resume(Effect.succeed(127))
    })
    child.once("exit", (code) => resume(Effect.succeed(code ?? 1)))
  })

const status = Command.make("status", { dataDir: dataDirOption }, (flags) =>
  Effect.gen(function* () {
    const finding = yield* statusFinding(path.resolve(flags.dataDir))
    yield* Console.log(finding.summary)
    if (finding.fix !== undefined) yield* Console.log(`fix: ${finding.fix}`)
    const platform = platformFor()
    if (platform !== null && fs.existsSync(platform.file)) yield* passThrough(platform.status)
  })
).pipe(Command.withDescription("Whether the service is installed and running"))

const logs = Command.make(
  "logs",
  {
    dataDir: dataDirOption,
    lines: Options.integer("lines").pipe(Options.withAlias("n"), Options.withDefault(200), Options.withDescription("How many lines")),
    follow: Options.boolean("follow").pipe(Options.withAlias("f"), Options.withDescription("Keep printing new lines"))
  },
  (flags) =>
    Effect.gen(function* () {
      const platform = yield* platformOrFail
      const code = yield* passThrough(platform.logs(flags.lines, flags.follow))
      if (code !== 0) {
        // No journal here (or no launchd log yet): the server's own log has the same lines, as JSON.
        const own = logFile(path.resolve(flags.dataDir))
        yield* Console.error(`orbitdock: ${platform.logsWhere} did not answer; the server's own log is ${own}`)
        if (fs.existsSync(own)) yield* passThrough(["tail", "-n", String(flags.lines), ...(flags.follow ? ["-f"] : []), own])
      }
    })
).pipe(Command.withDescription("Show the service's logs"))

const startStop = (name: "start" | "stop") =>
  Command.make(name, {}, () =>
    Effect.gen(function* () {
      const platform = yield* platformOrFail
      if (!fs.existsSync(platform.file)) return yield* Effect.fail(new CliError({ message: "no OrbitDock service is installed: orbitdock service install" }))
      yield* runAll([platform[name]], (command, output) => `${command} failed: ${output}`)
    })
  ).pipe(Command.withDescription(name === "start" ? "Start the installed service" : "Stop the service (it starts again at the next login)"))

/** For `orbitdock doctor` and `service status`: installed or not, and whether its manager runs it. */
export const statusFinding = (dataDir: string): Effect.Effect<Finding> =>
  Effect.gen(function* () {
    const platform = platformFor()
    if (platform === null) return { check: "service", level: "ok", summary: `no service manager known on ${process.platform}` } satisfies Finding
    if (!fs.existsSync(platform.file)) {
      return { check: "service", level: "warn", summary: "OrbitDock is not installed as a service: it stops when its terminal closes", fix: "orbitdock service install" } satisfies Finding
    }
    const contents = fs.readFileSync(platform.file, "utf8")
    const forThisDir = contents.includes(path.resolve(dataDir))
    const active =
      platform.kind === "systemd"
        ? yield* run(["systemctl", "--user", "is-active", UNIT_NAME])
        : yield* run(platform.status)
    if (!forThisDir) {
      return { check: "service", level: "warn", summary: `the service at ${platform.file} serves another data dir`, fix: `orbitdock service install --data-dir ${dataDir}` } satisfies Finding
    }
    if (active.code !== 0) {
      return {
        check: "service",
        level: "warn",
        summary: `installed at ${platform.file} but not running (${active.output.split("\n")[0] || `exit ${active.code}`})`,
        fix: `orbitdock service start; then orbitdock service logs`
      } satisfies Finding
    }
    return { check: "service", level: "ok", summary: `installed at ${platform.file} and running` } satisfies Finding
  })

export const command = Command.make("service").pipe(
  Command.withDescription("Run OrbitDock as a service of your login session (systemd on Linux, launchd on macOS)"),
  Command.withSubcommands([install, uninstall, status, logs, startStop("start"), startStop("stop")])
)
