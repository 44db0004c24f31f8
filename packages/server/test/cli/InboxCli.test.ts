/**
 * `orbitdock inbox` and `orbitdock notify` against a real server process (over its Unix socket, as
 * a person on the machine runs them): what they print, and what they change on the server.
 */
import { spawn } from "node:child_process"
import { afterEach, describe, expect, it } from "vitest"
import { bundle, runCli } from "../helpers/cli.js"
import { serverKeeper } from "../helpers/serverProcess.js"
import type { TestClient } from "../helpers/testServer.js"

const keeper = serverKeeper()
afterEach(() => keeper.stopAll())

const cli = runCli

const create = async (client: TestClient, prompt: string): Promise<string> => {
  const ack = await client.request({ type: "create_session", provider: "sim", cwd: "/work", prompt })
  return (ack as { session_id: string }).session_id
}

describe("orbitdock inbox", () => {
  it("lists, watches, marks and approves in batch", async () => {
    const dataDir = keeper.dataDir("orbitdock-inbox-cli-")
    const server = await keeper.start(dataDir)
    const client = await server.connect()
    await client.request({ type: "subscribe_inbox" })
    const a = await create(client, "/exec make a")
    const b = await create(client, "/exec make b")
    const c = await create(client, "plain")
    for (const id of [a, b, c]) await client.waitFor((m) => m.type === "inbox_changed" && m.session_id === id && m.item !== null)

    const listed = cli(dataDir, ["inbox", "--json"])
    expect(listed.status).toBe(0)
    const items = JSON.parse(listed.stdout).items as Array<{ session_id: string; reason: string }>
    expect(items.map((i) => [i.session_id, i.reason])).toEqual([
      [a, "approval"],
      [b, "approval"],
      [c, "turn_finished"]
    ])
    const table = cli(dataDir, ["inbox"]).stdout
    expect(table.split("\n")[0]).toMatch(/^WAITING\s+REASON\s+SESSION\s+TITLE\s+ASKS/)
    expect(table).toContain("run: make a *")

    // --watch follows it: the current inbox first, then each change.
    const watcher = spawn(process.execPath, [bundle, "inbox", "--watch", "--json", "--data-dir", dataDir], { stdio: ["ignore", "pipe", "pipe"] })
    const lines: Array<string> = []
    let buffered = ""
    const seenLine = (test: (m: any) => boolean) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`watch printed: ${lines.join("\n")}`)), 10_000)
        const check = () => {
          if (lines.some((l) => test(JSON.parse(l)))) {
            clearTimeout(timer)
            resolve()
          } else setTimeout(check, 50)
        }
        check()
      })
    watcher.stdout.on("data", (chunk: Buffer) => {
      buffered += chunk.toString()
      const parts = buffered.split("\n")
      buffered = parts.pop()!
      lines.push(...parts.filter((p) => p !== ""))
    })
    await seenLine((m) => m.type === "inbox" && m.items.length === 3)

    expect(cli(dataDir, ["inbox", "seen", c]).stdout).toContain(`${c}: seen`)
    await seenLine((m) => m.type === "inbox_changed" && m.session_id === c && m.item?.seen === true)
    expect(cli(dataDir, ["inbox", "snooze", c, "2h"]).status).toBe(0)
    await seenLine((m) => m.type === "inbox_changed" && m.session_id === c && m.item === null)

    const approved = cli(dataDir, ["inbox", "approve", "--all"])
    expect(approved.status).toBe(0)
    expect(approved.stdout.trim().split("\n").sort()).toEqual([
      expect.stringMatching(new RegExp(`^${a} req_\\S+: approved$`)),
      expect.stringMatching(new RegExp(`^${b} req_\\S+: approved$`))
    ].sort())
    await seenLine((m) => m.type === "inbox_changed" && m.session_id === a && m.item === null)
    watcher.kill()

    const none = cli(dataDir, ["inbox", "approve", a])
    expect(none.status).toBe(1)
    expect(none.stderr).toContain(`no pending approval in session(s) ${a}`)
    expect(cli(dataDir, ["inbox", "snooze", c, "soon"]).stderr).toContain("not a duration or a time: soon")
  })
})

describe("orbitdock notify", () => {
  it("adds, lists, tests and removes channels, and sets quiet hours", async () => {
    const dataDir = keeper.dataDir("orbitdock-notify-cli-")
    await keeper.start(dataDir)
    const added = cli(dataDir, ["notify", "add", "webhook", "http://127.0.0.1:9/hook", "--secret", "k", "--reasons", "approval,error", "--name", "ci"])
    expect(added.status).toBe(0)
    const id = /added (ch_[0-9a-f]+)/.exec(added.stdout)![1]!
    expect(added.stdout).toContain("(secret)")
    expect(cli(dataDir, ["notify", "add", "webhook", "http://x", "--reasons", "sometimes"]).stderr).toContain("unknown reason(s): sometimes")
    expect(cli(dataDir, ["notify", "quiet", "22:00", "07:00"]).status).toBe(0)
    const list = JSON.parse(cli(dataDir, ["notify", "list", "--json"]).stdout)
    expect(list).toEqual({
      channels: [expect.objectContaining({ id, kind: "webhook", name: "ci", reasons: ["approval", "error"], has_secret: true })],
      quiet_hours: { from: "22:00", to: "07:00" }
    })
    expect(JSON.stringify(list)).not.toContain('"k"')
    // Nothing listens on port 9: the test says so.
    const tested = cli(dataDir, ["notify", "test", id])
    expect(tested.status).toBe(1)
    expect(tested.stderr).toContain("conflict: not sent:")
    expect(cli(dataDir, ["notify", "remove", id]).stdout).toContain(`removed ${id}`)
    expect(cli(dataDir, ["notify", "remove", id]).stderr).toContain(`not_found: no channel ${id}`)
    expect(cli(dataDir, ["notify", "list"]).stdout).toContain("no channels")
  })
})
