/**
 * How the page gets its token without leaving it in the URL bar: `orbitdock open` forwards the
 * browser to `/#token=…` (a fragment never reaches a server, a log or a Referer); `/?token=…` works
 * too. The page reads it once, keeps it in sessionStorage (per tab, gone when the tab closes) and
 * rewrites the URL without it. A paired device's own token (from `#pair=<code>`, what
 * `orbitdock pair`'s QR code opens) is kept in localStorage instead: a phone's home-screen app
 * opens without a link. Pure parts (`split`, `pairCode`) unit-tested in `test/format.test.ts`.
 */

const KEY = "orbitdock.token"
const DEVICE_KEY = "orbitdock.device-token"

/** The pairing code of a URL's fragment (`#pair=ABCD-EFGH`) and the same URL without it. */
export const splitPairCode = (href: string): { readonly code: string | null; readonly cleanHref: string } => {
  const url = new URL(href)
  if (!url.hash.startsWith("#pair=")) return { code: null, cleanHref: href }
  const code = new URLSearchParams(url.hash.slice(1)).get("pair")
  url.hash = ""
  return { code: code === null || code.trim() === "" ? null : code.trim(), cleanHref: url.toString().replace(/#$/, "") }
}

/** Whether what a person typed looks like a pairing code (8 letters and digits, a dash allowed) rather than a token. */
export const looksLikePairCode = (text: string): boolean => /^[0-9a-z]{4}-?[0-9a-z]{4}$/i.test(text.trim())

/** Takes a pairing code from the URL, removing it from the address bar (it is good once). */
export const takePairCode = (): string | null => {
  const { code, cleanHref } = splitPairCode(window.location.href)
  if (code !== null) window.history.replaceState(window.history.state, "", cleanHref)
  return code
}

/** Keeps this device's own token (from pairing) across visits. */
export const saveDevice = (token: string): void => {
  try {
    window.localStorage.setItem(DEVICE_KEY, token)
  } catch {
    // see load()
  }
}

/**
 * The token of a URL (its fragment `#token=…`, else its `token` query parameter) and the same URL
 * without it. A fragment that is a route (`#/s/<id>`) is not a token's.
 */
export const split = (href: string): { readonly token: string | null; readonly cleanHref: string } => {
  const url = new URL(href)
  let token: string | null = null
  if (url.hash.startsWith("#") && !url.hash.startsWith("#/")) {
    const fragment = new URLSearchParams(url.hash.slice(1))
    token = fragment.get("token")
    if (token !== null) {
      fragment.delete("token")
      const rest = fragment.toString()
      url.hash = rest === "" ? "" : `#${rest}`
    }
  }
  const query = url.searchParams.get("token")
  if (query !== null) {
    url.searchParams.delete("token")
    token ??= query
  }
  if (token === null && query === null) return { token: null, cleanHref: href }
  // `URL` keeps a bare "#" for an emptied fragment: drop it too.
  const cleanHref = url.toString().replace(/#$/, "")
  return { token: token === null || token.trim() === "" ? null : token.trim(), cleanHref }
}

/** Takes the token from the URL (then removes it from the address bar), else sessionStorage, else this device's own. */
export const load = (): string | null => {
  const { token, cleanHref } = split(window.location.href)
  if (token !== null) {
    try {
      window.sessionStorage.setItem(KEY, token)
    } catch {
      // Storage refused (privacy mode): the token still lives in memory for this page.
    }
    window.history.replaceState(window.history.state, "", cleanHref)
    return token
  }
  try {
    return window.sessionStorage.getItem(KEY) ?? window.localStorage.getItem(DEVICE_KEY)
  } catch {
    return null
  }
}

/** Stores a token pasted by the user. */
export const save = (token: string): void => {
  try {
    window.sessionStorage.setItem(KEY, token.trim())
  } catch {
    // see load()
  }
}

/** Forgets a token the server refused (a device's too: it was unpaired). */
export const forget = (): void => {
  try {
    window.sessionStorage.removeItem(KEY)
    window.localStorage.removeItem(DEVICE_KEY)
  } catch {
    // see load()
  }
}
