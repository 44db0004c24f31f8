/** Options shared by the CLI's commands. */
import { Options } from "@effect/cli"
import { Effect, Option } from "effect"
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
  url: Options.text("url").pipe(Options.optional, Options.withDescription("Server URL (default: the Unix socket, else http://127.0.0.1:4000)")),
  token: Options.text("token").pipe(Options.optional, Options.withDescription("Token for TCP (default: ORBITDOCK_TOKEN or <data-dir>/token)"))
}

export const endpointOf = (flags: {
  readonly dataDir: string
  readonly url: Option.Option<string>
  readonly token: Option.Option<string>
}) =>
  Effect.sync(() =>
    resolveEndpoint({ dataDir: path.resolve(flags.dataDir), url: Option.getOrNull(flags.url), token: Option.getOrNull(flags.token) })
  )
