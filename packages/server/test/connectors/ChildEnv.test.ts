/**
 * What OrbitDock starts never inherits its settings: `ORBITDOCK_*` (the token above all) is taken out
 * of the environment of a headless `claude`, a `codex app-server` and the browser `orbitdock open`
 * starts; the rest of the environment is passed on.
 */
import { Effect } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { spawnStreamJson } from "../../src/connectors/claude/HeadlessProcess.js"
import { spawnAppServer } from "../../src/connectors/codex/CodexProcess.js"
import { makeEnvProbe } from "../helpers/envProbe.js"

const dirs: Array<string> = []
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
})
const tempDir = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "orbitdock-env-"))
  dirs.push(dir)
  return dir
}

const serverEnv = {
  PATH: process.env.PATH,
  HOME: os.homedir(),
  KEEP_ME: "kept",
  ORBITDOCK_TOKEN: "secret-token",
  ORBITDOCK_DATA_DIR: "/somewhere",
  orbitdock_lower: "also ours"
}

const expectStripped = (env: Record<string, string>) => {
  expect(Object.keys(env).filter((k) => k.toUpperCase().startsWith("ORBITDOCK_"))).toEqual([])
  expect(JSON.stringify(env)).not.toContain("secret-token")
  expect(env.KEEP_ME).toBe("kept")
  expect(env.PATH).toBe(process.env.PATH)
}

describe("spawned processes' environment", () => {
  it("a headless claude gets no ORBITDOCK_*", async () => {
    const probe = await makeEnvProbe(tempDir())
    try {
      // The scope stops the process when it closes.
      await Effect.runPromise(
        Effect.scoped(
          Effect.gen(function* () {
            yield* spawnStreamJson(probe.bin, ["-p"], tempDir(), serverEnv)
            expectStripped(yield* Effect.promise(() => probe.received))
          })
        )
      )
    } finally {
      probe.close()
    }
  })

  it("a codex app-server gets no ORBITDOCK_*", async () => {
    const probe = await makeEnvProbe(tempDir())
    try {
      await Effect.runPromise(
        Effect.scoped(
          Effect.gen(function* () {
            yield* spawnAppServer({ binary: { path: probe.bin, env: { CODEX_MANAGED_PACKAGE_ROOT: "/x" } }, env: serverEnv })
            const env = yield* Effect.promise(() => probe.received)
            expectStripped(env)
            expect(env.CODEX_MANAGED_PACKAGE_ROOT).toBe("/x")
          })
        )
      )
    } finally {
      probe.close()
    }
  })

  it("the browser that orbitdock open starts gets no ORBITDOCK_*", async () => {
    const dataDir = tempDir()
    const probe = await makeEnvProbe(dataDir)
    const bundle = path.resolve(import.meta.dirname, "../../dist/bundle/bin.js")
    const child = spawn(process.execPath, [bundle, "open", "--data-dir", dataDir, "--url", "http://127.0.0.1:9"], {
      env: { ...serverEnv, BROWSER: probe.bin },
      stdio: "ignore"
    })
    try {
      expectStripped(await probe.received)
    } finally {
      child.kill()
      probe.close()
    }
  })
})
