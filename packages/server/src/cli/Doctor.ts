/**
 * `orbitdock doctor`: checks what OrbitDock needs and explains each problem with its fix. Every
 * check reads only (nothing is changed); a failed check makes the exit code 1, a warning does not.
 */
import { Command, Options } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { findClaudeBin } from "../connectors/claude/HeadlessProcess.js"
import { destinations, HOOK_EVENTS } from "../connectors/claude/HookSettings.js"
import { resolveBinary } from "../connectors/codex/CodexProcess.js"
import { TESTED_VERSIONS } from "../connectors/testedVersions.js"
import { SCHEMA_VERSION } from "../eventlog/eventLogSchema.js"
import { headerSchemaVersion, readSchemaVersion } from "../eventlog/schemaUpgrade.js"
import { VERSION } from "../http/HttpTransport.js"
import { logFile } from "../Logging.js"
import * as Discovery from "./Discovery.js"
import { defaultSettingsPath } from "./hooks.js"
import * as Service from "./Service.js"
import { dataDirOption } from "./Shared.js"

export type Level = "ok" | "warn" | "fail"

/** One thing checked: what was found and, when it is not ok, what to do about it. */
export interface Finding {
  readonly check: string
  readonly level: Level
  readonly summary: string
  readonly fix?: string
}

const ok = (check: string, summary: string): Finding => ({ check, level: "ok", summary })
const warn = (check: string, summary: string, fix: string): Finding => ({ check, level: "warn", summary, fix })
const failed = (check: string, summary: string, fix: string): Finding => ({ check, level: "fail", summary, fix })

export interface DoctorOptions {
  readonly dataDir: string
  readonly dbPath: string
  readonly settingsPath: string
  readonly port: number
  readonly codexBin: string | null
  readonly claudeBin: string | null
  readonly env: Readonly<Record<string, string | undefined>>
}

/** The server on this data dir, and a stale server.json. */
const serverCheck = (options: DoctorOptions) =>
  Effect.gen(function* () {
    const found = yield* Discovery.discoverVerified(options.dataDir)
    if (found._tag === "None") {
      return [
        warn(
          "server",
          `no server is running on ${options.dataDir}`,
          "start one: `orbitdock serve`, or keep one running: `orbitdock service install`"
        )
      ]
    }
    if (found._tag === "Stale") {
      return [
        warn(
          "server.json",
          `${Discovery.serverFilePath(options.dataDir)} is stale: ${found.reason} (clients ignore it)`,
          `remove it: rm ${Discovery.serverFilePath(options.dataDir)} (a server started there rewrites it)`
        )
      ]
    }
    const file = found.file
    const findings: Array<Finding> = []
    const socket = file.socket === null ? null : yield* Discovery.socketAnswers(file.socket)
    const where = `${file.url}${file.socket === null ? "" : ` and ${file.socket}`}`
    findings.push(
      socket === false
        ? warn("server", `OrbitDock ${file.version} (pid ${file.pid}) answers at ${file.url} but not on its socket ${file.socket}`, "restart it: hooks and local clients use the socket")
        : ok("server", `OrbitDock ${file.version} (pid ${file.pid}) answers at ${where}`)
    )
    if (file.version !== VERSION) {
      findings.push(warn("version", `the server runs ${file.version}, this command is ${VERSION}`, "restart the server to run this version (`orbitdock service install` again for a service)"))
    }
    return findings
  })

/** Modes that let other users read: a finding per file that is not private. */
const permissionsCheck = (options: DoctorOptions): Array<Finding> => {
  const uid = typeof process.getuid === "function" ? process.getuid() : null
  const problems: Array<Finding> = []
  const look = (file: string, wanted: number) => {
    let stat: fs.Stats
    try {
      stat = fs.lstatSync(file)
    } catch {
      return
    }
    if (uid !== null && stat.uid !== uid) {
      problems.push(warn("permissions", `${file} belongs to uid ${stat.uid}, not to you (uid ${uid})`, `chown ${uid} ${file}, or run OrbitDock as its owner`))
    }
    const mode = stat.mode & 0o777
    if (!stat.isSocket() && (mode & 0o077) !== 0) {
      problems.push(
        failed("permissions", `${file} is readable by other users (mode ${mode.toString(8).padStart(4, "0")})`, `chmod ${wanted.toString(8)} ${file}`)
      )
    }
  }
  if (!fs.existsSync(options.dataDir)) {
    return [ok("permissions", `${options.dataDir} does not exist yet (the server creates it private)`)]
  }
  look(options.dataDir, 0o700)
  for (const name of ["token", "devices.json", "notify.json", "server.json"]) look(path.join(options.dataDir, name), 0o600)
  for (const dir of ["logs", "backups"]) look(path.join(options.dataDir, dir), 0o700)
  look(logFile(options.dataDir), 0o600)
  for (const suffix of ["", "-wal", "-shm"]) look(`${options.dbPath}${suffix}`, 0o600)
  return problems.length > 0 ? problems : [ok("permissions", `the data dir, token, logs and event log are private to you`)]
}

