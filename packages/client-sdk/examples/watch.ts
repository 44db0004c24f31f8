/**
 * A live watcher: prints every session, then one line per new session and per status change, until
 * Ctrl-C. Reconnects by itself; after a server restart the list is refetched and compared again.
 *
 *   node packages/client-sdk/examples/dist/watch.js
 */
import type { Client } from "@orbitdock/client-sdk"
import { connectFromEnvironment } from "./connection.js"

type Summary = ReturnType<Client.Client["sessions"]>[number]

const describe = (s: Summary) =>
  [s.id, s.provider, s.status + (s.attention ? " (needs you)" : ""), s.title ?? "", s.cwd].join("  ")

const client = await connectFromEnvironment()
const sessions = await client.subscribeList()
console.log(`${sessions.length} session(s)`)
for (const s of sessions) console.log(`  ${describe(s)}`)

let previous = new Map(sessions.map((s) => [s.id, s] as const))
client.on("change", (mirror) => {
  if (mirror.list === undefined) return
  for (const s of mirror.list.values()) {
    const before = previous.get(s.id)
    if (before === undefined) console.log(`+ ${describe(s)}`)
    else if (before.status !== s.status) console.log(`  ${s.id}  ${before.status} -> ${s.status}`)
    if (before !== undefined && before.attention !== s.attention) {
      console.log(`  ${s.id}  ${s.attention ? "needs you" : "no longer needs you"}`)
    }
  }
  previous = new Map(mirror.list)
})
client.on("notice", (notice) => {
  if (notice._tag === "Disconnected") console.log("! disconnected, reconnecting…")
  if (notice._tag === "ServerRestarted") console.log("! the server restarted; list refetched")
})

const stop = () => void client.close().then(() => process.exit(0))
process.on("SIGINT", stop)
process.on("SIGTERM", stop)
