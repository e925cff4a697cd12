// A session shared through a link (/shared/<id>): its terminal (xterm.js) or desktop
// (noVNC) on the same websockets as the owner's page; the web-app kind is a frame the
// page already holds. An observer's view is read-only here too (xterm without input,
// noVNC viewOnly), though the gateway is what enforces it. A lost connection is opened
// again after 1, 2, 4 … 15 s, unless /ui/shared/<id>/state says the grant no longer
// holds (revoked, expired, disconnected by the owner, the session ended).
import RFB from "/static/vendor/novnc-rfb.js";  // noVNC bundled by scripts/build-static.sh

const root = document.getElementById("shared");
const id = root.dataset.session;
const observer = root.dataset.role === "observer";
const scheme = location.protocol === "https:" ? "wss" : "ws";
const banner = document.getElementById("shared-ended");
let attempt = 0;
let over = false;

const t = window.moorageT || ((text) => text);  // static/i18n.js
const FINAL = {
  4401: t("Sign in again to open this share link."),
  4404: t("This share link no longer opens the session."),
  4408: t("The session's owner disconnected you."),
  4409: t("The session has ended."),
  4410: t("The share link was revoked or has expired."),
};

function end(message, status) {
  over = true;
  banner.textContent = message;
  banner.classList.remove("d-none");
  if (status) status.textContent = t("disconnected");
}

// Whether the grant still opens the session; ends the page when it does not.
async function stillShared(status) {
  try {
    const response = await fetch(`/ui/shared/${id}/state`, { credentials: "same-origin" });
    if (response.ok) {
      const state = await response.json();
      if (state.state === "ready") return true;
      end(t("The session is not running now."), status);
      return false;
    }
    if (response.status >= 500) return true;  // the server's trouble: try again later
    end(FINAL[4000 + response.status] || FINAL[4410], status);
    return false;
  } catch (_) {
    return true;  // offline: try again later
  }
}

async function retry(status, connect, why) {
  if (over) return;
  if (!(await stillShared(status))) return;
  const delay = Math.min(1000 * 2 ** attempt, 15000);
  attempt += 1;
  status.textContent = t("{why}; reconnecting in {seconds} s…", { why, seconds: Math.round(delay / 1000) });
  setTimeout(connect, delay);
}

function startDesktop(screen) {
  const status = document.getElementById("desktop-status");
  function connect() {
    if (over) return;
    status.textContent = attempt ? "reconnecting…" : "connecting…";
    const rfb = new RFB(screen, `${scheme}://${location.host}/api/v1/sessions/${id}/vnc`, { wsProtocols: ["binary"] });
    rfb.viewOnly = observer;
    rfb.scaleViewport = true;
    rfb.addEventListener("connect", () => { attempt = 0; status.textContent = t("connected"); if (!observer) rfb.focus(); });
    rfb.addEventListener("disconnect", (ev) => {
      window.moorageRfb = null;
      retry(status, connect, ev.detail.clean ? "disconnected" : "connection lost");
    });
    window.moorageRfb = rfb;
  }
  connect();
}

function startTerminal(el) {
  const status = document.getElementById("terminal-status");
  const terminal = new window.Terminal({ disableStdin: observer, cursorBlink: !observer, convertEol: false });
  const fit = new window.FitAddon.FitAddon();
  terminal.loadAddon(fit);
  terminal.open(el);
  fit.fit();
  let ws = null;
  function connect() {
    if (over) return;
    status.textContent = attempt ? "reconnecting…" : "connecting…";
    ws = new WebSocket(`${scheme}://${location.host}/api/v1/sessions/${id}/terminal?cols=${terminal.cols}&rows=${terminal.rows}`);
    ws.binaryType = "arraybuffer";
    ws.onopen = () => { attempt = 0; status.textContent = t("connected"); terminal.reset(); };
    ws.onmessage = (ev) => { if (typeof ev.data !== "string") terminal.write(new Uint8Array(ev.data)); };
    ws.onclose = (ev) => {
      ws = null;
      if (FINAL[ev.code]) { end(FINAL[ev.code], status); return; }
      retry(status, connect, "connection lost");
    };
  }
  if (!observer) {
    const encoder = new TextEncoder();
    terminal.onData((data) => { if (ws && ws.readyState === WebSocket.OPEN) ws.send(encoder.encode(data)); });
    terminal.onResize(({ cols, rows }) => {
      if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "resize", cols, rows }));
    });
    window.addEventListener("resize", () => fit.fit());
  }
  window.moorageTerminal = terminal;
  connect();
}

const screen = document.getElementById("screen");
const terminalEl = document.getElementById("terminal");
if (screen) startDesktop(screen);
else if (terminalEl && window.Terminal) startTerminal(terminalEl);
