/** Shown when the page has no token (opened without `orbitdock open`'s link), a refused one, or while pairing. */
import { useState } from "react"

export const TokenScreen = ({ reason, onToken }: { reason: string | null; onToken: (token: string) => void }) => {
  const [value, setValue] = useState("")
  return (
    <main className="token-screen" data-testid="token-screen">
      <h1>OrbitDock</h1>
      {reason !== null && <p className="error">{reason}</p>}
      <p>
        Open this page with the link that <code>orbitdock open</code> prints (or the one in the <code>serve</code> log), or paste
        the token from <code>~/.orbitdock/token</code>. On a phone: scan the QR code of <code>orbitdock pair</code>, or type its
        pairing code here.
      </p>
      <form
        onSubmit={(e) => {
          e.preventDefault()
          if (value.trim() !== "") onToken(value.trim())
        }}
      >
        <input type="password" autoFocus placeholder="token or pairing code" value={value} onChange={(e) => setValue(e.target.value)} aria-label="token or pairing code" />
        <button type="submit">Connect</button>
      </form>
    </main>
  )
}
