/** Light, dark, or the system's choice; remembered in localStorage, applied as `data-theme` on <html>. */
export type Theme = "system" | "light" | "dark"

const KEY = "orbitdock.theme"

export const load = (): Theme => {
  try {
    const saved = window.localStorage.getItem(KEY)
    return saved === "light" || saved === "dark" ? saved : "system"
  } catch {
    return "system"
  }
}

export const apply = (theme: Theme): void => {
  if (theme === "system") delete document.documentElement.dataset.theme
  else document.documentElement.dataset.theme = theme
  try {
    window.localStorage.setItem(KEY, theme)
  } catch {
    // not remembered; still applied
  }
}

/** system → light → dark → system */
export const next = (theme: Theme): Theme => (theme === "system" ? "light" : theme === "light" ? "dark" : "system")
