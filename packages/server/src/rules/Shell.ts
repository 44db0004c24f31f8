/**
 * What a command line would do, read from its syntax tree, not its text: every simple command in
 * it (through `&&`, pipes, subshells, `$(…)`, backquotes, `bash -c '…'`, `sudo`, `env`, `xargs`)
 * with the words it runs, and the risk classes each one carries. The tree comes from mvdan-sh, the
 * JavaScript build of mvdan/sh (the parser behind shfmt): a complete POSIX and Bash parser,
 * synchronous, no native parts — a tokenizer such as shell-quote cannot tell `$(rm -rf /)` inside a
 * word from text. Pure: the same line, directory and home give the same answer.
 */
import type { RiskClass } from "@orbitdock/domain"
import * as path from "node:path"
import sh, { type Node } from "mvdan-sh"
import { BoundedCache } from "../internal/boundedCache.js"

export interface SimpleCommand {
  /** Its words as the shell would pass them (quotes removed); a word with an expansion keeps its source text. */
  readonly words: ReadonlyArray<string>
  /** The words joined by single spaces: what a rule's `command` glob is matched against. */
  readonly text: string
  readonly risk: ReadonlyArray<RiskClass>
  /** Paths it writes (resolved; `?` for one that cannot be known before it runs). */
  readonly writes: ReadonlyArray<string>
}

export interface CommandAnalysis {
  readonly commands: ReadonlyArray<SimpleCommand>
  /** Whether the line parsed: one that did not is one command of its raw text, classed `destructive`. */
  readonly parsed: boolean
  /** Every command's classes, and the line's redirections'. */
  readonly risk: ReadonlyArray<RiskClass>
  readonly writes: ReadonlyArray<string>
}

export const UNKNOWN_PATH = "?"

const { syntax } = sh
const parser = syntax.NewParser()

const READ_ONLY = new Set([
  "ls", "cat", "head", "tail", "less", "more", "grep", "egrep", "fgrep", "rg", "ag", "ack", "wc", "pwd", "echo", "printf",
  "which", "whereis", "type", "whoami", "id", "date", "uname", "hostname", "stat", "file", "du", "df", "tree", "diff", "cmp",
  "sort", "uniq", "cut", "tr", "jq", "yq", "true", "false", "test", "[", "[[", "basename", "dirname", "realpath", "readlink",
  "env", "printenv", "ps", "top", "uptime", "free", "nl", "od", "hexdump", "xxd", "md5sum", "sha1sum", "sha256sum", "column",
  "fold", "fmt", "awk", "seq", "sleep", "cd", "ldd", "lsof", "history", "man", "tldr", "help", "comm", "paste", "expr", "bc"
])
const NETWORK = new Set([
  "curl", "wget", "ssh", "scp", "sftp", "rsync", "nc", "ncat", "netcat", "telnet", "ftp", "ping", "dig", "nslookup", "host",
  "http", "https", "gh", "npx", "bunx", "pnpx"
])
const PRIVILEGE = new Set(["sudo", "su", "doas", "pkexec", "runuser"])
const DESTRUCTIVE = new Set(["rm", "rmdir", "shred", "unlink", "dd", "wipefs", "fdisk", "parted", "truncate", "kill", "killall", "pkill", "reboot", "shutdown", "halt", "poweroff"])
const SHELLS = new Set(["sh", "bash", "zsh", "dash", "ksh", "fish", "python", "python3", "node", "perl", "ruby", "php", "deno", "bun"])
const INSTALLERS = new Set(["npm", "pnpm", "yarn", "bun", "pip", "pip3", "pipx", "cargo", "go", "gem", "brew", "apt", "apt-get", "dnf", "yum", "apk", "pacman", "composer", "poetry", "uv"])
const INSTALL_VERBS = new Set(["install", "i", "add", "ci", "publish", "update", "upgrade", "get", "fetch", "login", "sync", "remove", "uninstall"])
/** Commands whose non-option arguments are files they write. */
const WRITES_ARGS = new Set(["touch", "mkdir", "tee", "chmod", "chown", "chgrp", "ln", "rm", "rmdir", "shred", "unlink", "truncate", "mv", "cp", "install"])
const GIT_READ = new Set(["status", "log", "diff", "show", "blame", "grep", "ls-files", "ls-tree", "rev-parse", "describe", "shortlog", "whatchanged", "cat-file", "rev-list", "merge-base", "show-ref", "help", "version"])
const GIT_NETWORK = new Set(["push", "pull", "fetch", "clone", "ls-remote"])
/** Output redirections: `>`, `>>`, `>|`, `&>`, `&>>`, `<>` (and `>&` to a file). */
const WRITE_REDIRECTS = new Set([54, 55, 57, 60, 64, 65])
const DUP_OUT = 59
const PIPES = new Set([12, 13])
const HARMLESS_TARGETS = new Set(["/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty"])

