/**
 * Summarises a V8 CPU profile (`--cpu-prof`, or `BENCH_PROFILE_DIR=<dir> npm run bench …`, which
 * profiles the server processes): busy time by area (Effect runtime, GC, our modules, Node
 * internals) and the top functions by self time.
 *
 *   node bench/dist/tools/profile.js <file.cpuprofile> [top] [--skip=<ms>]
 *
 * `--skip` leaves out the first milliseconds of the profile (the process starting: module
 * compilation, opening the log), so what is left is the load being measured. Besides self time it
 * lists total time (the function and everything it called), which says what a step costs in all.
 */
import * as fs from "node:fs"

interface Node {
  readonly id: number
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
  readonly children?: ReadonlyArray<number>
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
  const args = process.argv.slice(2)
  const skipMs = Number(args.find((a) => a.startsWith("--skip="))?.slice("--skip=".length) ?? 0)
  const [file, topArg] = args.filter((a) => !a.startsWith("--"))
  if (!file) throw new Error("usage: profile.js <file.cpuprofile> [top] [--skip=<ms>]")
  const top = Number(topArg ?? 25)
  const p = JSON.parse(fs.readFileSync(file, "utf8")) as Profile
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const time = new Map<number, number>()
  let total = 0
  let elapsed = 0
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0
    elapsed += dt
    if (elapsed < skipMs * 1000) return
    time.set(id, (time.get(id) ?? 0) + dt)
    total += dt
  })
  // Total time: a node's own samples plus its descendants', counted once per function name on a
  // path (a recursive function is not counted twice).
  const parent = new Map<number, number>()
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const label = (n: Node) => `${n.callFrame.functionName || "(anonymous)"} ${n.callFrame.url.split("/").slice(-2).join("/")}:${n.callFrame.lineNumber + 1}`
  const inclusive = new Map<string, number>()
  for (const [id, t] of time) {
    const seen = new Set<string>()
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const name = label(byId.get(at)!)
      if (seen.has(name)) continue
      seen.add(name)
      inclusive.set(name, (inclusive.get(name) ?? 0) + t)
    }
  }
  const areas = new Map<string, number>()
  const functions = new Map<string, number>()
  for (const [id, t] of time) {
    const n = byId.get(id)!
    areas.set(area(n), (areas.get(area(n)) ?? 0) + t)
    const name = label(n)
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
  process.stdout.write(`${file}\nwall ${(total / 1000).toFixed(0)} ms, busy ${(busy / 1000).toFixed(0)} ms (${((100 * busy) / total).toFixed(0)} %)\n\nby area (share of busy time):\n${show(areas)}\n\ntop functions by self time:\n${show(functions)}\n\ntop functions by total time:\n${show(new Map([...inclusive].filter(([k]) => !/^\((root|program|idle)\)/.test(k))))}\n`)
}

main()
