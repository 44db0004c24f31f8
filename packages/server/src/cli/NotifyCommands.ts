/**
 * `orbitdock notify`: the channels notifications go to (`add webhook|ntfy|slack|desktop`, `list`,
 * `remove`, `test`), the quiet hours, and what became of the latest notifications (`deliveries`).
 * A thin client of the server's `/api/notify` routes: the server owns the settings.
 */
import { Args, Command, Options } from "@effect/cli"
import { AttentionReason } from "@orbitdock/domain"
import { Console, Effect, Option } from "effect"
import { CliError, getJson, postJson } from "./ServerClient.js"
import { clientOptions, endpointOf } from "./Shared.js"

const json = Options.boolean("json").pipe(Options.withDescription("Print JSON instead of text"))
const reasonsOption = Options.text("reasons").pipe(
  Options.optional,
  Options.withDescription(`Only these reasons, comma-separated (${AttentionReason.literals.join(", ")}; default: all)`)
)
const nameOption = Options.text("name").pipe(Options.optional, Options.withDescription("A name to tell channels apart"))

interface ChannelView {
  readonly id: string
  readonly kind: string
  readonly url?: string
  readonly name?: string
  readonly reasons?: ReadonlyArray<string>
  readonly has_secret: boolean
}

const reasonsOf = (option: Option.Option<string>): Effect.Effect<ReadonlyArray<string> | undefined, CliError> => {
  if (Option.isNone(option)) return Effect.succeed(undefined)
  const reasons = option.value.split(",").map((r) => r.trim()).filter((r) => r !== "")
  const unknown = reasons.filter((r) => !(AttentionReason.literals as ReadonlyArray<string>).includes(r))
  return unknown.length > 0
    ? Effect.fail(new CliError({ message: `unknown reason(s): ${unknown.join(", ")} (known: ${AttentionReason.literals.join(", ")})` }))
    : Effect.succeed(reasons)
}

const channelLine = (c: ChannelView): string =>
  [c.id, c.kind, c.name ?? "", c.url ?? "", c.has_secret ? "(secret)" : "", c.reasons ? `reasons: ${c.reasons.join(",")}` : ""]
    .filter((part) => part !== "")
    .join("  ")

const addKind = (kind: "webhook" | "ntfy" | "slack") =>
  Command.make(
    kind,
    {
      ...clientOptions,
      target: Args.text({ name: "url" }).pipe(
        Args.withDescription(kind === "ntfy" ? "The topic's URL, e.g. https://ntfy.sh/my-topic" : "Where to POST")
      ),
      ...(kind === "slack"
        ? {}
        : {
            secret: Options.text("secret").pipe(
              Options.optional,
              Options.withDescription(kind === "webhook" ? "Signs each body: X-OrbitDock-Signature: sha256=<HMAC>" : "An ntfy access token")
            )
          }),
      reasons: reasonsOption,
      name: nameOption
    },
    (flags) =>
      Effect.gen(function* () {
        const endpoint = yield* endpointOf(flags)
        const reasons = yield* reasonsOf(flags.reasons)
        const secret = "secret" in flags ? Option.getOrUndefined(flags.secret as Option.Option<string>) : undefined
        const channel = (yield* postJson(endpoint, "/api/notify/channels", {
          kind,
          url: flags.target,
          ...(secret === undefined ? {} : { secret }),
          ...(reasons === undefined ? {} : { reasons }),
          ...(Option.isSome(flags.name) ? { name: flags.name.value } : {})
        })) as ChannelView
        yield* Console.log(`added ${channelLine(channel)}`)
      })
  ).pipe(Command.withDescription(`Notify through ${kind === "webhook" ? "a webhook (JSON POST)" : kind === "ntfy" ? "an ntfy topic" : "a Slack-style incoming webhook"}`))

const addDesktop = Command.make("desktop", { ...clientOptions, reasons: reasonsOption, name: nameOption }, (flags) =>
  Effect.gen(function* () {
    const endpoint = yield* endpointOf(flags)
    const reasons = yield* reasonsOf(flags.reasons)
    const channel = (yield* postJson(endpoint, "/api/notify/channels", {
      kind: "desktop",
      ...(reasons === undefined ? {} : { reasons }),
      ...(Option.isSome(flags.name) ? { name: flags.name.value } : {})
    })) as ChannelView
    yield* Console.log(`added ${channelLine(channel)}`)
  })
).pipe(Command.withDescription("Notify on this machine's desktop (notify-send on Linux, osascript on macOS)"))

