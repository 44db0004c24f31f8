/**
 * `orbitdock doctor` with the real claude binary: found, and known to be the version the
 * connector is tested with (the one this suite pins).
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { claudeBin, repoRoot } from "../helpers/world.js"

describe("orbitdock doctor", () => {
  it("finds claude and knows its version is the tested one", () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "orbitdock-doctor-claude-"))
    try {
      const bundle = path.join(repoRoot, "packages/server/dist/bundle/bin.js")
      const run = spawnSync(process.execPath, [bundle, "doctor", "--json", "--data-dir", path.join(home, "data"), "--claude-bin", claudeBin], {
        encoding: "utf8",
        env: { ...process.env, HOME: home }
      })
      const finding = JSON.parse(run.stdout).findings.find((f: { check: string }) => f.check === "claude")
      const pinned = JSON.parse(fs.readFileSync(path.resolve(import.meta.dirname, "../package.json"), "utf8")).devDependencies["@anthropic-ai/claude-code"]
      expect(finding).toEqual({ check: "claude", level: "ok", summary: `claude ${pinned} at ${claudeBin} (the version the connector was tested with)` })
    } finally {
      fs.rmSync(home, { recursive: true, force: true })
    }
  }, 30_000)
})
