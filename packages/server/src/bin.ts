#!/usr/bin/env -S node --single-threaded-gc
/**
 * The `orbitdock` command. Failures print one clear line and exit non-zero; they never dump a stack
 * for an expected problem (server unreachable, unknown session, bad flag). The shebang passes
 * `SERVER_NODE_FLAGS` (nodeFlags.ts): Node options cannot be set from inside the process.
 */
import { Command, ValidationError } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Console, Effect } from "effect"
import * as BackupCommands from "./cli/BackupCommands.js"
import * as ClientCommands from "./cli/ClientCommands.js"
import * as DeviceCommands from "./cli/DeviceCommands.js"
import * as Doctor from "./cli/Doctor.js"
import { withCleanHelp } from "./cli/Help.js"
import * as Hooks from "./cli/hooks.js"
import * as InboxCommands from "./cli/InboxCommands.js"
import * as NotifyCommands from "./cli/NotifyCommands.js"
import * as Open from "./cli/Open.js"
import * as RulesCommands from "./cli/RulesCommands.js"
import * as Serve from "./cli/Serve.js"
import * as Service from "./cli/Service.js"
import { VERSION } from "./http/HttpTransport.js"

const orbitdock = Command.make("orbitdock").pipe(
  Command.withDescription("OrbitDock: mission control for AI coding agents"),
  Command.withSubcommands([
    Serve.command,
    ClientCommands.sessions,
    ClientCommands.status,
    ClientCommands.replay,
    ClientCommands.tail,
    ClientCommands.approve,
    InboxCommands.command,
    NotifyCommands.command,
    RulesCommands.command,
    DeviceCommands.pair,
    DeviceCommands.devices,
    Open.command,
    Hooks.command,
    Service.command,
    Doctor.command,
    BackupCommands.backup,
    BackupCommands.restore
  ])
)

const cli = Command.run(orbitdock, { name: "orbitdock", version: VERSION })

const exitWith = (message: string | null) =>
  (message === null ? Effect.void : Console.error(`orbitdock: ${message}`)).pipe(
    Effect.zipRight(Effect.sync(() => (process.exitCode = 1)))
  )

cli(process.argv).pipe(
  withCleanHelp,
  // @effect/cli has already printed what was wrong with the arguments.
  Effect.catchIf(ValidationError.isValidationError, () => exitWith(null)),
  Effect.catchAll((e: unknown) => exitWith(e instanceof Error ? e.message : String(e))),
  Effect.provide(NodeContext.layer),
  NodeRuntime.runMain({ disablePrettyLogger: true })
)
