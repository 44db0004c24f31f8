/**
 * Where the server's logs go: human-readable lines to stderr and JSON lines to
 * `<dataDir>/logs/server.log` (for tools and bug reports; 0600, in a 0700 directory). The level
 * applies to both. No line carries the token (the startup line says how to open the page instead).
 */
import { PlatformLogger } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { Effect, Layer, Logger, LogLevel } from "effect"
import * as path from "node:path"
import type { LogLevelName } from "./Config.js"
import * as PrivateFiles from "./internal/privateFiles.js"

export const toLogLevel = (name: LogLevelName): LogLevel.LogLevel => {
  switch (name) {
    case "trace":
      return LogLevel.Trace
    case "debug":
      return LogLevel.Debug
    case "info":
      return LogLevel.Info
    case "warn":
      return LogLevel.Warning
    case "error":
      return LogLevel.Error
    case "none":
      return LogLevel.None
  }
}

export const logFile = (dataDir: string): string => path.join(dataDir, "logs", "server.log")

/** Replaces the default logger: stderr (pretty) and, when `dataDir` is given, a JSON-lines file. */
export const layer = (options: { readonly level: LogLevelName; readonly dataDir: string | null }): Layer.Layer<never> => {
  const stderr = Logger.prettyLogger({ stderr: true, colors: "auto" })
  const loggers =
    options.dataDir === null
      ? Logger.replace(Logger.defaultLogger, stderr)
      : Logger.replaceScoped(
          Logger.defaultLogger,
          Effect.gen(function* () {
            const file = logFile(options.dataDir!)
            PrivateFiles.ensurePrivateDir(path.dirname(file))
            // Created 0600 before the logger appends to it (the umask would leave it 0644).
            PrivateFiles.ensurePrivateFile(file)
            const json = yield* Logger.jsonLogger.pipe(PlatformLogger.toFile(file, { flag: "a" }))
            return Logger.zip(stderr, json)
          })
        ).pipe(Layer.provide(NodeFileSystem.layer), Layer.orDie)
  return Layer.merge(loggers, Logger.minimumLogLevel(toLogLevel(options.level)))
}
