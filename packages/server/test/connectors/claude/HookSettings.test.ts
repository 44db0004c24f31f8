import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { install, uninstall } from "../../../src/cli/hooks.js"
import { HOOK_EVENTS, hookEntry, installed, withOurs, withoutOurs } from "../../../src/connectors/claude/HookSettings.js"

const target = {
  transport: "http" as const,
  url: "http://127.0.0.1:4000",
  token: "t".repeat(64),
  socketPath: "/home/u/.orbitdock/server.sock",
  permissionTimeoutS: 120
}
const unixTarget = { ...target, transport: "unix" as const, url: null, token: null }

const userSettings = {
  model: "opus",
  hooks: {
    PreToolUse: [{ matcher: "Bash", hooks: [{ type: "command", command: "my-linter" }] }],
    Notification: [{ hooks: [{ type: "command", command: "notify-send hi" }] }]
  }
}

describe("HookSettings", () => {
  it("uses native http hooks with the token, and curl over the Unix socket for SessionStart", () => {
    expect(hookEntry("Stop", target)).toEqual({
      type: "http",
      url: "http://127.0.0.1:4000/hook?orbitdock=1",
      headers: { Authorization: `Bearer ${target.token}` },
      timeout: 10
    })
    expect(hookEntry("PermissionRequest", target)).toMatchObject({ type: "http", timeout: 120 })
    const start = hookEntry("SessionStart", target)
    expect(start.type).toBe("command")
    expect(start.command).toContain("--unix-socket '/home/u/.orbitdock/server.sock'")
    expect(start.command).toContain("http://localhost/hook?orbitdock=1")
    // The shell's parent is claude: its pid lets OrbitDock notice a claude that dies without a SessionEnd.
    expect(start.command).toContain(`-H "x-claude-pid: $PPID"`)
    expect(hookEntry("Stop", unixTarget).type).toBe("command")
  })

  it("over the Unix socket (the default), every event is a curl command hook with no token", () => {
    for (const event of HOOK_EVENTS) {
      const entry = hookEntry(event, unixTarget)
      expect(entry.type).toBe("command")
      expect(entry.command).toContain("--unix-socket '/home/u/.orbitdock/server.sock'")
      expect(JSON.stringify(entry)).not.toContain("Bearer")
    }
    expect(hookEntry("PermissionRequest", unixTarget)).toMatchObject({ timeout: 125 })
    expect(Object.values(installed(withOurs({}, unixTarget)))).toEqual(HOOK_EVENTS.map(() => "unix"))
  })

  it("merges without clobbering the user's hooks, idempotently, and uninstalls only ours", () => {
    const merged = withOurs(userSettings, target)
    expect(merged.model).toBe("opus")
    const hooks = merged.hooks as Record<string, Array<{ hooks: Array<{ command?: string }> }>>
    expect(hooks.PreToolUse![0]).toEqual(userSettings.hooks.PreToolUse[0])
    expect(hooks.PreToolUse).toHaveLength(2)
    expect(hooks.Notification).toEqual(userSettings.hooks.Notification)
    expect(Object.keys(installed(merged)).sort()).toEqual([...HOOK_EVENTS].sort())
    // Installing again (even with a new token) replaces our entries instead of adding more.
    const again = withOurs(merged, { ...target, token: "u".repeat(64) })
    expect((again.hooks as Record<string, Array<unknown>>).PreToolUse).toHaveLength(2)
    expect(withOurs(merged, target)).toEqual(merged)
    expect(withoutOurs(merged)).toEqual(userSettings)
    expect(withoutOurs(withOurs({}, target))).toEqual({})
  })

  it("install (http) writes a 0600 backup and a private file, twice is a no-op, uninstall restores", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "orbitdock-hooks-"))
    const settingsPath = path.join(dir, "claude", "settings.json")
    fs.mkdirSync(path.dirname(settingsPath))
    fs.writeFileSync(settingsPath, JSON.stringify(userSettings), { mode: 0o644 })
    fs.chmodSync(settingsPath, 0o644)
    fs.writeFileSync(path.join(dir, "token"), `${target.token}\n`)
    const options = { settingsPath, dataDir: dir, url: target.url, token: null, transport: "http" as const, permissionTimeoutS: 120 }
    const first = await Effect.runPromise(install(options))
    expect(first.changed).toBe(true)
    expect(JSON.parse(fs.readFileSync(first.backup!, "utf8"))).toEqual(userSettings)
    expect(fs.statSync(first.backup!).mode & 0o777).toBe(0o600)
    expect(fs.statSync(settingsPath).mode & 0o777).toBe(0o600)
    const written = JSON.parse(fs.readFileSync(settingsPath, "utf8"))
    expect(installed(written).Stop).toBe("http")
    expect(JSON.stringify(written)).toContain(target.token)
    expect((await Effect.runPromise(install(options))).changed).toBe(false)
    expect(Effect.runSync(uninstall(settingsPath)).changed).toBe(true)
    expect(JSON.parse(fs.readFileSync(settingsPath, "utf8"))).toEqual(userSettings)
    expect(Effect.runSync(uninstall(settingsPath)).changed).toBe(false)
    // Without a token, http refuses with a clear message; the Unix socket needs none.
    fs.rmSync(path.join(dir, "token"))
    const saved = process.env.ORBITDOCK_TOKEN
    delete process.env.ORBITDOCK_TOKEN
    const refused = await Effect.runPromise(Effect.flip(install(options)))
    expect(refused.message).toMatch(/no token/)
    const unix = await Effect.runPromise(install({ ...options, transport: "unix", url: null }))
    expect(unix.changed).toBe(true)
    expect(fs.readFileSync(settingsPath, "utf8")).not.toContain(target.token)
    if (saved !== undefined) process.env.ORBITDOCK_TOKEN = saved
    // A settings file that is not JSON is reported, never overwritten.
    fs.writeFileSync(settingsPath, "{ not json")
    expect((await Effect.runPromise(Effect.flip(install({ ...options, transport: "unix" })))).message).toMatch(/cannot read/)
    expect(fs.readFileSync(settingsPath, "utf8")).toBe("{ not json")
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it("http hooks without --url need a running server: never a guessed 127.0.0.1:4000", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "orbitdock-hooks-"))
    fs.writeFileSync(path.join(dir, "token"), `${target.token}\n`)
    const settingsPath = path.join(dir, "settings.json")
    const refused = await Effect.runPromise(
      Effect.flip(install({ settingsPath, dataDir: dir, url: null, token: null, transport: "http", permissionTimeoutS: 120 }))
    )
    expect(refused.message).toContain(`no running server on ${dir} to point http hooks at`)
    expect(fs.existsSync(settingsPath)).toBe(false)
    fs.rmSync(dir, { recursive: true, force: true })
  })
})

