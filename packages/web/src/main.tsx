/** Entry: pairs this device (`#pair=<code>`) or reads the token (then hides it from the URL bar), connects through the SDK, renders. */
import { createRoot } from "react-dom/client"
import { App } from "./components/App.js"
import { TokenScreen } from "./components/TokenScreen.js"
import * as Connection from "./connection.js"
import { deviceName } from "./logic/deviceName.js"
import * as Push from "./logic/push.js"
import * as Theme from "./theme.js"
import * as Token from "./token.js"
import "./styles.css"

Theme.apply(Theme.load())
// The service worker makes the page installable and shows notifications; it asks for nothing.
void Push.registerWorker().catch(() => {})
const root = createRoot(document.getElementById("root")!)

const start = async (token: string): Promise<void> => {
  // A wrong token would make the socket retry forever: ask the HTTP API once, first.
  const verdict = await Connection.probe(token)
  if (verdict === "refused") {
    Token.forget()
    root.render(<TokenScreen reason="The server refused this token (or this device was unpaired)." onToken={retry} />)
    return
  }
  const client = await Connection.open(token)
  // Cut off while open (the device was unpaired, the token changed): the socket would retry forever.
  const stop = client.on("notice", (notice) => {
    if (notice._tag !== "Disconnected") return
    void Connection.probe(token).then((now) => {
      if (now !== "refused") return
      stop()
      void client.close()
      Token.forget()
      root.render(<TokenScreen reason="This device was unpaired, or the server's token changed: it no longer gets in." onToken={retry} />)
    })
  })
  root.render(<App client={client} token={token} />)
}

/** Exchanges a pairing code for this device's own token, kept across visits. */
const pair = async (code: string): Promise<void> => {
  root.render(<TokenScreen reason={`Pairing this device (code ${code})…`} onToken={retry} />)
  try {
    const token = await Connection.pair(code, deviceName(navigator.userAgent))
    Token.saveDevice(token)
    await start(token)
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error)
    root.render(<TokenScreen reason={`This device could not be paired: ${why}. Run \`orbitdock pair\` for a new code.`} onToken={retry} />)
  }
}

/** What a person typed: a pairing code (8 letters and digits) or a token. */
const retry = (typed: string): void => {
  if (Token.looksLikePairCode(typed)) return void pair(typed)
  Token.save(typed)
  void start(typed)
}

const pairCode = Token.takePairCode()
const token = Token.load()
if (pairCode !== null) void pair(pairCode)
else if (token === null) root.render(<TokenScreen reason={null} onToken={retry} />)
else void start(token)
