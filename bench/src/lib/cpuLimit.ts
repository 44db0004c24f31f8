/**
 * The slow-machine mode (`--slow=<fraction>`): the processes under test — OrbitDock's server and
 * the raw references it is compared with (the bare `ws` server, the raw writer) — get `fraction`
 * of one core, as a CPU quota of a cgroup of their own (cgroup v2's `cpu.max`, or v1's
 * `cpu.cfs_quota_us`). All their threads share it: the writer worker and the GC too. The clients
 * and probes run outside it, as another machine's would. A quota and not a busy sibling process:
 * it gives the same share on any machine, whatever its scheduler does with a busy loop.
 *
 * Needs a cgroup file system it may write (root, as the bench machines here); otherwise
 * `openCpuLimit` says so and the bench stops before measuring anything.
 */
import * as fs from "node:fs"
import * as path from "node:path"

export interface CpuLimit {
  /** The share of one core the limited processes get together. */
  readonly fraction: number
  /** How, for the report: e.g. "cgroup v2 cpu.max 50000 100000". */
  readonly how: string
  /** Moves a process (all its threads) into the limited group. */
  readonly place: (pid: number) => void
  /** Runs `f` with this process itself in the group (for the raw references measured in-process). */
  readonly within: <A>(f: () => Promise<A>) => Promise<A>
  /** Moves what is left back out and removes the group. */
  readonly close: () => void
}

const PERIOD_US = 100_000

const writable = (dir: string) => {
  try {
    fs.accessSync(dir, fs.constants.W_OK)
    return true
  } catch {
    return false
  }
}

/** This process's cgroup path under a hierarchy: the v2 line `0::/…`, or v1's line naming `cpu`. */
const ownGroup = (v2: boolean): string => {
  for (const line of fs.readFileSync("/proc/self/cgroup", "utf8").split("\n")) {
    const [, controllers, group] = line.split(":")
    if (group === undefined) continue
    if (v2 ? controllers === "" : controllers!.split(",").includes("cpu")) return group
  }
  return "/"
}

/** Creates the limited group; throws with what is missing when it cannot. */
export const openCpuLimit = (fraction: number): CpuLimit => {
  if (!(fraction > 0 && fraction <= 1)) throw new Error(`--slow takes a share of one core in (0, 1], got ${fraction}`)
  const quota = Math.round(PERIOD_US * fraction)
  const name = `orbitdock-bench-${process.pid}`
  const v2Root = "/sys/fs/cgroup"
  const v1Root = "/sys/fs/cgroup/cpu"
  let root: string
  let dir: string
  let how: string
  if (fs.existsSync(path.join(v2Root, "cgroup.controllers"))) {
    // v2: the group goes next to ours, whose parent must delegate the cpu controller.
    const parent = path.join(v2Root, path.dirname(ownGroup(true)))
    if (!fs.readFileSync(path.join(parent, "cgroup.controllers"), "utf8").split(" ").map((c) => c.trim()).includes("cpu")) {
      throw new Error(`--slow: the cpu controller is not available in ${parent}`)
    }
    if (!writable(parent)) throw new Error(`--slow: cannot create a cgroup in ${parent} (run as root)`)
    if (!fs.readFileSync(path.join(parent, "cgroup.subtree_control"), "utf8").includes("cpu")) {
      fs.writeFileSync(path.join(parent, "cgroup.subtree_control"), "+cpu")
    }
    root = parent
    dir = path.join(parent, name)
    fs.mkdirSync(dir)
    fs.writeFileSync(path.join(dir, "cpu.max"), `${quota} ${PERIOD_US}`)
    how = `cgroup v2, cpu.max "${quota} ${PERIOD_US}"`
  } else if (fs.existsSync(path.join(v1Root, "cpu.cfs_quota_us"))) {
    if (!writable(v1Root)) throw new Error(`--slow: cannot create a cgroup in ${v1Root} (run as root)`)
    root = v1Root
    dir = path.join(v1Root, name)
    fs.mkdirSync(dir)
    fs.writeFileSync(path.join(dir, "cpu.cfs_period_us"), String(PERIOD_US))
    fs.writeFileSync(path.join(dir, "cpu.cfs_quota_us"), String(quota))
    how = `cgroup v1, cpu.cfs_quota_us ${quota} per cpu.cfs_period_us ${PERIOD_US}`
  } else {
    throw new Error("--slow: no cgroup cpu controller under /sys/fs/cgroup")
  }
  const v2 = root !== v1Root
  const home = path.join(v2 ? v2Root : v1Root, ownGroup(v2))
  const place = (pid: number, into = dir) => fs.writeFileSync(path.join(into, "cgroup.procs"), String(pid))
  return {
    fraction,
    how,
    place: (pid) => place(pid),
    within: async (f) => {
      place(process.pid)
      try {
        return await f()
      } finally {
        place(process.pid, home)
      }
    },
    close: () => {
      const left = fs.readFileSync(path.join(dir, "cgroup.procs"), "utf8").split("\n").filter((p) => p !== "")
      for (const pid of left) {
        try {
          place(Number(pid), home)
        } catch {
          // Gone meanwhile.
        }
      }
      fs.rmdirSync(dir)
    }
  }
}

/** The limit of this run, if `--slow` was given (set once by `main`). */
let current: CpuLimit | null = null
export const setCpuLimit = (limit: CpuLimit | null): void => {
  current = limit
}
export const cpuLimit = (): CpuLimit | null => current