describe("orbitdock hooks (the @effect/cli command)", () => {
  it("install, status and uninstall parse their flags and act on the settings file", async () => {
    const { Command } = await import("@effect/cli")
    const { NodeContext } = await import("@effect/platform-node")
    const { command } = await import("../../../src/cli/hooks.js")
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "orbitdock-hooks-cli-"))
    const settingsPath = path.join(dir, "settings.json")
    const run = (...args: Array<string>) =>
      Effect.runPromise(
        Command.run(command, { name: "hooks", version: "test" })(["node", "hooks", ...args]).pipe(Effect.provide(NodeContext.layer))
      )
    await run("install", "--settings", settingsPath, "--data-dir", dir)
    const written = JSON.parse(fs.readFileSync(settingsPath, "utf8"))
    expect(Object.values(installed(written))).toEqual(HOOK_EVENTS.map(() => "unix"))
    expect(written.hooks.SessionStart[0].hooks[0].command).toContain(path.join(dir, "server.sock"))
    await run("status", "--settings", settingsPath, "--data-dir", dir, "--json")
    await run("uninstall", "--settings", settingsPath)
    expect(JSON.parse(fs.readFileSync(settingsPath, "utf8"))).toEqual({})
    fs.rmSync(dir, { recursive: true, force: true })
  })
})
