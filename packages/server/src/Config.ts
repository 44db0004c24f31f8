/**
 * Server configuration: where to listen, where the data lives, how the writer batches. Built by the
 * CLI from flags and environment; tests build it directly.
 */
import { Context, Layer } from "effect"
import * as os from "node:os"
import * as path from "node:path"

export type LogLevelName = "trace" | "debug" | "info" | "warn" | "error" | "none"

export interface ServerConfigShape {
  /** TCP host; loopback by default. */
  readonly host: string
  /** TCP port; 0 picks a free one (tests). */
  readonly port: number
  /** Unix socket path, or null for none. */
  readonly socketPath: string | null
  /** Data directory (0700): token, logs, default database. */
  readonly dataDir: string
  /** SQLite file of the event log. */
  readonly dbPath: string
  /** The writer flushes after this many milliseconds… */
  readonly flushMs: number
  /** …or this many events, whichever comes first. */
  readonly batchSize: number
  readonly logLevel: LogLevelName
  /** A token given on the command line or in ORBITDOCK_TOKEN; otherwise `<dataDir>/token`. */
  readonly token: string | null
  /** Extra origins allowed besides the server's own (`--allow-origin`). */
  readonly allowOrigins: ReadonlyArray<string>
  /** Non-loopback Host names accepted (`--public-host`). */
  readonly publicHosts: ReadonlyArray<string>
  /** Binaries of the agents; null: look up ORBITDOCK_*_BIN, then PATH. */
  readonly codexBin: string | null
  readonly claudeBin: string | null
  /** Write JSON log lines to `<dataDir>/logs/server.log`. */
  readonly fileLogging: boolean
  /** Idle sessions leave memory after this long (0: never); they are rehydrated from the log on use. */
  readonly evictIdleMs: number
  /** Most WebSocket connections at once; more are refused (`503`). */
  readonly maxConnections: number
  /** A working session silent this long is `stalled` (0: never). */
  readonly stallAfterMs: number
}

export class ServerConfig extends Context.Tag("@orbitdock/server/ServerConfig")<ServerConfig, ServerConfigShape>() {}

export const defaultDataDir = (): string => path.join(os.homedir(), ".orbitdock")

/** How long an appended event may wait for its batch (a command's events go at once). */
export const DEFAULT_FLUSH_MS = 100
/**
 * Events per writer batch. 500, not 50: measured at 20,000 single-event emits/s (bench scenario 3)
 * the writer thread needs ~55 % of a core at 50 and ~34 % at 500, the main thread slightly less,
 * and on two cores every point the writer does not use is one the UI path is not preempted for.
 * Durability latency does not change below ~5,000 events/s (the flush timer decides there).
 */
export const DEFAULT_BATCH_SIZE = 500

/**
 * WebSocket connections at once. A local server has a handful of clients (the page, the CLI, a few
 * tools); the cap bounds what a runaway client can hold (each connection may buffer a 2 MiB frame).
 */
export const DEFAULT_MAX_CONNECTIONS = 512

/**
 * How long a turn may stay silent before its session asks for its person (`stalled`). Long enough
 * for a test suite or a build run by the agent, short enough that a hung agent is not left for long.
 */
export const DEFAULT_STALL_AFTER_MS = 5 * 60_000

/** The defaults of `orbitdock serve`, for a data directory. */
export const defaults = (dataDir: string = defaultDataDir()): ServerConfigShape => ({
  host: "127.0.0.1",
  port: 4000,
  socketPath: path.join(dataDir, "server.sock"),
  dataDir,
  dbPath: path.join(dataDir, "orbitdock.db"),
  flushMs: DEFAULT_FLUSH_MS,
  batchSize: DEFAULT_BATCH_SIZE,
  logLevel: "info",
  token: null,
  allowOrigins: [],
  publicHosts: [],
  codexBin: null,
  claudeBin: null,
  fileLogging: true,
  evictIdleMs: 10 * 60_000,
  maxConnections: DEFAULT_MAX_CONNECTIONS,
  stallAfterMs: DEFAULT_STALL_AFTER_MS
})

export const layer = (config: ServerConfigShape): Layer.Layer<ServerConfig> => Layer.succeed(ServerConfig, config)