const size = (bytes: number) =>
  bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(1)} GiB` : `${(bytes / 1024 ** 2).toFixed(bytes < 10 * 1024 ** 2 ? 1 : 0)} MiB`

const diskCheck = (options: DoctorOptions): Finding => {
  let dir = options.dataDir
  while (!fs.existsSync(dir) && path.dirname(dir) !== dir) dir = path.dirname(dir)
  const stats = fs.statfsSync(dir)
  const free = stats.bavail * stats.bsize
  const db = fs.existsSync(options.dbPath) ? fs.statSync(options.dbPath).size : 0
  const summary = `${size(free)} free where ${options.dataDir} is; the event log is ${size(db)}`
  const fix = "free some space: with a full disk the server keeps events in memory and reports itself degraded until it can commit"
  if (free < 100 * 1024 * 1024) return failed("disk", summary, fix)
  if (free < 1024 * 1024 * 1024) return warn("disk", summary, fix)
  return ok("disk", summary)
}

const databaseCheck = (options: DoctorOptions): Finding => {
  if (!fs.existsSync(options.dbPath)) return ok("event log", `${options.dbPath} does not exist yet (the server creates it)`)
  let version: number
  try {
    const header = headerSchemaVersion(options.dbPath)
    if (header === null) {
      return failed("event log", `${options.dbPath} is not an SQLite database`, "move it aside; restore a copy with `orbitdock restore <file>`")
    }
    version = header > 0 ? header : readSchemaVersion(options.dbPath)
  } catch (error) {
    return failed("event log", `${options.dbPath} cannot be read: ${(error as Error).message}`, "check its owner and mode")
  }
  if (version > SCHEMA_VERSION) {
    return failed(
      "event log",
      `${options.dbPath} was written by a newer OrbitDock (schema ${version}; this version knows up to ${SCHEMA_VERSION})`,
      "run the newer version, or restore a copy this version can read: `orbitdock restore <file>`"
    )
  }
  const note = version < SCHEMA_VERSION ? ` (the server upgrades it to ${SCHEMA_VERSION} at its next start, after copying it)` : ""
  return ok("event log", `${options.dbPath}: schema ${version}${note}`)
}

const hooksCheck = (options: DoctorOptions, socketPath: string | null, url: string | null): Finding => {
  let settings: Record<string, unknown>
  try {
    settings = fs.existsSync(options.settingsPath) ? (JSON.parse(fs.readFileSync(options.settingsPath, "utf8")) as Record<string, unknown>) : {}
  } catch (error) {
    return failed("hooks", `${options.settingsPath} is not valid JSON: ${(error as Error).message}`, `fix the file, then \`orbitdock hooks install\``)
  }
  const targets = destinations(settings)
  const missing = HOOK_EVENTS.filter((event) => targets[event] === undefined)
  if (missing.length === HOOK_EVENTS.length) {
    return warn("hooks", `Claude Code sessions started in a terminal are not seen: no OrbitDock hooks in ${options.settingsPath}`, "orbitdock hooks install")
  }
  if (missing.length > 0) return warn("hooks", `hooks missing for ${missing.join(", ")} in ${options.settingsPath}`, "orbitdock hooks install")
  const expected = new Set([socketPath ?? path.join(options.dataDir, "server.sock"), ...(url === null ? [] : [url])])
  const elsewhere = [...new Set(Object.values(targets))].filter((target) => target !== undefined && !expected.has(target))
  if (elsewhere.length > 0) {
    return warn("hooks", `the hooks in ${options.settingsPath} point at ${elsewhere.join(", ")}, not at this server`, "orbitdock hooks install (it replaces OrbitDock's entries only)")
  }
  return ok("hooks", `installed in ${options.settingsPath}, pointing at this server`)
}

const versionOf = (bin: string, env: Readonly<Record<string, string | undefined>>): Effect.Effect<string | null> =>
  Effect.async<string | null>((resume) => {
    execFile(bin, ["--version"], { timeout: 10_000, env: env as NodeJS.ProcessEnv }, (error, stdout) => {
      const version = /\d+\.\d+\.\d+(?:[-+][\w.]+)?/.exec(String(stdout))
      resume(Effect.succeed(error !== null || version === null ? null : version[0]))
    })
  })

const agentCheck = (name: "codex" | "claude", bin: string | undefined, notFound: string, env: Readonly<Record<string, string | undefined>>) =>
  Effect.gen(function* () {
    const check = `${name}`
    const install = name === "codex" ? "npm install -g @openai/codex" : "npm install -g @anthropic-ai/claude-code"
    if (bin === undefined) return warn(check, `${notFound}: OrbitDock cannot start ${name} sessions`, `${install}, or point --${name}-bin at it`)
    const version = yield* versionOf(bin, env)
    if (version === null) return warn(check, `${bin} does not answer --version`, `reinstall it: ${install}`)
    const tested = TESTED_VERSIONS[name]
    if (version !== tested) {
      return warn(check, `${name} ${version} at ${bin}; the connector was tested with ${tested}`, `it may work; if sessions misbehave: npm install -g ${name === "codex" ? "@openai/codex" : "@anthropic-ai/claude-code"}@${tested}`)
    }
    return ok(check, `${name} ${version} at ${bin} (the version the connector was tested with)`)
  })

