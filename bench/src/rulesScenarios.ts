/**
 * Scenario 10 (issue 18): trying approval rules against the past. A real server process whose log
 * holds 100,000 past approvals (asked and answered, recorded through the real ConnectorHost: a mix
 * of the commands agents run), restarted, then `POST /api/rules/simulate` with a draft of a few
 * rules: the first call reads the approvals from the log, later ones judge what is kept.
 */
import * as fs from "node:fs"
import { api } from "./attentionScenarios.js"
import type { Figures } from "./lib/report.js"
import { nowMs, percentiles } from "./lib/stats.js"
import type { Options } from "./options.js"
import { ask, startOrbit } from "./orbit.js"
import { tempDir } from "./raw/sqliteAppend.js"

export const S10 = "10. Approval rules: a draft judged against every past request"

const DRAFT = {
  add: [
    { effect: "allow", scope: { kind: "global" }, match: { risk: ["read_only"] } },
    { effect: "deny", scope: { kind: "global" }, match: { risk: ["destructive"] } },
    { effect: "allow", scope: { kind: "project", cwd: "/bench" }, match: { command: "npm test*" } },
    { effect: "ask", scope: { kind: "global" }, match: { command_regex: "^git (push|commit)" } }
  ]
}

export const rulesSimulate = async (figures: Figures, o: Options) => {
  const total = o.quick ? 20_000 : 100_000
  const distinct = o.quick ? 500 : 2_000
  const sessions = 100
  for (let run = 0; run < o.runs; run++) {
    const dataDir = tempDir("rules")
    const writer = await startOrbit({ dataDir })
    try {
      await ask(writer, { type: "create", count: sessions }, "created")
      await ask(writer, { type: "approvals", total, sessions, distinct }, "approved", 600_000)
    } finally {
      await writer.stop()
    }
    // Restarted on that log: the first try reads the past before its background read-ahead would.
    const server = await startOrbit({ dataDir })
    try {
      const timed = async () => {
        const start = nowMs()
        const report = await api(server, "POST", "/api/rules/simulate", DRAFT)
        return { ms: nowMs() - start, report }
      }
      const first = await timed()
      if (first.report.requests < total) throw new Error(`simulate saw ${first.report.requests} requests, expected ${total}`)
      const again: Array<number> = []
      for (let i = 0; i < 10; i++) again.push((await timed()).ms)
      const label = `${total.toLocaleString("en")} past requests (${distinct.toLocaleString("en")} distinct command lines), a draft of 4 rules`
      figures.add(S10, `${label}: first try after a restart (reads the log)`, "ms", first.ms)
      figures.add(S10, `${label}: of which judging (the server's elapsed_ms)`, "ms", first.report.elapsed_ms)
      figures.add(S10, `${label}: each later try, p50`, "ms", percentiles(again).p50, { op: "<=", value: 1000, label: "≤ 1 s" })
      figures.add(S10, `${label}: decided differently`, "count", first.report.requests - first.report.unchanged)
    } finally {
      await server.stop()
      fs.rmSync(dataDir, { recursive: true, force: true })
    }
  }
  figures.note(
    S10,
    "A real server process; 100 sim sessions hold the past approvals, screened and written through the registry's real `ConnectorHost` as a connector records them (`approval_requested` with what was read from its command line, then `approval_resolved`, a fifth denied). The server is then restarted on that log, and each try is `POST /api/rules/simulate` over HTTP, timed on the client from the request to its parsed answer: the first reads every approval from the log (through a partial index, before the server's own read-ahead 10 s after start), later ones only what the log gained. Judging runs in turns of a few milliseconds, so the server keeps serving meanwhile."
  )
}
