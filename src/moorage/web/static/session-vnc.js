// The desktop of a vnc session: noVNC on the session's websocket, the clipboard,
// and full screen (the expiry warnings of session.js live inside #screen, so they
// show in full screen too). A lost connection is opened again by itself after 1, 2,
// 4 … 15 s (the desktop keeps running in its container), until the session ends
// (session.js sends "moorage:session-ended").
import RFB from "/static/vendor/novnc-rfb.js";  // noVNC bundled by scripts/build-static.sh

const t = window.moorageT || ((text) => text);  // static/i18n.js
const screen = document.getElementById("screen");
const status = document.getElementById("desktop-status");
const scheme = location.protocol === "https:" ? "wss" : "ws";
const url = `${scheme}://${location.host}/api/v1/sessions/${screen.dataset.session}/vnc`;
let rfb = null;
let attempt = 0;      // reconnections since the last successful connect
let retry = null;     // the timers of a pending reconnection
let ended = false;

function clearRetry() {
  if (retry) { clearTimeout(retry.timer); clearInterval(retry.countdown); }
  retry = null;
}

function connect() {
  clearRetry();
  if (ended) return;
  status.textContent = attempt ? "reconnecting…" : "connecting…";
  rfb = new RFB(screen, url, { wsProtocols: ["binary"] });
  rfb.resizeSession = true;   // the desktop follows the window (ExtendedDesktopSize)
  rfb.scaleViewport = true;
  rfb.addEventListener("connect", () => { attempt = 0; status.textContent = t("connected"); rfb.focus(); });
  rfb.addEventListener("disconnect", (ev) => {
    rfb = null;
    if (ended) { status.textContent = t("the session has ended"); return; }
    const why = ev.detail.clean ? t("disconnected") : t("connection lost");
    const delay = Math.min(1000 * 2 ** attempt, 15000);
    attempt += 1;
    let left = Math.round(delay / 1000);
    const show = () => { status.textContent = t("{why}; reconnecting in {seconds} s…", { why, seconds: left }); };
    show();
    retry = {
      timer: setTimeout(connect, delay),
      countdown: setInterval(() => { left -= 1; if (left > 0) show(); }, 1000),
    };
  });
  rfb.addEventListener("clipboard", (ev) => { document.getElementById("clipboard").value = ev.detail.text; });
  window.moorageRfb = rfb;
}

document.addEventListener("moorage:session-ended", () => {
  ended = true;
  clearRetry();
  if (rfb) rfb.disconnect();
  status.textContent = t("the session has ended");
});
window.addEventListener("online", () => { if (!rfb && !ended) { attempt = 0; connect(); } });
document.getElementById("clipboard-send").addEventListener("click", () => {
  if (rfb) rfb.clipboardPasteFrom(document.getElementById("clipboard").value);
});
document.getElementById("fullscreen").addEventListener("click", () => screen.requestFullscreen());
connect();
