/** Options shared by the CLI's commands. */
import { Options } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import * as path from "node:path"
import { defaultDataDir } from "../Config.js"
import { resolveEndpoint } from "./ServerClient.js"

export const dataDirOption = Options.text("data-dir").pipe(
  Options.withDefault(process.env.ORBITDOCK_DATA_DIR ?? defaultDataDir()),
  Options.withDescription("Data directory (token, socket, logs, default database)")
)

/** How client commands find the server. */
export const clientOptions = {
  dataDir: dataDirOption,
  url: Options.text("url").pipe(Options.optional, Options.withDescription("Server URL (default: the running server's Unix socket, else the URL it recorded in <data-dir>/server.json)")),
  token: Options.text("token").pipe(
    Options.optional,
    Options.withDescription("Token for TCP (default: ORBITDOCK_TOKEN or <data-dir>/token); visible to every local user in ps, prefer those")
  )
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
}) => Effect.zipRight(tokenFlagWarning(flags.token), resolveEndpoint({ dataDir: path.resolve(flags.dataDir), url: Option.getOrNull(flags.url), token: Option.getOrNull(flags.token) }))
