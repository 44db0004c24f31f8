/**
 * How the page gets its token without leaving it in the URL bar: `orbitdock open` forwards the
 * browser to `/#token=…` (a fragment never reaches a server, a log or a Referer); `/?token=…` works
 * too. The page reads it once, keeps it in sessionStorage (per tab, gone when the tab closes) and
 * rewrites the URL without it. Pure part (`split`) unit-tested in `test/format.test.ts`.
 */

const KEY = "orbitdock.token"

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

/** Takes the token from the URL (then removes it from the address bar) or from sessionStorage. */
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
    return window.sessionStorage.getItem(KEY)
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

/** Forgets a token the server refused. */
export const forget = (): void => {
  try {
    window.sessionStorage.removeItem(KEY)
  } catch {
    // see load()
  }
}
