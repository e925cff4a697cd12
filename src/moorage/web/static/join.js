// The join page of a workshop (templates/join.html): before the start, a countdown
// that reloads the page when the workshop opens (the server then opens the workspace).
"use strict";

(() => {
  const t = window.moorageT || ((text) => text);  // static/i18n.js
  const box = document.getElementById("join-countdown");
  if (!box) return;
  const startsAt = Date.parse(box.dataset.startsAt);
  const pad = (n) => String(n).padStart(2, "0");
  const tick = () => {
    const left = startsAt - Date.now();
    if (left <= 0) {
      box.textContent = t("now");
      clearInterval(timer);
      setTimeout(() => window.location.reload(), 500);
      return;
    }
    const s = Math.floor(left / 1000);
    const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
    box.textContent = (d ? `${t("{days} d", { days: d })} ` : "") + (d || h ? `${h}:${pad(m)}` : `${m}`) + `:${pad(s % 60)}`;
  };
  const timer = setInterval(tick, 1000);
  tick();
})();