/** A word's value as the shell passes it, or its source text when it expands something. */
const wordText = (word: Node, source: string): string => {
  let text = ""
  for (const part of word.Parts as ReadonlyArray<Node>) {
    const type = syntax.NodeType(part)
    if (type === "Lit") text += String(part.Value).replace(/\\(.)/g, "$1")
    else if (type === "SglQuoted") text += String(part.Value)
    else if (type === "DblQuoted" && (part.Parts as ReadonlyArray<Node>).every((inner) => syntax.NodeType(inner) === "Lit")) {
      text += (part.Parts as ReadonlyArray<Node>).map((inner) => String(inner.Value)).join("")
    } else text += source.slice(part.Pos().Offset(), part.End().Offset())
  }
  return text
}

const isDynamic = (word: Node): boolean =>
  (word.Parts as ReadonlyArray<Node>).some((part) => {
    const type = syntax.NodeType(part)
    if (type === "Lit" || type === "SglQuoted") return false
    if (type === "DblQuoted") return !(part.Parts as ReadonlyArray<Node>).every((inner) => syntax.NodeType(inner) === "Lit")
    return true
  })

interface Context {
  readonly home: string
  /** The project: writes inside it are `writes_project`; null when unknown. */
  readonly project: string | null
  /** Where relative paths lead (`cd` moves it); null when unknown. */
  cwd: string | null
}