const add = Command.make("add").pipe(
  Command.withDescription("Add a channel"),
  Command.withSubcommands([addKind("webhook"), addKind("ntfy"), addKind("slack"), addDesktop])
)

const list = Command.make("list", { ...clientOptions, json }, (flags) =>
  Effect.gen(function* () {
    const endpoint = yield* endpointOf(flags)
    const settings = (yield* getJson(endpoint, "/api/notify")) as {
      channels: ReadonlyArray<ChannelView>
      quiet_hours?: { from: string; to: string }
    }
    if (flags.json) return yield* Console.log(JSON.stringify(settings, null, 2))
    yield* Console.log(
      [
        ...(settings.channels.length === 0 ? ["no channels: add one with `orbitdock notify add …`"] : settings.channels.map(channelLine)),
        settings.quiet_hours === undefined ? "no quiet hours" : `quiet hours: ${settings.quiet_hours.from}–${settings.quiet_hours.to}`
      ].join("\n")
    )
  })
).pipe(Command.withDescription("List the channels and the quiet hours"))

const idArg = Args.text({ name: "channel_id" }).pipe(Args.withDescription("The channel's id (as `notify list` shows it)"))

const remove = Command.make("remove", { ...clientOptions, id: idArg }, (flags) =>
  Effect.gen(function* () {
    yield* postJson(yield* endpointOf(flags), "/api/notify/channels/remove", { id: flags.id })
    yield* Console.log(`removed ${flags.id}`)
  })
).pipe(Command.withDescription("Remove a channel"))

const test = Command.make("test", { ...clientOptions, id: idArg }, (flags) =>
  Effect.gen(function* () {
    const answer = (yield* postJson(yield* endpointOf(flags), "/api/notify/test", { id: flags.id })) as { detail: string }
    yield* Console.log(`sent (${answer.detail})`)
  })
).pipe(Command.withDescription("Send a test notification to a channel now"))

const quiet = Command.make(
  "quiet",
  {
    ...clientOptions,
    from: Args.text({ name: "from" }).pipe(Args.withDescription("HH:MM, or `off`")),
    to: Args.text({ name: "to" }).pipe(Args.optional, Args.withDescription("HH:MM"))
  },
  (flags) =>
    Effect.gen(function* () {
      const endpoint = yield* endpointOf(flags)
      if (flags.from === "off") {
        yield* postJson(endpoint, "/api/notify/quiet", { off: true })
        return yield* Console.log("quiet hours off")
      }
      if (Option.isNone(flags.to)) return yield* Effect.fail(new CliError({ message: "give the end of the quiet hours too (HH:MM)" }))
      yield* postJson(endpoint, "/api/notify/quiet", { from: flags.from, to: flags.to.value })
      yield* Console.log(`quiet from ${flags.from} to ${flags.to.value} (this machine's time)`)
    })
).pipe(Command.withDescription("No notifications between two times of day (`quiet 22:00 07:00`, `quiet off`)"))

const deliveries = Command.make("deliveries", { ...clientOptions, json }, (flags) =>
  Effect.gen(function* () {
    const answer = (yield* getJson(yield* endpointOf(flags), "/api/notify/deliveries")) as {
      deliveries: ReadonlyArray<{ notification_id: string; channel_id: string; status: string; attempts: number; updated_at: string; detail: string }>
    }
    if (flags.json) return yield* Console.log(JSON.stringify(answer, null, 2))
    if (answer.deliveries.length === 0) return yield* Console.log("nothing delivered yet")
    for (const d of answer.deliveries) {
      yield* Console.log(`${d.updated_at}  ${d.status.padEnd(8)}  ${d.channel_id}  ${d.notification_id}  (${d.attempts} attempt(s): ${d.detail})`)
    }
  })
).pipe(Command.withDescription("What became of the latest notifications on each channel"))

export const command = Command.make("notify").pipe(
  Command.withDescription("Where OrbitDock tells you that a session needs you"),
  Command.withSubcommands([add, list, remove, test, quiet, deliveries])
)
