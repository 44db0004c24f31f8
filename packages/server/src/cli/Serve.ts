/**
 * `orbitdock serve`: builds the configuration from flags and environment and runs the server until
 * SIGINT/SIGTERM. On start it prints one JSON line to stdout (`{"event":"listening",…}`) for tools
 * and tests that start it with `--port 0`, and a human line to the log.
 */
import { Command, Options } from "@effect/cli"
import { Effect, Option } from "effect"
import * as path from "node:path"
import * as Config from "../Config.js"
import { SchemaUpgrade } from "../eventlog/schemaUpgrade.js"
import { HttpTransport } from "../http/HttpTransport.js"
import * as Layers from "../Layers.js"
import * as Logging from "../Logging.js"
import { processStartTime, removeServerFile, writeServerFile } from "./Discovery.js"
import { dataDirOption, tokenFlagWarning } from "./Shared.js"

const logLevels = ["trace", "debug", "info", "warn", "error", "none"] as const

const options = {
  host: Options.text("host").pipe(Options.withDefault("127.0.0.1"), Options.withDescription("TCP host to listen on")),
  port: Options.integer("port").pipe(
    Options.withDefault(process.env.ORBITDOCK_PORT === undefined ? 4000 : Number(process.env.ORBITDOCK_PORT)),
    Options.withDescription("TCP port (0: any free port; default: ORBITDOCK_PORT, else 4000)")
  ),
  socket: Options.text("socket").pipe(
    Options.optional,
    Options.withDescription("Unix socket path (default <data-dir>/server.sock; 'none' to disable)")
  ),
  db: Options.text("db").pipe(Options.optional, Options.withDescription("SQLite event log (default <data-dir>/orbitdock.db)")),
  dataDir: dataDirOption,
  flushMs: Options.integer("flush-ms").pipe(Options.withDefault(Config.DEFAULT_FLUSH_MS), Options.withDescription("Writer flush interval (ms)")),
  batchSize: Options.integer("batch-size").pipe(Options.withDefault(Config.DEFAULT_BATCH_SIZE), Options.withDescription("Writer batch size (events)")),
  logLevel: Options.choice("log-level", logLevels).pipe(
    Options.withDefault("info" as const),
    Options.withDescription("Least severe log lines written to stderr and <data-dir>/logs/server.log")
  ),
  token: Options.text("token").pipe(
    Options.optional,
    Options.withDescription("TCP token (default: ORBITDOCK_TOKEN or <data-dir>/token); visible to every local user in ps, prefer those")
  ),
  allowOrigin: Options.text("allow-origin").pipe(Options.repeated, Options.withDescription("Extra allowed browser origin")),
  publicHost: Options.text("public-host").pipe(Options.repeated, Options.withDescription("Extra accepted Host name")),
  evictIdleMs: Options.integer("evict-idle-ms").pipe(
    Options.withDefault(600_000),
    Options.withDescription("Idle sessions leave memory after this many ms (0: never); they reload from the log on use")
  ),
  stallAfter: Options.integer("stall-after").pipe(
    Options.withDefault(Config.DEFAULT_STALL_AFTER_MS / 1000),
    Options.withDescription("A working session silent for this many seconds needs its person: stalled (0: never)")
  ),
  maxConnections: Options.integer("max-connections").pipe(
    Options.withDefault(Config.DEFAULT_MAX_CONNECTIONS),
    Options.withDescription("Most WebSocket connections at once; more are refused with 503")
  ),
  codexBin: Options.text("codex-bin").pipe(Options.optional, Options.withDescription("Codex binary")),
  claudeBin: Options.text("claude-bin").pipe(Options.optional, Options.withDescription("Claude Code binary"))
}

type ServeFlags = Command.Command.ParseConfig<typeof options>

/** The server configuration the flags describe. */
export const configFrom = (flags: ServeFlags): Config.ServerConfigShape => {
  const dataDir = path.resolve(flags.dataDir)
  const socket = Option.getOrElse(flags.socket, () => path.join(dataDir, "server.sock"))
  if (!Number.isInteger(flags.port) || flags.port < 0 || flags.port > 65535) {
    throw new Error(`${process.env.ORBITDOCK_PORT === undefined ? "--port" : "--port (or ORBITDOCK_PORT)"} ${flags.port} is not a port`)
  }
  if (flags.flushMs < 1) throw new Error("--flush-ms must be at least 1")
  if (flags.batchSize < 1) throw new Error("--batch-size must be at least 1")
  if (flags.maxConnections < 1) throw new Error("--max-connections must be at least 1")
  if (flags.stallAfter < 0) throw new Error("--stall-after must be 0 (never) or more seconds")
  return {
    ...Config.defaults(dataDir),
    host: flags.host,
    port: flags.port,
    socketPath: socket === "none" ? null : path.resolve(socket),
    dbPath: path.resolve(Option.getOrElse(flags.db, () => path.join(dataDir, "orbitdock.db"))),
    flushMs: flags.flushMs,
    batchSize: flags.batchSize,
    logLevel: flags.logLevel,
    token: Option.getOrNull(flags.token) ?? process.env.ORBITDOCK_TOKEN?.trim() ?? null,
    allowOrigins: flags.allowOrigin,
    publicHosts: flags.publicHost,
    evictIdleMs: flags.evictIdleMs,
    maxConnections: flags.maxConnections,
    stallAfterMs: flags.stallAfter * 1000,
    codexBin: Option.getOrNull(flags.codexBin),
    claudeBin: Option.getOrNull(flags.claudeBin)
  }
}

/** Runs the server with this configuration until interrupted. */
export const serve = (config: Config.ServerConfigShape) =>
  Effect.gen(function* () {
    const transport = yield* HttpTransport
    yield* Effect.acquireRelease(
      Effect.sync(() =>
        writeServerFile(config.dataDir, {
          url: transport.url,
          port: transport.port,
          socket: transport.socketPath,
          pid: process.pid,
          pid_start: processStartTime(process.pid),
          server_id: transport.serverId,
          version: transport.version
        })
      ),
      () => Effect.sync(() => removeServerFile(config.dataDir))
    )
    // Listening on the new schema: the copy made before migrating has served its purpose.
    yield* Effect.flatMap(SchemaUpgrade, (upgrade) => upgrade.confirm)
    process.stdout.write(
      `${JSON.stringify({
        event: "listening",
        url: transport.url,
        port: transport.port,
        socket: transport.socketPath,
        server_id: transport.serverId,
        version: transport.version,
        pid: process.pid
      })}\n`
    )
    yield* Effect.logInfo(
      `OrbitDock ${transport.version} serving on ${transport.url}${transport.socketPath === null ? "" : ` and ${transport.socketPath}`}; event log ${config.dbPath}`
    )
    // Never the token: this line goes to the log file too. `orbitdock open` hands it to the browser.
    yield* Effect.logInfo(`web page: ${transport.url}/ (run \`orbitdock open\` to open it signed in)`)
    return yield* Effect.never
  }).pipe(
    Effect.provide(Layers.server(config)),
    Effect.provide(Logging.layer({ level: config.logLevel, dataDir: config.fileLogging ? config.dataDir : null })),
    Effect.scoped
  )

export const command = Command.make("serve", options, (flags) =>
  tokenFlagWarning(flags.token).pipe(
    Effect.zipRight(Effect.try({ try: () => configFrom(flags), catch: (e) => e as Error })),
    Effect.flatMap(serve)
  )
).pipe(Command.withDescription("Run the OrbitDock server (HTTP + WebSocket on TCP and a Unix socket)"))

