/**
 * `orbitdock pair` and `orbitdock devices` against a real server process: the QR code printed in the
 * terminal decodes (jsQR) to the page's pairing link, the phone's exchange of its code ends the
 * waiting `pair`, and `devices revoke` cuts that device off.
 */
import { spawn } from "node:child_process"
import { afterEach, describe, expect, it } from "vitest"
import { bundle, cliEnv, runCli } from "../helpers/cli.js"
import { serverKeeper } from "../helpers/serverProcess.js"
import { decodeTerminalQr } from "../helpers/terminalQr.js"

const keeper = serverKeeper()
afterEach(() => keeper.stopAll())

const cli = runCli

describe("orbitdock pair", () => {
  it("prints a scannable QR code of the pairing link, waits for the device, and devices lists and revokes it", async () => {
    const dataDir = keeper.dataDir("orbitdock-pair-cli-")
    const server = await keeper.start(dataDir)
    const pairing = spawn(process.execPath, [bundle, "pair", "--name", "Anna's phone", "--data-dir", dataDir], { env: cliEnv(), stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    pairing.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")))
    pairing.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")))
    const exited = new Promise<number | null>((resolve) => pairing.once("exit", resolve))
    const deadline = Date.now() + 15_000
    while (!stdout.includes("Waiting for the device")) {
      if (Date.now() > deadline) throw new Error(`pair printed: ${stdout}\n${stderr}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    const link = decodeTerminalQr(stdout)
    expect(link).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${server.port}/#pair=[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}$`))
    const code = link!.split("#pair=")[1]
    expect(stdout).toContain(`Pairing code ${code}`)
    expect(stdout).toContain(`open ${link}`)
    // A loopback link: the person is told a phone cannot open it, and how to fix that.
    expect(stderr).toContain("--public-host")

    const exchanged = await server.http("/api/pair", { method: "POST", body: JSON.stringify({ code }) })
    expect(exchanged.status).toBe(201)
    expect(await exited).toBe(0)
    expect(stdout).toMatch(new RegExp(`paired Anna's phone \\(${exchanged.body.device.id}\\)`))

    const listed = cli(dataDir, ["devices", "--json"])
    expect(listed.status).toBe(0)
    expect(JSON.parse(listed.stdout).devices).toEqual([expect.objectContaining({ id: exchanged.body.device.id, name: "Anna's phone" })])
    expect(cli(dataDir, ["devices"]).stdout).toMatch(/^dev_[0-9a-f]{12}  Anna's phone  paired \S+  never seen\n$/)

    const revoked = cli(dataDir, ["devices", "revoke", exchanged.body.device.id])
    expect(revoked.status).toBe(0)
    expect(revoked.stdout).toContain("revoked Anna's phone")
    expect(cli(dataDir, ["devices"]).stdout).toContain("no paired devices")
    const unknown = cli(dataDir, ["devices", "revoke", "dev_nope"])
    expect(unknown.status).toBe(1)
    expect(unknown.stderr).toContain("not_found: no paired device dev_nope")
  })

  it("--no-wait --json prints the offer and returns", async () => {
    const dataDir = keeper.dataDir("orbitdock-pair-cli-")
    await keeper.start(dataDir, ["--public-host", "box.local"])
    const answer = cli(dataDir, ["pair", "--no-wait", "--json"])
    expect(answer.status).toBe(0)
    const offer = JSON.parse(answer.stdout)
    expect(offer).toMatchObject({ reachable: true, url: expect.stringMatching(/^http:\/\/box\.local:\d+\/#pair=/) })
    expect(answer.stderr).toBe("")
  })
})
