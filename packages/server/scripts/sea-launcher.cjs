/**
 * The single executable's entry (`npm run package`): extracts the server's files, embedded as
 * assets, into a private cache directory named after this build (once: later starts find them
 * there), then runs the server from there with this same executable as its Node.
 *
 * The cache: ORBITDOCK_CACHE_DIR, else $XDG_CACHE_HOME/orbitdock (~/.cache/orbitdock;
 * ~/Library/Caches/orbitdock on macOS). A half-written extraction never counts: files go to a
 * temporary directory renamed into place when complete.
 */
"use strict"
const sea = require("node:sea")
const fs = require("node:fs")
const os = require("node:os")
const path = require("node:path")
const { createRequire } = require("node:module")

const manifest = JSON.parse(sea.getAsset("manifest.json", "utf8"))

const cacheRoot = () => {
  if (process.env.ORBITDOCK_CACHE_DIR) return process.env.ORBITDOCK_CACHE_DIR
  if (process.platform === "darwin") return path.join(os.homedir(), "Library", "Caches", "orbitdock")
  return path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "orbitdock")
}

const extract = (dir) => {
  fs.mkdirSync(path.dirname(dir), { recursive: true, mode: 0o700 })
  const temp = `${dir}.${process.pid}.tmp`
  fs.rmSync(temp, { recursive: true, force: true })
  for (const file of manifest.files) {
    const target = path.join(temp, file.path)
    fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 })
    fs.writeFileSync(target, new Uint8Array(sea.getAsset(file.path)), { mode: file.mode })
  }
  // What the server reads its version from (`server/package.json`, CommonJS).
  fs.writeFileSync(path.join(temp, "server", "package.json"), JSON.stringify({ name: "@orbitdock/server", version: manifest.version, private: true }))
  fs.chmodSync(temp, 0o700)
  try {
    fs.renameSync(temp, dir)
  } catch (error) {
    // Another start extracted the same build meanwhile: theirs is as good.
    fs.rmSync(temp, { recursive: true, force: true })
    if (!fs.existsSync(path.join(dir, manifest.entry))) throw error
  }
}

const dir = path.join(cacheRoot(), `${manifest.version}-${manifest.build}`)
try {
  if (!fs.existsSync(path.join(dir, manifest.entry))) extract(dir)
} catch (error) {
  process.stderr.write(`orbitdock: cannot unpack into ${dir}: ${error.message} (set ORBITDOCK_CACHE_DIR to a writable directory)\n`)
  process.exit(1)
}
process.env.ORBITDOCK_SQLITE_ADDON = path.join(dir, manifest.addon)
const entry = path.join(dir, manifest.entry)
createRequire(entry)(entry)
