/**
 * The Node options the server process runs with: `npm start`, the `orbitdock` command's shebang
 * (`bin.ts`) and the bench's server processes all pass them (a test checks the first two).
 *
 * `--single-threaded-gc`: V8 collects on the main thread alone, with no concurrent marking or
 * sweeping threads and no parallel scavenge helpers. Those threads compete for the cores with the
 * main thread, the writer worker and the clients, and a pause lasts until its helpers got a core:
 * with them, the loop-delay and UI-path tails were longer (bench/FINDINGS.md, finding 11).
 *
 * Only on the command line: switched at run time (`v8.setFlagsFromString`) V8 aborts in its next
 * collection (a concurrent marking still under way).
 */
export const SERVER_NODE_FLAGS: ReadonlyArray<string> = ["--single-threaded-gc"]
