/**
 * The binary and the JSON-RPC client on their own: lookup (the npm wrapper resolves to the native
 * binary, a missing binary is a clear `unsupported` on create_session and no crash) and `CodexRpc`
 * against the real `codex app-server` (handshake, error responses, thread/start with the mock).
 */
import { Deferred, Effect, Schema } from "effect"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as CodexProcess from "../../../packages/server/src/connectors/codex/CodexProcess.js"
import * as S from "../../../packages/server/src/connectors/codex/CodexSchemas.js"
import { type CodexEnv, makeCodexEnv, nativeCodexBin, wrapperCodexBin } from "../helpers/codexEnv.js"
import { type MockModel, startMockModel } from "../helpers/mockModel.js"
import { orbitEnv, startOrbit } from "../helpers/orbit.js"

let mock: MockModel
let codex: CodexEnv

beforeAll(async () => {
  mock = await startMockModel()
  codex = makeCodexEnv("binary", mock.baseUrl)
})

afterAll(async () => {
  await mock?.close()
  codex?.remove()
})

describe("codex binary lookup", () => {
  it("resolves the npm wrapper (given, or found on PATH) to the native binary", async () => {
    const given = await Effect.runPromise(CodexProcess.resolveBinary(wrapperCodexBin(), {}))
    expect(given.path).toBe(nativeCodexBin())
    const onPath = await Effect.runPromise(CodexProcess.resolveBinary(null, { PATH: path.dirname(wrapperCodexBin()) }))
    expect(onPath.path).toBe(nativeCodexBin())
    const fromEnv = await Effect.runPromise(CodexProcess.resolveBinary(null, { ORBITDOCK_CODEX_BIN: nativeCodexBin(), PATH: "" }))
    expect(fromEnv.path).toBe(nativeCodexBin())
  })

  it("orbitdock doctor finds it and knows it is the version the connector is tested with", () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "orbitdock-doctor-codex-"))
    try {
      const bundle = path.resolve(import.meta.dirname, "../../../packages/server/dist/bundle/bin.js")
      const run = spawnSync(process.execPath, [bundle, "doctor", "--json", "--data-dir", dataDir, "--codex-bin", wrapperCodexBin()], { encoding: "utf8" })
      const codexFinding = JSON.parse(run.stdout).findings.find((f: { check: string }) => f.check === "codex")
      const pinned = JSON.parse(fs.readFileSync(path.resolve(import.meta.dirname, "../package.json"), "utf8")).devDependencies["@openai/codex"]
      expect(codexFinding).toEqual({
        check: "codex",
        level: "ok",
        summary: `codex ${pinned} at ${nativeCodexBin()} (the version the connector was tested with)`
      })
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true })
    }
  })

  it("answers create_session with `unsupported` when there is no codex, and keeps serving", async () => {
    const server = await startOrbit({ codex, bin: path.join(codex.root, "no-such-codex") })
    try {
      const client = await server.connect()
      const refused: any = await client.request({ type: "create_session", provider: "codex", cwd: codex.newWorkDir("nobin") })
      expect(refused.type).toBe("error")
      expect(refused.code).toBe("unsupported")
      expect(refused.message).toContain("no-such-codex")
      expect((await server.request("/health")).status).toBe(200)
      const again: any = await client.request({ type: "create_session", provider: "codex", cwd: codex.root })
      expect(again.code).toBe("unsupported")
    } finally {
      await server.cleanup()
    }
  })
})

describe("CodexRpc against the real app-server", () => {
  it("handshakes, tells errors from results, and starts a thread", async () => {
    const program = Effect.gen(function* () {
      const binary = yield* CodexProcess.resolveBinary(nativeCodexBin(), {})
      const server = yield* CodexProcess.spawnAppServer({ binary, env: orbitEnv(codex), cwd: codex.root })
      const early = yield* server.rpc.request("thread/start", {}, Schema.Unknown).pipe(Effect.flip)
      expect(early.operation).toBe("thread/start:remote")
      expect(early.message).toMatch(/not initialized/i)
      const init = yield* server.rpc.request(
        "initialize",
        { clientInfo: { name: "orbitdock_test", title: null, version: "0" }, capabilities: { experimentalApi: false, requestAttestation: false } },
        S.InitializeResult
      )
      expect(init.codexHome).toBe(codex.codexHome)
      yield* server.rpc.notify("initialized")
      const unknown = yield* server.rpc.request("no/such/method", {}, Schema.Unknown).pipe(Effect.flip)
      expect(unknown.operation).toBe("no/such/method:remote")
      expect(unknown.code).toBeTypeOf("number")
      const bad = yield* server.rpc.request("thread/start", { sandbox: "workspaceWrite" }, Schema.Unknown).pipe(Effect.flip)
      expect(bad.code).toBe(-32600)
      const cwd = codex.newWorkDir("rpc")
      const started = yield* server.rpc.request("thread/start", { cwd, approvalPolicy: "untrusted" }, S.ThreadStartResult)
      expect(started.thread.id).toMatch(/^[0-9a-f-]{36}$/)
      expect(started.model).toBe("gpt-5.5")
      return server
    })
    const exited = await Effect.runPromise(
      Effect.scoped(program).pipe(Effect.flatMap((server) => Deferred.await(server.exited)))
    )
    // Closing the scope closed stdin: the server exited cleanly.
    expect(exited).toEqual({ code: 0, signal: null })
  })
})
