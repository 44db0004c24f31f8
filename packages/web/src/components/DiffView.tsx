/** A unified diff rendered as one: files, hunks, added and removed lines with their line numbers. */
import { memo, useMemo } from "react"
import { parse } from "../logic/diff.js"

export const DiffView = memo(({ text }: { text: string }) => {
  const files = useMemo(() => parse(text), [text])
  return (
    <div className="diff" data-testid="diff">
      {files.map((file, f) => (
        <div className="diff-file" key={f}>
          <div className="diff-file-name">
            {file.path || "(diff)"} <span className="add-count">+{file.added}</span> <span className="del-count">−{file.removed}</span>
          </div>
          <table>
            <tbody>
              {file.lines.map((line, i) =>
                line.kind === "file" ? null : (
                  <tr key={i} className={`diff-${line.kind}`}>
                    <td className="ln">{line.oldNo ?? ""}</td>
                    <td className="ln">{line.newNo ?? ""}</td>
                    <td className="sign">{line.kind === "add" ? "+" : line.kind === "del" ? "−" : ""}</td>
                    <td className="code">{line.text}</td>
                  </tr>
                )
              )}
            </tbody>
          </table>
        </div>
      ))}
    </div>
  )
})
