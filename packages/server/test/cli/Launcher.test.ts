/**
 * The committed `bin/orbitdock.js` that npm links as `orbitdock`: it exists before any build (so
 * `npm install` can link it), runs the built command with the server's Node options, and without a
 * build says to run `npm run build` instead of failing obscurely.
 */
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { SERVER_NODE_FLAGS } from "../../src/nodeFlags.js"

const serverDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
const launcher = path.join(serverDir, "bin/orbitdock.js")

describe("the orbitdock launcher", () => {
  it("is what package.json links, is executable, and passes the server's Node options", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(serverDir, "package.json"), "utf8"))
    expect(path.resolve(serverDir, pkg.bin.orbitdock)).toBe(launcher)
    expect(fs.statSync(launcher).mode & 0o111).not.toBe(0)
    expect(fs.readFileSync(launcher, "utf8").split("\n")[0]).toBe(`#!/usr/bin/env -S node ${SERVER_NODE_FLAGS.join(" ")}`)
    expect(execFileSync(launcher, ["--version"], { encoding: "utf8" }).trim()).toMatch(/^\d+\.\d+\.\d+$/)
  })

  it("without a build, says to run npm run build", () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "orbitdock-launcher-"))
    try {
      const copy = path.join(root, "packages/server/bin/orbitdock.js")
      fs.mkdirSync(path.dirname(copy), { recursive: true })
      fs.copyFileSync(launcher, copy)
      const answer = spawnSync(process.execPath, [copy, "--help"], { encoding: "utf8" })
      expect(answer.status).toBe(1)
      expect(answer.stderr).toBe(`orbitdock: the server is not built yet: run \`npm run build\` in ${root}/\n`)
    } finally {
      fs.rmSync(root, { recursive: true, force: true })
    }
  })
})
