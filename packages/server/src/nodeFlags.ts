/**
 * The Node options the server process runs with: `npm start`, the `orbitdock` command's shebang
 * (`bin.ts`) and the bench's server processes all pass them (a test checks the first two).
 *
 * `--single-threaded-gc`: V8 collects on the main thread alone, with no concurrent marking or
 * sweeping threads and no parallel scavenge helpers. Measured with the bench on 2 cores
 * (BENCHMARKS.md, finding 11): loop-delay p99 at 20,000 events/s 5.6–6.6 → 4.0–5.1 ms, its max
 * 17–39 → 10–17 ms, UI-path p99 4.4–15.2 → 4.3–5.8 ms, for ~8 % less peak ingest. Those threads
 * compete for the cores with the main thread, the writer worker and the clients, and a pause
 * lasts until its helpers got a core.
 *
 * Only on the command line: switched at run time (`v8.setFlagsFromString`) V8 aborts in its next
 * collection (a concurrent marking still under way).
 */
export const SERVER_NODE_FLAGS: ReadonlyArray<string> = ["--single-threaded-gc"]
