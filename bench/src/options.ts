/** Command-line options of `npm run bench`. */
export interface Options {
  /** A small smoke run (CI): few runs, small sizes, no BENCHMARKS.md unless --out is given. */
  readonly quick: boolean
  /** Runs per figure (median and min–max are over these). */
  readonly runs: number
  /** Which groups to run: raw, ingest, latency, stall, fanout, cold, memory, burst (or a group's full name, e.g. raw-append, burst-stall). */
  readonly only: ReadonlySet<string> | null
  /** Where to write the report; null: do not write. */
  readonly out: string | null
  /** The slow-machine mode: the share of one core the processes under test get (`lib/cpuLimit.ts`); null: unlimited. */
  readonly slow: number | null
}

export const parseOptions = (argv: ReadonlyArray<string>, defaultOut: string): Options => {
  const value = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)
  const quick = argv.includes("--quick")
  const runs = Number(value("runs") ?? (quick ? 1 : 3))
  const only = value("only")
  const slow = value("slow") === undefined ? null : Number(value("slow"))
  // A slow-machine run writes a report of its own, next to the default one.
  const out = value("out") ?? (quick ? null : slow === null ? defaultOut : defaultOut.replace(/\.md$/, ".slow.md"))
  return { quick, runs, only: only ? new Set(only.split(",")) : null, out, slow }
}
