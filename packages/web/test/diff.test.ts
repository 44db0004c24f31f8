import { describe, expect, it } from "vitest"
import * as Diff from "../src/logic/diff.js"

const gitDiff = `diff --git a/src/app.ts b/src/app.ts
index 1234567..89abcde 100644
--- a/src/app.ts
+++ b/src/app.ts
@@ -10,4 +10,5 @@ export const main = () => {
 const a = 1
-const b = 2
+const b = 3
+const c = 4
 return a
\\ No newline at end of file
diff --git a/README.md b/README.md
new file mode 100644
--- /dev/null
+++ b/README.md
@@ -0,0 +1,2 @@
+# Title
+text
`

describe("diff parsing", () => {
  it("splits files and numbers old and new lines", () => {
    const files = Diff.parse(gitDiff)
    expect(files.map((f) => [f.path, f.added, f.removed])).toEqual([
      ["src/app.ts", 2, 1],
      ["README.md", 2, 0]
    ])
    const body = files[0].lines.filter((l) => l.kind !== "file")
    expect(body.map((l) => [l.kind, l.text, l.oldNo, l.newNo])).toEqual([
      ["meta", "index 1234567..89abcde 100644", undefined, undefined],
      ["hunk", "@@ -10,4 +10,5 @@ export const main = () => {", undefined, undefined],
      ["context", "const a = 1", 10, 10],
      ["del", "const b = 2", 11, undefined],
      ["add", "const b = 3", undefined, 11],
      ["add", "const c = 4", undefined, 12],
      ["context", "return a", 12, 13],
      ["meta", "\\ No newline at end of file", undefined, undefined]
    ])
    expect(files[1].lines.filter((l) => l.kind === "add").map((l) => l.newNo)).toEqual([1, 2])
  })

  it("reads a plain unified diff without a git header, and a bare hunk", () => {
    const plain = Diff.parse("--- a/x.txt\t2026-01-01\n+++ b/x.txt\t2026-01-02\n@@ -1 +1 @@\n-old\n+new\n")
    expect(plain).toHaveLength(1)
    expect(plain[0].path).toBe("x.txt")
    expect(plain[0].lines.filter((l) => l.kind === "del" || l.kind === "add").map((l) => l.text)).toEqual(["old", "new"])
    const bare = Diff.parse("@@ -3,2 +3,2 @@\n a\n-b\n+c")
    expect(bare[0].path).toBe("")
    expect(bare[0].lines.map((l) => l.kind)).toEqual(["hunk", "context", "del", "add"])
    // A removed line that starts with "--" inside a hunk is a deletion, not a file header.
    const dashes = Diff.parse("--- a/f\n+++ b/f\n@@ -1,2 +1,1 @@\n--- not a header\n keep\n")
    expect(dashes).toHaveLength(1)
    expect(dashes[0].lines.filter((l) => l.kind === "del").map((l) => l.text)).toEqual(["-- not a header"])
  })

  it("recognises diffs, and not ordinary output", () => {
    expect(Diff.looksLikeDiff(gitDiff)).toBe(true)
    expect(Diff.looksLikeDiff("@@ -1 +1 @@\n-a\n+b")).toBe(true)
    expect(Diff.looksLikeDiff("--- a/x\n+++ b/x\n")).toBe(true)
    expect(Diff.looksLikeDiff("ran: ls -la")).toBe(false)
    expect(Diff.looksLikeDiff("total 0\n-rw-r--r-- 1 me me 0 file")).toBe(false)
  })
})
