/** Options shared by the CLI's commands. */
import { Options } from "@effect/cli"
import { ensureServer, ServerStartError } from "@orbitdock/client-sdk/server-manager"
import { Console, Effect, Option } from "effect"
import * as path from "node:path"
import { defaultDataDir } from "../Config.js"
import { selfCommand } from "./SelfCommand.js"
import { CliError, resolveEndpoint } from "./ServerClient.js"

export const dataDirOption = Options.text("data-dir").pipe(
  Options.withDefault(process.env.ORBITDOCK_DATA_DIR ?? defaultDataDir()),
  Options.withDescription("Data directory (token, socket, logs, default database)")
)

export const startOption = Options.boolean("start").pipe(
  Options.withDescription("Start the server on the data dir when none runs (it keeps running after this command)")
)

/** With `--start`: the data dir's server, started (detached, by this same orbitdock) when none answers. */
export const startIfAsked = (start: boolean, dataDir: string): Effect.Effect<void, CliError> =>
  start
    ? Effect.tryPromise({
        try: () => ensureServer({ dataDir: path.resolve(dataDir), command: selfCommand(), restart: false }),
        catch: (e) => new CliError({ message: e instanceof ServerStartError ? e.message : `could not start the server: ${String(e)}` })
      }).pipe(
        Effect.flatMap((server) => (server.started ? Console.error(`orbitdock: started a server on ${server.dataDir} (pid ${server.pid()})`) : Effect.void))
      )
    : Effect.void

/** How client commands find the server. */
export const clientOptions = {
  dataDir: dataDirOption,
  url: Options.text("url").pipe(Options.optional, Options.withDescription("Server URL (default: the running server's Unix socket, else the URL it recorded in <data-dir>/server.json)")),
  token: Options.text("token").pipe(
    Options.optional,
    Options.withDescription("Token for TCP (default: ORBITDOCK_TOKEN or <data-dir>/token); visible to every local user in ps, prefer those")
  ),
  start: startOption
}

/**
 * A token given as `--token` sits in the command line, which every local user can read (`ps`,
 * /proc/<pid>/cmdline): say so, once, on stderr. ORBITDOCK_TOKEN (readable by the same user only)
 * and the token file are not.
 */
export const tokenFlagWarning = (token: Option.Option<string>): Effect.Effect<void> =>
  Option.isNone(token)
    ? Effect.void
    : Console.error(
        "orbitdock: warning: --token is visible to every local user (ps, /proc/<pid>/cmdline); set ORBITDOCK_TOKEN or use <data-dir>/token instead"
      )

export const endpointOf = (flags: {
  readonly dataDir: string
  readonly url: Option.Option<string>
  readonly token: Option.Option<string>
  readonly start?: boolean
}) =>
  Effect.zipRight(
    Effect.zipRight(tokenFlagWarning(flags.token), startIfAsked(flags.start === true && Option.isNone(flags.url), flags.dataDir)),
    resolveEndpoint({ dataDir: path.resolve(flags.dataDir), url: Option.getOrNull(flags.url), token: Option.getOrNull(flags.token) })
  )
