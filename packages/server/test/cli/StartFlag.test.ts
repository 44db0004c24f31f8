/**
 * `--start` on the CLI's client commands and `orbitdock open`: a command that needs the server
 * starts one on its data dir when none runs (it keeps running after the command), and uses the one
 * that runs otherwise.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { readServerFile } from "../../src/cli/Discovery.js"
import { runCli } from "../helpers/cli.js"
import { serverKeeper } from "../helpers/serverProcess.js"

const keeper = serverKeeper()
const started: Array<number> = []
afterEach(async () => {
  for (const pid of started.splice(0)) {
    try {
      process.kill(pid, "SIGKILL")
    } catch {
      // Gone already.
    }
  }
  await keeper.stopAll()
})

describe("--start", () => {
  it("starts the data dir's server when none runs, and only then", () => {
    const dataDir = keeper.dataDir("orbitdock-start-")
    const without = runCli(dataDir, ["sessions"])
    expect(without.status).toBe(1)

    // The started server takes its port as `serve` would: here any free one, not 4000.
    const first = runCli(dataDir, ["sessions", "--start"], { ORBITDOCK_PORT: "0" })
    const server = readServerFile(dataDir)
    if (server !== null) started.push(server.pid)
    expect(first.stderr).toBe(`orbitdock: started a server on ${dataDir} (pid ${server?.pid})\n`)
    expect(first.stdout).toBe("no sessions\n")
    expect(first.status).toBe(0)
    // The server outlived the command that started it.
    expect(() => process.kill(server!.pid, 0)).not.toThrow()

    const second = runCli(dataDir, ["open", "--start", "--no-browser"], { ORBITDOCK_PORT: "0" })
    expect(second.stderr).toBe("")
    expect(second.stdout).toMatch(new RegExp(`^${server!.url}/#token=`))
    expect(readServerFile(dataDir)?.pid).toBe(server!.pid)
    expect(fs.existsSync(path.join(dataDir, "logs", "serve.stderr"))).toBe(true)
  }, 30_000)
})
