/**
 * How client commands find a running server that was started with `--port 0` (or any port): `serve`
 * writes `<data-dir>/server.json` (mode 0600) once it listens and removes it when it stops; readers
 * trust it only while the process it names is alive.
 */
import * as fs from "node:fs"
import * as path from "node:path"

export interface ServerFile {
  readonly url: string
  readonly port: number
  readonly socket: string | null
  readonly pid: number
  readonly server_id: string
  readonly version: string
}

export const serverFilePath = (dataDir: string): string => path.join(dataDir, "server.json")

export const writeServerFile = (dataDir: string, file: ServerFile): void => {
  const target = serverFilePath(dataDir)
  const temp = `${target}.${process.pid}.tmp`
  fs.writeFileSync(temp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 })
  fs.renameSync(temp, target)
}

/** Removes the file if it still describes this process (a newer server may have replaced it). */
export const removeServerFile = (dataDir: string, pid: number = process.pid): void => {
  const current = readServerFile(dataDir, { requireAlive: false })
  if (current?.pid === pid) fs.rmSync(serverFilePath(dataDir), { force: true })
}

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

/** The running server's file, or null when there is none, it is unreadable, or its process is gone. */
export const readServerFile = (dataDir: string, options: { readonly requireAlive: boolean } = { requireAlive: true }): ServerFile | null => {
  try {
    const file = JSON.parse(fs.readFileSync(serverFilePath(dataDir), "utf8")) as ServerFile
    if (typeof file.url !== "string" || typeof file.pid !== "number") return null
    return !options.requireAlive || isAlive(file.pid) ? file : null
  } catch {
    return null
  }
}
