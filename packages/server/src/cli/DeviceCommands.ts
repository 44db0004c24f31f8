/**
 * `orbitdock pair`: a QR code (and its link and code) that gives the phone which scans it a token of
 * its own, then waits until it did. `orbitdock devices [revoke <id>]`: the paired devices, and how
 * to cut one off. Thin clients of `/api/devices/…`: the server owns the devices.
 */
import { Args, Command, Options } from "@effect/cli"
import { Console, Duration, Effect, Option } from "effect"
import * as Qr from "../devices/Qr.js"
import { CliError, type Endpoint, getJson, postJson } from "./ServerClient.js"
import { clientOptions, endpointOf } from "./Shared.js"

const json = Options.boolean("json").pipe(Options.withDescription("Print JSON instead of text"))

interface DeviceView {
  readonly id: string
  readonly name: string
  readonly created_at: string
  readonly last_seen_at: string | null
  readonly current?: boolean
}

interface Offer {
  readonly code: string
  readonly expires_at: string
  readonly url: string
  readonly reachable: boolean
}

const listDevices = (endpoint: Endpoint) =>
  getJson(endpoint, "/api/devices").pipe(Effect.map((answer) => (answer as { devices: ReadonlyArray<DeviceView> }).devices))

/** Polls until a device that was not there before appears, or the code expires. */
const awaitPairing = (endpoint: Endpoint, before: ReadonlySet<string>, expiresAt: number) =>
  Effect.gen(function* () {
    while (Date.now() < expiresAt) {
      yield* Effect.sleep(Duration.seconds(1))
      const paired = (yield* listDevices(endpoint)).find((device) => !before.has(device.id))
      if (paired !== undefined) return paired
    }
    return yield* Effect.fail(new CliError({ message: "the pairing code expired before a device used it; run `orbitdock pair` again" }))
  })

export const pair = Command.make(
  "pair",
  {
    ...clientOptions,
    json,
    name: Options.text("name").pipe(Options.optional, Options.withDescription("The device's name (default: what its browser says)")),
    linkBase: Options.text("link-base").pipe(
      Options.optional,
      Options.withDescription("The address the phone opens, e.g. https://box.tailnet.ts.net (default: the first --public-host, else this server's address)")
    ),
    noWait: Options.boolean("no-wait").pipe(Options.withDescription("Print the code and return instead of waiting for the device"))
  },
  (flags) =>
    Effect.gen(function* () {
      const endpoint = yield* endpointOf(flags)
      const before = new Set((yield* listDevices(endpoint)).map((device) => device.id))
      const offer = (yield* postJson(endpoint, "/api/devices/pair", {
        ...(Option.isSome(flags.name) ? { name: flags.name.value } : {}),
        ...(Option.isSome(flags.linkBase) ? { base_url: flags.linkBase.value } : {})
      })) as Offer
      if (flags.json) {
        const { code, expires_at, url, reachable } = offer
        yield* Console.log(JSON.stringify({ code, expires_at, url, reachable }, null, 2))
      } else {
        yield* Console.log(yield* Qr.terminal(offer.url).pipe(Effect.mapError((error) => new CliError({ message: error.message }))))
        yield* Console.log(`Scan this with the phone's camera, or open ${offer.url}`)
        yield* Console.log(`Pairing code ${offer.code}, valid once until ${new Date(offer.expires_at).toLocaleTimeString()}`)
        if (!offer.reachable) {
          yield* Console.error(
            "orbitdock: warning: this link names a loopback address, which a phone cannot open: serve with --host 0.0.0.0 --public-host <this machine's name>, or pass --link-base"
          )
        }
      }
      if (flags.noWait) return
      if (!flags.json) yield* Console.log("Waiting for the device… (Ctrl-C to stop; the code stays valid until it expires)")
      const device = yield* awaitPairing(endpoint, before, Date.parse(offer.expires_at))
      yield* Console.log(flags.json ? JSON.stringify({ paired: device }) : `paired ${device.name} (${device.id}); \`orbitdock devices revoke ${device.id}\` cuts it off`)
    })
).pipe(Command.withDescription("Pair a phone (or another browser) with a QR code: it gets a token of its own, revocable on its own"))

const revoke = Command.make(
  "revoke",
  { ...clientOptions, id: Args.text({ name: "device_id" }).pipe(Args.withDescription("The device's id (as `orbitdock devices` shows it)")) },
  (flags) =>
    Effect.gen(function* () {
      const answer = (yield* postJson(yield* endpointOf(flags), "/api/devices/revoke", { id: flags.id })) as { revoked: DeviceView }
      yield* Console.log(`revoked ${answer.revoked.name} (${answer.revoked.id}): its token no longer works and its connections are closed`)
    })
).pipe(Command.withDescription("Cut a paired device off (a lost phone), leaving the others paired"))

const deviceLine = (device: DeviceView): string =>
  [
    device.id,
    device.name,
    `paired ${device.created_at}`,
    device.last_seen_at === null ? "never seen" : `last seen ${device.last_seen_at}`,
    device.current === true ? "(this device)" : ""
  ]
    .filter((part) => part !== "")
    .join("  ")

export const devices = Command.make("devices", { ...clientOptions, json }, (flags) =>
  Effect.gen(function* () {
    const list = yield* listDevices(yield* endpointOf(flags))
    if (flags.json) return yield* Console.log(JSON.stringify({ devices: list }, null, 2))
    yield* Console.log(list.length === 0 ? "no paired devices: pair one with `orbitdock pair`" : list.map(deviceLine).join("\n"))
  })
).pipe(Command.withDescription("The paired devices (phones, other browsers), each with its own token"), Command.withSubcommands([revoke]))
