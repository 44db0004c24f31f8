/**
 * The server runs with `SERVER_NODE_FLAGS` however it is started: `npm start` passes them, and the
 * `orbitdock` command's shebang does (run here as an executable, through `env -S`).
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { SERVER_NODE_FLAGS } from "../src/nodeFlags.js"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..")
const flags = SERVER_NODE_FLAGS.join(" ")

describe("the server's Node options", () => {
  it("are passed by npm start and by the orbitdock command's shebang, source and bundle", () => {
    const scripts = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")).scripts
    expect(scripts.start).toContain(`node ${flags} packages/server/dist/bundle/bin.js serve`)
    const shebang = `#!/usr/bin/env -S node ${flags}`
    expect(fs.readFileSync(path.join(root, "packages/server/src/bin.ts"), "utf8").split("\n")[0]).toBe(shebang)
    const bundle = path.join(root, "packages/server/dist/bundle/bin.js")
    expect(fs.readFileSync(bundle, "utf8").split("\n")[0]).toBe(shebang)
    // Runs as a command: `env -S` splits the options off, and Node accepts them.
    expect(execFileSync(bundle, ["--version"], { encoding: "utf8" }).trim()).toMatch(/\d+\.\d+\.\d+/)
  })
})
