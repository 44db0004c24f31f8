/**
 * `orbitdock rules` against a real server process: add, list, try against the past, remove.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { runCli } from "../helpers/cli.js"
import { serverKeeper } from "../helpers/serverProcess.js"

const keeper = serverKeeper()
afterEach(() => keeper.stopAll())

const cli = runCli

describe("orbitdock rules", () => {
  it("adds, lists, tries a rule against the past, and removes", async () => {
    const dataDir = keeper.dataDir("orbitdock-rules-cli-")
    const server = await keeper.start(dataDir)
    const client = await server.connect()
    const created = (await client.request({ type: "create_session", provider: "sim", cwd: "/work/project" })) as unknown as { session_id: string }
    const id = created.session_id
    await client.request({ type: "subscribe_session", session_id: id })
    await client.request({ type: "send_message", session_id: id, content: "/exec git push --force" })
    const asked = (await client.waitFor((m) => m.type === "approval_requested")) as any
    await client.request({ type: "approve_tool", session_id: id, request_id: asked.request.id, approved: false })

    const added = cli(dataDir, ["rules", "add", "allow", "--command", "git status*", "--id", "status", "--note", "harmless"])
    expect(added.status, added.stderr).toBe(0)
    expect(added.stdout).toBe('added status  allow  command "git status*"  everywhere  — harmless\n')
    const bad = cli(dataDir, ["rules", "add", "deny", "--risk", "scary"])
    expect(bad.status).toBe(1)
    expect(bad.stderr).toContain("unknown risk class: scary")
    expect(cli(dataDir, ["rules", "list"]).stdout).toContain("status  allow")

    const tried = cli(dataDir, ["rules", "test", "deny", "--risk", "destructive", "--project", "/work"])
    expect(tried.status, tried.stderr).toBe(0)
    expect(tried.stdout).toMatch(/^1 past request\(s\) judged in [\d.]+ ms: 0 decided as before\n1 ask → deny \(a person approved 0, denied 1\)\n  ses_\S+  git push --force  — `git push --force` is denied by deny rule draft_1\n$/)
    const asJson = JSON.parse(cli(dataDir, ["rules", "test", "allow", "--command", "git push --force", "--json"]).stdout)
    expect(asJson.changes).toEqual([expect.objectContaining({ from: "ask", to: "allow", count: 1, denied_then: 1 })])

    expect(cli(dataDir, ["rules", "remove", "status"]).stdout).toBe("removed status\n")
    expect(cli(dataDir, ["rules", "list"]).stdout).toContain("no rules")
    expect(cli(dataDir, ["rules", "remove", "status"]).stderr).toContain("not_found: no rule status")
  })

  it("imports Claude Code's permissions, reading its files only, and adds them with --apply", async () => {
    const dataDir = keeper.dataDir("orbitdock-rules-import-")
    await keeper.start(dataDir)
    const configDir = keeper.dataDir("orbitdock-claude-config-")
    const project = keeper.dataDir("orbitdock-claude-project-")
    fs.mkdirSync(path.join(project, ".claude"))
    const userSettings = path.join(configDir, "settings.json")
    fs.writeFileSync(userSettings, JSON.stringify({ permissions: { allow: ["Bash(npm run test:*)", "Edit(src/**)"], deny: ["Bash(curl:*)"] } }))
    fs.writeFileSync(path.join(project, ".claude", "settings.local.json"), JSON.stringify({ permissions: { allow: ["Read"] } }))
    const before = fs.statSync(userSettings).mtimeMs
    const env = { CLAUDE_CONFIG_DIR: configDir }

    const shown = cli(dataDir, ["rules", "import-claude", "--project", project], env)
    expect(shown.status, shown.stderr).toBe(0)
    expect(shown.stdout).toContain(`would add: deny {"tool":["Bash"],"command":"curl*"} (everywhere)`)
    expect(shown.stdout).toContain(`would add: allow {"tool":["Read"]} (in ${project})`)
    expect(shown.stdout).toContain("skipped user settings: allow: Edit(src/**): OrbitDock's rules cannot limit Edit")
    expect(shown.stdout).toContain("nothing was added: run again with --apply")
    expect(cli(dataDir, ["rules", "list"]).stdout).toContain("no rules")

    const applied = cli(dataDir, ["rules", "import-claude", "--project", project, "--apply", "--json"], env)
    expect(applied.status, applied.stderr).toBe(0)
    expect(JSON.parse(applied.stdout).added).toHaveLength(3)
    const listed = cli(dataDir, ["rules", "list"]).stdout
    expect(listed).toContain('allow  command "npm run test*"  tool Bash  everywhere')
    expect(listed).toContain(`allow  tool Read  in ${project}`)
    // Claude's own files were only read.
    expect(fs.statSync(userSettings).mtimeMs).toBe(before)
  })
})
