// The desktop of a vnc session: noVNC on the session's websocket, the clipboard,
// and full screen (the expiry warnings of session.js live inside #screen, so they
// show in full screen too).
import RFB from "/static/vendor/novnc/core/rfb.js";

const screen = document.getElementById("screen");
const status = document.getElementById("desktop-status");
const scheme = location.protocol === "https:" ? "wss" : "ws";
const rfb = new RFB(screen, `${scheme}://${location.host}/api/v1/sessions/${screen.dataset.session}/vnc`,
                    { wsProtocols: ["binary"] });
rfb.resizeSession = true;   // the desktop follows the window (ExtendedDesktopSize)
rfb.scaleViewport = true;
rfb.addEventListener("connect", () => { status.textContent = "connected"; rfb.focus(); });
rfb.addEventListener("disconnect", (ev) => {
  status.textContent = ev.detail.clean ? "disconnected" : "connection lost";
});
rfb.addEventListener("clipboard", (ev) => { document.getElementById("clipboard").value = ev.detail.text; });
document.getElementById("clipboard-send").addEventListener("click", () => {
  rfb.clipboardPasteFrom(document.getElementById("clipboard").value);
});
document.getElementById("fullscreen").addEventListener("click", () => screen.requestFullscreen());
window.moorageRfb = rfb;
