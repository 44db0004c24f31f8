/**
 * Summarises a V8 CPU profile (`--cpu-prof`, or `BENCH_PROFILE_DIR=<dir> npm run bench …`, which
 * profiles the server processes): busy time by area (Effect runtime, GC, our modules, Node
 * internals) and the top functions by self time.
 *
 *   node bench/dist/tools/profile.js <file.cpuprofile> [top]
 */
import * as fs from "node:fs"

interface Node {
  readonly id: number
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
}
interface Profile {
  readonly nodes: ReadonlyArray<Node>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

const area = (n: Node): string => {
  const { url, functionName: f } = n.callFrame
  if (f === "(idle)") return "idle"
  if (f === "(garbage collector)") return "GC"
  if (f === "(program)") return "V8 (program)"
  if (url.includes("node_modules/effect/")) return "effect runtime"
  if (url.includes("node_modules/@effect/")) return "@effect/* packages"
  if (url.includes("packages/server/dist/")) return `server: ${url.split("/dist/")[1]}`
  if (url.includes("packages/projections/")) return "projections"
  if (url.includes("node_modules/ws/")) return "ws"
  if (url.includes("bench/dist/")) return "bench (load generator)"
  if (url.startsWith("node:") || url === "") return `node/native: ${f || "?"}`
  return `other: ${url.split("/").slice(-2).join("/")}`
}

const main = () => {
  const [file, topArg] = process.argv.slice(2)
  if (!file) throw new Error("usage: profile.js <file.cpuprofile> [top]")
  const top = Number(topArg ?? 25)
  const p = JSON.parse(fs.readFileSync(file, "utf8")) as Profile
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const time = new Map<number, number>()
  let total = 0
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0
    time.set(id, (time.get(id) ?? 0) + dt)
    total += dt
  })
  const areas = new Map<string, number>()
  const functions = new Map<string, number>()
  for (const [id, t] of time) {
    const n = byId.get(id)!
    areas.set(area(n), (areas.get(area(n)) ?? 0) + t)
    const name = `${n.callFrame.functionName || "(anonymous)"} ${n.callFrame.url.split("/").slice(-2).join("/")}:${n.callFrame.lineNumber + 1}`
    functions.set(name, (functions.get(name) ?? 0) + t)
  }
  const busy = total - (areas.get("idle") ?? 0)
  const show = (m: Map<string, number>) =>
    [...m]
      .filter(([k]) => k !== "idle" && !k.startsWith("(idle)"))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, t]) => `${(t / 1000).toFixed(0).padStart(7)} ms ${((100 * t) / busy).toFixed(1).padStart(5)} %  ${k}`)
      .join("\n")
  process.stdout.write(`${file}\nwall ${(total / 1000).toFixed(0)} ms, busy ${(busy / 1000).toFixed(0)} ms (${((100 * busy) / total).toFixed(0)} %)\n\nby area (share of busy time):\n${show(areas)}\n\ntop functions by self time:\n${show(functions)}\n`)
}

main()