/** Whether something else holds the port a server started here would take. */
const portCheck = (options: DoctorOptions, running: boolean): Effect.Effect<Finding> =>
  running
    ? Effect.succeed(ok("port", "the running server holds its port"))
    : Effect.async<Finding>((resume) => {
        const probe = net.createServer()
        probe.once("error", (error: NodeJS.ErrnoException) => {
          resume(
            Effect.succeed(
              error.code === "EADDRINUSE"
                ? failed("port", `127.0.0.1:${options.port} is taken by another program: \`orbitdock serve\` would fail to listen`, `stop that program (ss -ltnp 'sport = :${options.port}' names it), or serve on another port: orbitdock serve --port ${options.port + 100}`)
                : warn("port", `cannot try 127.0.0.1:${options.port}: ${error.message}`, "check the network settings")
            )
          )
        })
        probe.listen({ host: "127.0.0.1", port: options.port, exclusive: true }, () => {
          probe.close(() => resume(Effect.succeed(ok("port", `127.0.0.1:${options.port} is free for the server`))))
        })
      })

/** Every check, in the order a person would fix things. */
export const diagnose = (options: DoctorOptions) =>
  Effect.gen(function* () {
    const findings: Array<Finding> = []
    findings.push(...(yield* serverCheck(options)))
    const running = Discovery.discover(options.dataDir)
    const file = running._tag === "Running" ? running.file : null
    findings.push(yield* portCheck(options, file !== null))
    findings.push(...permissionsCheck(options))
    findings.push(databaseCheck(options))
    findings.push(diskCheck(options))
    findings.push(yield* Service.statusFinding(options.dataDir))
    findings.push(hooksCheck(options, file?.socket ?? null, file?.url ?? null))
    const codex = yield* Effect.either(resolveBinary(options.codexBin, options.env))
    findings.push(
      yield* agentCheck("codex", codex._tag === "Right" ? codex.right.path : undefined, codex._tag === "Left" ? codex.left.message : "codex binary not found", options.env)
    )
    findings.push(yield* agentCheck("claude", findClaudeBin(options.claudeBin, options.env), "claude binary not found (--claude-bin, ORBITDOCK_CLAUDE_BIN or PATH)", options.env))
    return findings
  })

const marks: Record<Level, string> = { ok: "ok  ", warn: "warn", fail: "FAIL" }

/** The findings as lines a person reads. */
export const render = (findings: ReadonlyArray<Finding>): string =>
  findings
    .map((f) => `${marks[f.level]}  ${f.check.padEnd(12)} ${f.summary}${f.fix === undefined ? "" : `\n${" ".repeat(19)}fix: ${f.fix}`}`)
    .join("\n")

export const command = Command.make(
  "doctor",
  {
    dataDir: dataDirOption,
    db: Options.text("db").pipe(Options.optional, Options.withDescription("The event log (default <data-dir>/orbitdock.db)")),
    settings: Options.text("settings").pipe(Options.optional, Options.withDescription("Claude Code settings file (default: $CLAUDE_CONFIG_DIR or ~/.claude, settings.json)")),
    port: Options.integer("port").pipe(Options.withDefault(4000), Options.withDescription("The port a server started here would take")),
    codexBin: Options.text("codex-bin").pipe(Options.optional, Options.withDescription("Codex binary (as given to serve)")),
    claudeBin: Options.text("claude-bin").pipe(Options.optional, Options.withDescription("Claude Code binary (as given to serve)")),
    json: Options.boolean("json").pipe(Options.withDescription("Print JSON instead of text"))
  },
  (flags) =>
    Effect.gen(function* () {
      const dataDir = path.resolve(flags.dataDir)
      const findings = yield* diagnose({
        dataDir,
        dbPath: path.resolve(Option.getOrElse(flags.db, () => path.join(dataDir, "orbitdock.db"))),
        settingsPath: path.resolve(Option.getOrElse(flags.settings, () => defaultSettingsPath())),
        port: flags.port,
        codexBin: Option.getOrNull(flags.codexBin),
        claudeBin: Option.getOrNull(flags.claudeBin),
        env: process.env
      })
      yield* Console.log(flags.json ? JSON.stringify({ version: VERSION, findings }) : render(findings))
      const failures = findings.filter((f) => f.level === "fail").length
      if (!flags.json) {
        const warnings = findings.filter((f) => f.level === "warn").length
        yield* Console.log(failures + warnings === 0 ? "\nall good" : `\n${failures} to fix, ${warnings} to look at`)
      }
      if (failures > 0) process.exitCode = 1
    })
).pipe(Command.withDescription("Check what OrbitDock needs (server, permissions, disk, hooks, agents, port) and say how to fix what is wrong"))
