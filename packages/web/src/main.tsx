/** Entry: reads the token (then hides it from the URL bar), connects through the SDK, renders. */
import { createRoot } from "react-dom/client"
import { App } from "./components/App.js"
import { TokenScreen } from "./components/TokenScreen.js"
import * as Connection from "./connection.js"
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
    root.render(<TokenScreen reason="The server refused this token." onToken={retry} />)
    return
  }
  const client = await Connection.open(token)
  root.render(<App client={client} token={token} />)
}

const retry = (token: string): void => {
  Token.save(token)
  void start(token)
}

const token = Token.load()
if (token === null) root.render(<TokenScreen reason={null} onToken={retry} />)
else void start(token)
