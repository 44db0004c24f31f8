/**
 * The browser path: the modules reachable from the browser entry (`dist/index.js`, what bundlers
 * pick with the `browser`/`default` conditions) import nothing from Node; and the client built from
 * that entry works over a WHATWG WebSocket alone (here `ws`'s, which follows the same API), with
 * the token in the query string as a browser must send it.
 */
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import WebSocket from "ws"
import { expect, it } from "vitest"
import { Client, Transport } from "../src/index.js"
import { expectMirrorsServer, settled } from "./helpers/expectations.js"
import { type ServerProcess, useServerPerFile } from "./helpers/serverProcess.js"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")

let server!: ServerProcess
useServerPerFile((started) => (server = started))

/** Every import specifier reachable from a compiled module (relative ones followed, and workspace packages' dist). */
const reachableImports = (entry: string): Set<string> => {
  const seen = new Set<string>()
  const specifiers = new Set<string>()
  const visit = (file: string) => {
    if (seen.has(file)) return
    seen.add(file)
    const source = fs.readFileSync(file, "utf8")
    for (const match of source.matchAll(/(?:import|export)\s[^'"]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)|^import\s*["']([^"']+)["']/gm)) {
      const specifier = match[1] ?? match[2] ?? match[3]!
      if (specifier.startsWith(".")) visit(path.resolve(path.dirname(file), specifier))
      else if (specifier.startsWith("@orbitdock/")) visit(createRequire(file).resolve(specifier))
      else specifiers.add(specifier)
    }
  }
  visit(entry)
  return specifiers
}

it("the browser entry reaches no Node-only module", () => {
  const browserEntry = path.join(root, "dist/index.js")
  const external = [...reachableImports(browserEntry)]
  expect(external.sort()).toEqual(["effect", "msgpackr"])
  expect(external.filter((s) => s.startsWith("node:") || s === "ws" || ["fs", "net", "http", "path", "os"].includes(s))).toEqual([])
  // The Node entry does bring `ws`.
  expect([...reachableImports(path.join(root, "dist/node.js"))]).toContain("ws")
  const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"))
  expect(pkg.exports["."].browser.default).toBe("./dist/index.js")
  expect(pkg.exports["."].default.default).toBe("./dist/index.js")
  expect(pkg.exports["."].node.default).toBe("./dist/node.js")
}, 60_000)

it("works over a WHATWG WebSocket with the token in the query", async () => {
  const transport = Transport.native(WebSocket as never)
  expect(transport.supportsHeaders).toBe(false)
  const client = await Client.connect({ url: `ws://127.0.0.1:${server.listening().port}`, token: server.token, transport, encoding: "msgpack" })
  try {
    const id = await client.createSession({ provider: "sim", cwd: "/tmp/browser", prompt: "from a browser" })
    await client.subscribeSession(id)
    await settled(client, id, "echo: from a browser")
    await expectMirrorsServer(client, server, id)
  } finally {
    await client.close()
  }
}, 60_000)
