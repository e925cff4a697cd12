// The colour theme (Tabler's data-bs-theme on <html>), set before the first paint by
// _theme_head.html. Here: the navbar's toggle (#theme-toggle), which stores the
// choice in localStorage ("moorage-theme") for every page of this browser, and the
// system's setting (prefers-color-scheme) followed live while no choice is stored.
(() => {
  const KEY = "moorage-theme";
  const system = window.matchMedia("(prefers-color-scheme: dark)");

  function stored() {
    try {
      const theme = localStorage.getItem(KEY);
      return theme === "dark" || theme === "light" ? theme : null;
    } catch (e) {
      return null;
    }
  }

  function apply(theme) {
    document.documentElement.dataset.bsTheme = theme;
    const toggle = document.getElementById("theme-toggle");
    if (!toggle) return;
    const other = theme === "dark" ? "light" : "dark";
    const t = window.moorageT || ((text) => text);  // static/i18n.js
    const label = other === "dark" ? t("Use the dark theme") : t("Use the light theme");
    toggle.setAttribute("aria-label", label);
    toggle.title = label;
  }

  system.addEventListener("change", () => {
    if (!stored()) apply(system.matches ? "dark" : "light");
  });
  // A choice made in another tab applies here too.
  window.addEventListener("storage", (event) => {
    if (event.key === KEY) apply(stored() || (system.matches ? "dark" : "light"));
  });
  document.addEventListener("click", (event) => {
    if (!event.target.closest || !event.target.closest("#theme-toggle")) return;
    const next = document.documentElement.dataset.bsTheme === "dark" ? "light" : "dark";
    try { localStorage.setItem(KEY, next); } catch (e) { /* kept for this page only */ }
    apply(next);
  });
  apply(stored() || (system.matches ? "dark" : "light"));
})();
