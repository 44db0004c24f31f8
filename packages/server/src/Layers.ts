/**
 * All wiring in one place: config → event log → approval rules → session registry (with its
 * connectors) → notifier, the rules' routes → paired devices → HTTP/WebSocket transport. `bin.ts` serves it; tests build it with a temp data dir and port 0.
 */
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import { ServerConfig, type ServerConfigShape } from "./Config.js"
import * as Config from "./Config.js"
import type { ConnectorFactory } from "./connectors/Connector.js"
import { makeClaudeConnector } from "./connectors/claude/ClaudeConnector.js"
import { makeCodexConnector } from "./connectors/codex/CodexConnector.js"
import * as Sim from "./connectors/Sim.js"
import * as Devices from "./devices/Devices.js"
import * as EventLogSqlite from "./eventlog/EventLogSqlite.js"
import * as HttpTransport from "./http/HttpTransport.js"
import * as ListeningUrl from "./http/ListeningUrl.js"
import * as Routes from "./http/Routes.js"
import * as Notifier from "./notify/Notifier.js"
import * as Rules from "./rules/Rules.js"
import * as RulesApi from "./rules/RulesApi.js"
import * as SessionRegistry from "./SessionRegistry.js"

/**
 * The connectors a server runs: `sim`, Codex and Claude Code. An agent whose binary is missing still
 * gets its watchers (sessions started in a terminal) and answers `create_session` with `unsupported`.
 */
export const connectorFactories = (config: ServerConfigShape): ReadonlyArray<ConnectorFactory> => [
  Sim.make,
  makeCodexConnector({ bin: config.codexBin }),
  makeClaudeConnector({ claudeBin: config.claudeBin })
]

export interface ServerOptions {
  readonly transport?: HttpTransport.Options
  /** Replaces the configured connectors (tests of a single connector). */
  readonly connectors?: ReadonlyArray<ConnectorFactory>
  readonly notifier?: Notifier.NotifierOptions
}

/** The data directory, private to the user (0700), created before anything writes there. */
const dataDirLayer = Layer.effectDiscard(
  Effect.flatMap(ServerConfig, (config) =>
    Effect.sync(() => {
      fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o700 })
      fs.chmodSync(config.dataDir, 0o700)
    })
  )
)

/** The whole server: everything above, listening once built. */
export const server = (config: ServerConfigShape, options: ServerOptions = {}) =>
  HttpTransport.layerWith(options.transport ?? {}).pipe(
    Layer.provideMerge(Devices.layer),
    Layer.provideMerge(RulesApi.layer),
    Layer.provideMerge(Notifier.layer(options.notifier)),
    Layer.provideMerge(
      SessionRegistry.layer(options.connectors ?? connectorFactories(config), {
        evictIdleMs: config.evictIdleMs,
        stallAfterMs: config.stallAfterMs
      })
    ),
    Layer.provideMerge(Notifier.queueLayer),
    Layer.provideMerge(Rules.layer),
    Layer.provideMerge(Routes.layer),
    Layer.provideMerge(ListeningUrl.layer),
    Layer.provideMerge(EventLogSqlite.layer),
    Layer.provideMerge(dataDirLayer),
    Layer.provideMerge(Config.layer(config))
  )