/** A path a command names, resolved; `?` when it depends on the environment. */
const resolvePath = (word: string, context: Context): string => {
  let value = word
  if (value === "~" || value.startsWith("~/")) value = context.home + value.slice(1)
  value = value.replace(/^\$(HOME|\{HOME\})(?=\/|$)/, context.home)
  if (/[$`]/.test(value)) return UNKNOWN_PATH
  if (path.isAbsolute(value)) return path.normalize(value)
  return context.cwd === null ? UNKNOWN_PATH : path.resolve(context.cwd, value)
}

const basename = (word: string): string => word.slice(word.lastIndexOf("/") + 1)

/** Drops a wrapper's own options (and their values) before the command it runs. */
const afterOptions = (words: ReadonlyArray<string>, withValue: ReadonlySet<string>): ReadonlyArray<string> => {
  let i = 0
  while (i < words.length && words[i].startsWith("-")) {
    if (words[i] === "--") return words.slice(i + 1)
    i += withValue.has(words[i]) ? 2 : 1
  }
  return words.slice(i)
}

interface Classified {
  readonly risk: Set<RiskClass>
  readonly writes: Array<string>
  /** A script it runs (`bash -c`, `eval`): analysed as commands of their own. */
  readonly nested: Array<string>
  /** The command a wrapper runs (`sudo rm …`): classified in its place. */
  readonly wrapped: ReadonlyArray<string> | null
  /** Only runs a script (`bash -c '…'`, `eval`): its commands stand for it, it is not one itself. */
  readonly scriptOnly: boolean
}

const classify = (words: ReadonlyArray<string>, context: Context, fromPipe: boolean): Classified => {
  const risk = new Set<RiskClass>()
  const writes: Array<string> = []
  const nested: Array<string> = []
  const name = basename(words[0] ?? "")
  const args = words.slice(1)
  const operands = args.filter((arg) => !arg.startsWith("-"))
  const result = (wrapped: ReadonlyArray<string> | null = null, scriptOnly = false): Classified => ({ risk, writes, nested, wrapped, scriptOnly })

  if (PRIVILEGE.has(name)) {
    risk.add("privilege")
    if (name === "su") {
      const script = args.indexOf("-c")
      if (script >= 0 && script + 1 < args.length) nested.push(args[script + 1])
      return result()
    }
    return result(afterOptions(args, new Set(["-u", "-g", "-C", "-h", "-p", "-U", "-r", "-t"])))
  }
  switch (name) {
    case "env": {
      let rest = afterOptions(args, new Set(["-u", "-C", "-S"]))
      while (rest.length > 0 && /^[A-Za-z_][A-Za-z0-9_]*=/.test(rest[0])) rest = rest.slice(1)
      return rest.length === 0 ? (risk.add("read_only"), result()) : result(rest)
    }
    case "nohup":
    case "time":
    case "exec":
    case "command":
    case "builtin":
    case "stdbuf":
      return result(afterOptions(args, new Set()))
    case "nice":
      return result(afterOptions(args, new Set(["-n"])))
    case "timeout":
      return result(afterOptions(args, new Set(["-s", "-k", "--signal", "--kill-after"])).slice(1))
    case "xargs":
      return result(afterOptions(args, new Set(["-I", "-n", "-P", "-L", "-d", "-E", "-s", "-a"])))
    case "eval":
      nested.push(args.join(" "))
      return result(null, true)
  }
  if (SHELLS.has(name)) {
    // `-c`, or with other flags (`bash -lc '…'`, as agents run commands).
    const script = args.findIndex((arg) => /^-[a-zA-Z]*c[a-zA-Z]*$/.test(arg))
    if (script >= 0 && script + 1 < args.length && ["sh", "bash", "zsh", "dash", "ksh", "fish"].includes(name)) {
      nested.push(args[script + 1])
      return result(null, true)
    }
    // Reading its program from a pipe (`curl … | sh`): whatever arrives runs.
    if (fromPipe && (operands.length === 0 || operands[0] === "-")) risk.add("destructive")
    risk.add("writes_project")
    return result()
  }
  if (name === "cd") {
    const target = operands[0] ?? "~"
    context.cwd = resolvePath(target, context) === UNKNOWN_PATH ? null : resolvePath(target, context)
    risk.add("read_only")
    return result()
  }
  if (name === "git") {
    const rest = afterOptions(args, new Set(["-C", "-c", "--git-dir", "--work-tree"]))
    const sub = rest[0] ?? ""
    const subArgs = rest.slice(1)
    const has = (...flags: ReadonlyArray<string>) => subArgs.some((arg) => flags.includes(arg) || flags.some((flag) => flag.startsWith("-") && !flag.startsWith("--") && /^-[a-zA-Z]+$/.test(arg) && arg.includes(flag.slice(1))))
    if (GIT_NETWORK.has(sub)) risk.add("network")
    if (sub === "push" && (has("-f", "--force", "--force-with-lease", "--mirror", "--delete", "-d") || subArgs.some((arg) => arg.startsWith("+") || arg.startsWith("--force")))) {
      risk.add("destructive")
    } else if (sub === "reset" && has("--hard")) risk.add("destructive")
    else if (sub === "clean" && has("-f", "--force")) risk.add("destructive")
    else if (sub === "branch" && has("-D", "--delete", "-d")) risk.add("destructive")
    else if (sub === "stash" && ["drop", "clear"].includes(subArgs[0] ?? "")) risk.add("destructive")
    else if ((sub === "checkout" || sub === "restore") && (subArgs.includes("--") || subArgs.includes("."))) risk.add("destructive")
    else if (sub === "filter-branch" || sub === "filter-repo" || (sub === "reflog" && subArgs[0] === "expire")) risk.add("destructive")
    if (GIT_READ.has(sub) || (sub === "branch" && subArgs.every((arg) => ["-a", "-r", "-v", "-vv", "--list", "--show-current"].includes(arg))) ||
      (sub === "remote" && subArgs.every((arg) => arg === "-v")) || (sub === "config" && subArgs.some((arg) => ["--get", "--list", "-l", "--get-all"].includes(arg))) ||
      (sub === "stash" && subArgs[0] === "list") || (sub === "tag" && subArgs.every((arg) => arg === "-l" || arg === "--list"))) {
      if (risk.size === 0) risk.add("read_only")
    } else if (!risk.has("network") || sub === "pull" || sub === "clone") risk.add("writes_project")
    if (sub === "clone" && rest.length >= 3) writes.push(resolvePath(rest[rest.length - 1], context))
    return result()
  }
  if (name === "find") {
    if (args.includes("-delete") || args.some((arg, i) => (arg === "-exec" || arg === "-execdir" || arg === "-ok") && DESTRUCTIVE.has(basename(args[i + 1] ?? "")))) {
      risk.add("destructive")
      for (const start of args.slice(0, Math.max(0, args.findIndex((arg) => arg.startsWith("-")))).filter((arg) => !arg.startsWith("-"))) {
        writes.push(resolvePath(start, context))
      }
    } else risk.add("read_only")
    return result()
  }
  if (name === "sed" || name === "perl") {
    const inPlace = args.some((arg) => /^-[a-zA-Z]*i/.test(arg) || arg.startsWith("--in-place"))
    if (!inPlace) risk.add(name === "sed" ? "read_only" : "writes_project")
    else {
      risk.add("writes_project")
      for (const file of operands.slice(1)) writes.push(resolvePath(file, context))
    }
    return result()
  }
  if (INSTALLERS.has(name)) {
    if (INSTALL_VERBS.has(operands[0] ?? "")) risk.add("network")
    if (["apt", "apt-get", "dnf", "yum", "apk", "pacman"].includes(name) && risk.has("network")) risk.add("privilege")
    if (name === "npm" && ["ls", "list", "view", "info", "outdated", "why", "explain", "help"].includes(operands[0] ?? "")) {
      if (operands[0] !== "outdated" && operands[0] !== "view" && operands[0] !== "info") risk.add("read_only")
      else risk.add("network")
      return result()
    }
    risk.add("writes_project")
    return result()
  }
  if (name === "chmod" || name === "chown" || name === "chgrp") {
    if (args.some((arg) => /^-[a-zA-Z]*R/.test(arg) || arg === "--recursive")) risk.add("destructive")
  }
  if (DESTRUCTIVE.has(name)) risk.add("destructive")
  if (NETWORK.has(name)) risk.add("network")
  if (WRITES_ARGS.has(name)) {
    const targets = name === "cp" || name === "install" ? operands.slice(-1) : name === "chmod" || name === "chown" || name === "chgrp" ? operands.slice(1) : operands
    for (const target of targets) writes.push(resolvePath(target, context))
    if (name === "mv") risk.add("destructive")
  }
  if (name === "dd") for (const arg of args) if (arg.startsWith("of=")) writes.push(resolvePath(arg.slice(3), context))
  if (name === "curl" || name === "wget") {
    args.forEach((arg, i) => {
      if ((arg === "-o" || arg === "-O" || arg === "--output" || arg === "--output-document") && args[i + 1] !== undefined && args[i + 1] !== "-") {
        writes.push(resolvePath(args[i + 1], context))
      }
    })
  }
  // A command that only writes the files it names is classed by where they are (below).
  if (risk.size === 0 && !(WRITES_ARGS.has(name) && writes.length > 0)) risk.add(READ_ONLY.has(name) ? "read_only" : "writes_project")
  return result()
}

const MAX_DEPTH = 4

const analyzeInto = (source: string, context: Context, commands: Array<SimpleCommand>, extraRisk: Set<RiskClass>, depth: number): boolean => {
  let file: Node
  try {
    file = parser.Parse(source, "")
  } catch {
    return false
  }
  // By source offset: the parser's JavaScript wrappers are not the same object on each visit.
  const receivers = new Set<number>()
  const redirectsOf = new Map<number, ReadonlyArray<Node>>()
  const calls: Array<Node> = []
  syntax.Walk(file, (node) => {
    if (node === null) return true
    const type = syntax.NodeType(node)
    if (type === "BinaryCmd" && PIPES.has(node.Op as number)) {
      const receiver = (node.Y as Node).Cmd as Node | null
      if (receiver !== null && syntax.NodeType(receiver) === "CallExpr") receivers.add(receiver.Pos().Offset())
    } else if (type === "Stmt") {
      const cmd = node.Cmd as Node | null
      const redirs = (node.Redirs as ReadonlyArray<Node>) ?? []
      if (cmd !== null && syntax.NodeType(cmd) === "CallExpr") redirectsOf.set(cmd.Pos().Offset(), redirs)
      else if (redirs.length > 0) {
        // A compound command's redirections: writes of the line as a whole.
        for (const redir of redirs) {
          const target = redirectTarget(redir, source, context)
          if (target !== null) extraRisk.add(target === UNKNOWN_PATH || !inside(target, context) ? "writes_outside" : "writes_project")
        }
      }
    } else if (type === "CallExpr") calls.push(node)
    return true
  })
  for (const call of calls) {
    const args = call.Args as ReadonlyArray<Node>
    let words: ReadonlyArray<string> = args.map((word) => wordText(word, source))
    if (words.length === 0) continue // `FOO=1` alone
    const dynamicHead = args.length > 0 && isDynamic(args[0])
    const risk = new Set<RiskClass>()
    const writes: Array<string> = []
    // Its place, before the commands of a script it runs (`bash -c '…'`).
    const place = commands.length
    const at = call.Pos().Offset()
    for (const redir of redirectsOf.get(at) ?? []) {
      const target = redirectTarget(redir, source, context)
      if (target !== null) writes.push(target)
    }
    // Unwrap `sudo`, `env`, `nohup`, …: the wrapper's classes join those of what it runs.
    let scriptOnly = false
    for (let guard = 0; guard < 8; guard++) {
      const classified = classify(words, context, receivers.has(at))
      scriptOnly = classified.scriptOnly
      for (const risky of classified.risk) risk.add(risky)
      writes.push(...classified.writes)
      for (const script of classified.nested) {
        if (depth >= MAX_DEPTH || !analyzeInto(script, context, commands, extraRisk, depth + 1)) risk.add("destructive")
      }
      if (classified.wrapped === null || classified.wrapped.length === 0) break
      words = classified.wrapped
      risk.delete("read_only")
    }
    if (scriptOnly && !dynamicHead && risk.size === 0 && writes.length === 0) continue
    if (dynamicHead) risk.add("destructive") // `$CMD …`: what runs is not known
    for (const target of writes) {
      risk.delete("read_only")
      risk.add(target === UNKNOWN_PATH || !inside(target, context) ? "writes_outside" : "writes_project")
    }
    if (risk.has("writes_outside") || risk.has("destructive") || risk.has("network") || risk.has("privilege")) risk.delete("read_only")
    const text = args.map((word) => wordText(word, source)).join(" ")
    commands.splice(place, 0, { words: args.map((word) => wordText(word, source)), text, risk: ordered(risk), writes })
  }
  return true
}

const redirectTarget = (redir: Node, source: string, context: Context): string | null => {
  const op = redir.Op as number
  const word = redir.Word as Node | null
  if (word === null) return null
  const text = wordText(word, source)
  if (op === DUP_OUT && /^(\d+|-)$/.test(text)) return null
  if (!WRITE_REDIRECTS.has(op) && op !== DUP_OUT) return null
  const target = resolvePath(text, context)
  return HARMLESS_TARGETS.has(target) ? null : target
}

const inside = (target: string, context: Context): boolean =>
  context.project !== null && (target === context.project || target.startsWith(context.project.endsWith("/") ? context.project : `${context.project}/`))

const ORDER: ReadonlyArray<RiskClass> = ["read_only", "writes_project", "writes_outside", "network", "destructive", "privilege"]
const ordered = (risk: ReadonlySet<RiskClass>): ReadonlyArray<RiskClass> => ORDER.filter((r) => risk.has(r))

// Agents run the same few commands over and over: a parse (~0.3 ms) is done once per line and directory.
const analyses = new BoundedCache<string, CommandAnalysis>(20_000)

/** The simple commands of `line` run in `cwd` (null: unknown) by a user whose home is `home`. */
export const analyze = (line: string, cwd: string | null, home: string): CommandAnalysis => {
  const key = `${cwd ?? ""}\u0000${home}\u0000${line}`
  const known = analyses.get(key)
  if (known !== undefined) return known
  const analysis = analyzeLine(line, cwd, home)
  analyses.set(key, analysis)
  return analysis
}

/** Longer lines are not parsed (an agent's command line is short; a huge one would hold the event loop). */
export const MAX_PARSED_LENGTH = 16_384

const analyzeLine = (line: string, cwd: string | null, home: string): CommandAnalysis => {
  const project = cwd === null ? null : path.normalize(cwd)
  const context: Context = { home, project, cwd: project }
  const commands: Array<SimpleCommand> = []
  const extra = new Set<RiskClass>()
  let parsed = false
  if (line.length <= MAX_PARSED_LENGTH) {
    try {
      parsed = analyzeInto(line, context, commands, extra, 0)
    } catch {
      // A tree too deep to walk (hostile nesting): judged like a line that does not parse.
      parsed = false
    }
  }
  if (!parsed) {
    const text = line.slice(0, MAX_PARSED_LENGTH).trim().split(/\s+/).join(" ")
    return { commands: [{ words: [line], text, risk: ["destructive"], writes: [] }], parsed: false, risk: ["destructive"], writes: [] }
  }
  const risk = new Set<RiskClass>(extra)
  for (const command of commands) for (const r of command.risk) risk.add(r)
  if (risk.size === 0) risk.add("read_only")
  if ([...risk].some((r) => r !== "read_only")) risk.delete("read_only")
  return { commands, parsed: true, risk: ordered(risk), writes: commands.flatMap((command) => command.writes) }
}
