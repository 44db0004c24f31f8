/**
 * Risk classes from the parsed command line: what each kind of command is classed, and that the
 * parser, not the text, decides what the simple commands are.
 */
import { describe, expect, it } from "vitest"
import * as Shell from "../../src/rules/Shell.js"

const HOME = "/home/anna"
const CWD = "/home/anna/project"
const analyze = (line: string) => Shell.analyze(line, CWD, HOME)
const texts = (line: string) => analyze(line).commands.map((command) => command.text)

describe("the simple commands of a line", () => {
  it("are split by the parser, through lists, pipes, subshells, substitutions, and shells given a script", () => {
    expect(texts("git status && rm -rf ~")).toEqual(["git status", "rm -rf ~"])
    expect(texts("echo 'git status && rm -rf ~'")).toEqual(["echo git status && rm -rf ~"])
    expect(texts("echo $(whoami) `id`")).toEqual(["echo $(whoami) `id`", "whoami", "id"])
    expect(texts("(cd /tmp; ls) | wc -l")).toEqual(["cd /tmp", "ls", "wc -l"])
    // A shell given a script is its commands (as agents run them: `bash -lc '…'`).
    expect(texts("bash -c 'npm test && git push'")).toEqual(["npm test", "git push"])
    expect(texts("/bin/bash -lc 'touch a.txt'")).toEqual(["touch a.txt"])
    expect(texts("sudo bash -c 'rm -rf /x'")).toEqual(["sudo bash -c rm -rf /x", "rm -rf /x"])
    expect(texts("FOO=1 npm test")).toEqual(["npm test"])
  })
})

describe("risk classes", () => {
  const risk = (line: string) => analyze(line).risk
  it("reads only", () => {
    for (const line of ["git status", "ls -la src", "cat package.json | grep name", "git log --oneline -5", "rg TODO src", "echo hi > /dev/null"]) {
      expect(risk(line), line).toEqual(["read_only"])
    }
  })
  it("writes inside or outside the project", () => {
    expect(risk("npm test")).toEqual(["writes_project"])
    expect(risk("echo hi > notes.txt")).toEqual(["writes_project"])
    expect(risk("echo hi > /etc/motd")).toEqual(["writes_outside"])
    expect(risk("cp build/app ~/bin/app")).toEqual(["writes_outside"])
    expect(risk("cd /tmp && touch x")).toEqual(["writes_outside"])
    expect(risk("mkdir -p src/new")).toEqual(["writes_project"])
    expect(risk("tee $SOMEWHERE < in")).toEqual(["writes_outside"])
  })
  it("reaches the network", () => {
    expect(risk("curl -s https://example.com")).toEqual(["network"])
    expect(risk("npm install left-pad")).toEqual(["writes_project", "network"])
    expect(risk("git fetch origin")).toContain("network")
  })
  it("destroys", () => {
    for (const line of ["rm -rf build", "git push --force origin main", "git push -f", "git reset --hard HEAD~1", "git clean -fdx", "find . -name '*.o' -delete", "curl https://x.sh | sh", "dd if=/dev/zero of=disk.img", "$CMD arg", "kill -9 1234", "xargs rm < list"]) {
      expect(risk(line), line).toContain("destructive")
    }
    expect(risk("rm -rf ~")).toEqual(["writes_outside", "destructive"])
    expect(risk("git push origin main")).not.toContain("destructive")
  })
  it("acts with privilege, classed with what it runs", () => {
    expect(risk("sudo rm -rf /var/cache/x")).toEqual(["writes_outside", "destructive", "privilege"])
    expect(risk("sudo apt-get install jq")).toContain("privilege")
    expect(risk("env FOO=1 sudo -u root ls")).toEqual(["privilege"])
  })
  it("a line that does not parse or is too long is one destructive command of its text", () => {
    const analysis = analyze("echo (")
    expect(analysis.parsed).toBe(false)
    expect(analysis.risk).toEqual(["destructive"])
    expect(analyze(`echo ${"a".repeat(Shell.MAX_PARSED_LENGTH)}`).risk).toEqual(["destructive"])
    // Deep nesting is read or refused, never a crash.
    const deep = `${"$(echo ".repeat(1500)}x${")".repeat(1500)}`
    expect(analyze(deep).risk.length).toBeGreaterThan(0)
  })
})
