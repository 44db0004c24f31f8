/**
 * Approval rules through the SDK, against the real server process: added, listed (now and as they
 * were), tried against the past, removed; and a rule deciding a sim request with the mirror showing
 * who decided.
 */
import { describe, expect, it } from "vitest"
import { Client, Errors } from "../src/node.js"
import { type ServerProcess, useServerPerFile } from "./helpers/serverProcess.js"

let server!: ServerProcess
useServerPerFile((started) => (server = started))

describe("approval rules over the WebSocket", () => {
  it("adds, lists, simulates and removes; a rule decides a request at once", async () => {
    const client = await Client.connect({ url: server.wsUrl(), token: server.token })
    try {
      const before = new Date().toISOString()
      const rule = await client.addRule({ id: "sdk-ls", effect: "allow", scope: { kind: "global" }, match: { command: "ls*" }, note: "listing" })
      expect(rule).toMatchObject({ id: "sdk-ls", effect: "allow", created_at: expect.any(String) })
      expect((await client.listRules()).map((r) => r.id)).toContain("sdk-ls")
      expect((await client.listRules(before)).map((r) => r.id)).not.toContain("sdk-ls")
      const refused = await client.addRule({ id: "sdk-ls", effect: "deny", scope: { kind: "global" }, match: {} }).then(
        () => undefined,
        (e: unknown) => e
      )
      expect(refused).toBeInstanceOf(Errors.ProtocolError)
      expect((refused as Errors.ProtocolError).code).toBe("conflict")

      const id = await client.createSession({ provider: "sim", cwd: "/tmp/sdk-rules" })
      await client.subscribeSession(id)
      await client.sendMessage(id, "/exec ls -la")
      const state = await client.waitFor((m) => m.sessions.get(id as never)?.messages.some((msg) => msg.content === "echo: done") === true)
      expect(state.sessions.get(id as never)?.pending_approval).toBeNull()

      const report = await client.simulateRules({ remove: ["sdk-ls"] })
      expect(report.requests).toBeGreaterThanOrEqual(1)
      expect(report.changes).toEqual(expect.arrayContaining([expect.objectContaining({ from: "allow", to: "ask" })]))
      expect((await client.removeRule("sdk-ls")).id).toBe("sdk-ls")
      expect((await client.listRules()).map((r) => r.id)).not.toContain("sdk-ls")
    } finally {
      await client.close()
    }
  })
})
