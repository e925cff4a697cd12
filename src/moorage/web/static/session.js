// A session's pages (its own page, and a web app's page at /sessions/<id>/app):
// - the time left, counted down in place; "+30 min" through the API, without reloading;
// - warnings 10, 5 and 1 minute before the end: a banner (also inside a full-screen
//   desktop), and a browser notification when the user allowed them ("Notify me");
// - the end: "ended at 14:02 (its time was up)", actions hidden, "launch again";
// - the terminal: xterm.js on the session's held shell, reconnecting by itself with
//   back-off (1 s, 2 s, 4 s … 15 s) and resuming where it left off.
// It reads the session from #session's data attributes; the API is the JSON one.
(function () {
  "use strict";

  const root = document.getElementById("session");
  if (!root) return;
  const id = root.dataset.session;
  const t = window.moorageT || ((text) => text);  // static/i18n.js
  const templateName = root.dataset.template || t("This session");
  const LIVE = ["pending", "provisioning", "ready", "stopped"];
  const rendered = root.dataset.state;  // the state the page was drawn for
  const POLL_MS = 15000;          // how often the session is read while it lives
  const ENDING_POLL_MS = 2000;    // … once its time is up or it is being ended
  const MINUTE = 60000;

  const session = {
    state: root.dataset.state,
    deadline: Date.parse(root.dataset.deadline),
    max: Date.parse(root.dataset.maxDeadline),
    ended: false,       // the page shows the end
    final: false,       // … and the end is known (not "ending")
    level: null,        // warning shown: 0 none, else 10, 5 or 1 (minutes)
    late: false,        // the deadline has passed (the end is polled for closely)
    // The idle timeout (null: none): when the session ends unless something happens.
    idleDeadline: root.dataset.idleDeadline ? Date.parse(root.dataset.idleDeadline) : null,
    idleTimeout: root.dataset.idleTimeout ? Number(root.dataset.idleTimeout) * 1000 : null,
    idleWarned: false,  // the idle notification was sent for this idle spell
  };
  // "Keep it" shows this long before an idle end (half a timeout shorter than ten minutes).
  const IDLE_WARNING_MS = Math.min(5 * 60000, (session.idleTimeout || Infinity) / 2);
  let pollTimer = null;
  let terminal = null;

  // -- formatting ---------------------------------------------------------------

  const pad = (n) => String(n).padStart(2, "0");

  function formatLeft(ms) {
    if (ms <= 0) return "0:00";
    const s = Math.floor(ms / 1000), h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60);
    return (h ? h + ":" + pad(m) : m) + ":" + pad(s % 60);
  }

  function clock(ms) {
    const d = new Date(ms);
    return pad(d.getHours()) + ":" + pad(d.getMinutes());
  }

  function utc(ms) {
    return new Date(ms).toISOString().slice(0, 16).replace("T", " ") + " UTC";
  }

  // <time datetime="…" data-local-time>: the browser's local HH:MM, the UTC value on hover.
  function localTimes(scope) {
    scope.querySelectorAll("time[data-local-time]").forEach((el) => {
      const at = Date.parse(el.getAttribute("datetime"));
      if (!Number.isNaN(at)) { el.textContent = clock(at); el.title = utc(at); }
    });
  }

  // -- messages ---------------------------------------------------------------

  // A short message in the page's alert area (#alerts); successes go away by themselves.
  function say(text, kind) {
    kind = kind || "success";
    if (kind === "danger" && window.moorage) {  // errors look the same on every page
      window.moorage.showError(text);
      return;
    }
    const box = document.getElementById("alerts");
    if (!box) return;
    const alert = document.createElement("div");
    alert.className = `alert alert-${kind} alert-dismissible`;
    alert.setAttribute("role", kind === "danger" ? "alert" : "status");
    alert.dataset.sessionMessage = kind;
    const body = document.createElement("span");
    body.className = "text-body";  // the alert's own tint is too faint to read
    body.textContent = text;
    const close = document.createElement("button");
    close.type = "button";
    close.className = "btn-close";
    close.setAttribute("aria-label", t("Close"));
    close.addEventListener("click", () => alert.remove());
    alert.append(body, close);
    box.appendChild(alert);
    if (kind === "success") setTimeout(() => alert.remove(), 6000);
  }

  function notify(title, body) {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    try {
      new Notification(title, { body, tag: `moorage-session-${id}` });
    } catch (_) { /* some browsers allow notifications only from a service worker */ }
  }

  // -- the API ------------------------------------------------------------------

  async function api(method, path, body) {
    const init = { method, credentials: "same-origin", headers: {} };
    if (body !== undefined) {
      init.headers["content-type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(`/api/v1/sessions/${id}${path}`, init);
    let data = null;
    try { data = await response.json(); } catch (_) { /* no JSON body */ }
    return { ok: response.ok, status: response.status, data };
  }

  const messageOf = (result) =>
    (result.data && result.data.error && result.data.error.message) || `error ${result.status}`;

  // Read the session again; the end, an extension made elsewhere, a new maximum.
  async function refresh() {
    let result;
    try {
      result = await api("GET", "");
    } catch (_) {
      return;  // offline: the terminal says so; try at the next poll
    }
    if (result.status === 404) { showEnd(); return; }
    if (result.ok) apply(result.data);
  }

  function apply(data) {
    session.state = data.state;
    session.deadline = Date.parse(data.expires_at);
    session.max = Date.parse(data.max_expires_at);
    if (data.idle_expires_at) {  // keys typed here may not have reached the server's row yet
      session.idleDeadline = Math.max(Date.parse(data.idle_expires_at), session.idleDeadline || 0);
    }
    if (!LIVE.includes(data.state)) { showEnd(); return; }
    // Stopped or started again elsewhere (another tab, the API): draw the page anew.
    if (data.state !== rendered && ["ready", "stopped"].includes(data.state)
        && ["ready", "stopped"].includes(rendered)) { location.reload(); return; }
    if (session.deadline > Date.now()) session.late = false;
    tick();
  }

  function schedulePoll() {
    clearTimeout(pollTimer);
    if (session.final) return;
    const late = session.ended || session.deadline - Date.now() <= 0;
    pollTimer = setTimeout(async () => { await refresh(); schedulePoll(); },
                           late ? ENDING_POLL_MS : POLL_MS);
  }

  // -- extending ------------------------------------------------------------------

  const roomMinutes = () => Math.floor((session.max - session.deadline) / MINUTE);

  async function extend(minutes, button) {
    if (button) button.disabled = true;
    try {
      const result = await api("POST", "/extend", { minutes });
      if (result.ok) {
        session.level = null;  // warnings start over from the new deadline
        apply(result.data);
        say(t("Extended by {minutes} min: the session now ends at {time}.", { minutes, time: clock(session.deadline) }));
      } else {
        say(messageOf(result), "danger");
        if (result.status === 409 || result.status === 404) refresh();
      }
    } catch (_) {
      say(t("Moorage could not be reached; try again."), "danger");
    } finally {
      if (button) button.disabled = false;
    }
  }

  // "Keep it": the person is here; the idle clock starts over.
  async function keep(button) {
    if (button) button.disabled = true;
    try {
      const result = await api("POST", "/keep");
      if (result.ok) {
        seen();
        say(t("Kept: the session stays while you use it."));
        refresh();
      } else {
        say(messageOf(result), "danger");
      }
    } catch (_) {
      say(t("Moorage could not be reached; try again."), "danger");
    } finally {
      if (button) button.disabled = false;
    }
  }

  // Activity seen on this page (keys in its terminal, "keep it"): the server counts it
  // too; move the idle deadline now rather than at the next poll.
  function seen() {
    if (session.idleTimeout === null) return;
    session.idleDeadline = Date.now() + session.idleTimeout;
    session.idleWarned = false;
    tick();
  }

  root.addEventListener("click", (event) => {
    const kept = event.target.closest("[data-keep-session]");
    if (kept) {
      event.preventDefault();
      keep(kept);
      return;
    }
    const button = event.target.closest("[data-extend-minutes]");
    if (button) {
      event.preventDefault();
      extend(Number(button.dataset.extendMinutes), button);
      return;
    }
    const ask = event.target.closest("[data-notify-me]");
    if (ask) {
      event.preventDefault();
      Notification.requestPermission().then(() => tick());
    }
  });

  // -- warnings -------------------------------------------------------------------

  function levelOf(left) {
    if (left <= MINUTE) return 1;
    if (left <= 5 * MINUTE) return 5;
    if (left <= 10 * MINUTE) return 10;
    return 0;
  }

  // One banner: "This session ends in 4:59, at 14:02." [+30 min] [Notify me]
  function drawWarning(el, left, level) {
    if (!el.dataset.built) {
      el.dataset.built = "1";
      const text = document.createElement("span");
      text.className = "text-body fw-medium";  // the alert's own tint is too faint to read
      text.dataset.warningText = "";
      const more = document.createElement("button");
      more.type = "button";
      more.className = "btn btn-sm ms-2";
      more.dataset.extendMinutes = "30";
      const ask = document.createElement("a");
      ask.href = "#";
      ask.className = "ms-2 small";
      ask.dataset.notifyMe = "";
      ask.textContent = t("Notify me");
      el.append(text, more, ask);  // clicks reach #session's handler, in full screen too
    }
    el.dataset.level = String(level);
    el.classList.toggle("d-none", level === 0);
    el.classList.toggle("alert-warning", level !== 1);
    el.classList.toggle("alert-danger", level === 1);
    el.querySelector("[data-warning-text]").textContent =
      t("{name} ends in {left}, at {time}.", { name: templateName, left: formatLeft(left), time: clock(session.deadline) }) + " " +
      (level === 1 ? t("Save your work now.") : t("Save your work."));
    const room = roomMinutes();
    const more = el.querySelector("[data-extend-minutes]");
    more.classList.toggle("d-none", room < 1);
    more.dataset.extendMinutes = String(Math.min(30, Math.max(room, 1)));
    more.textContent = `+${more.dataset.extendMinutes} min`;
    el.querySelector("[data-notify-me]").classList.toggle("d-none", !canAsk());
  }

  const canAsk = () => "Notification" in window && Notification.permission === "default";

  // "No activity for a while: … ends in 4:59 unless you keep it." [Keep it]
  function drawIdleWarning(left) {
    const el = document.getElementById("idle-warning");
    if (!el) return;
    if (!el.dataset.built) {
      el.dataset.built = "1";
      const text = document.createElement("span");
      text.className = "text-body fw-medium";
      text.dataset.idleText = "";
      const button = document.createElement("button");
      button.type = "button";
      button.className = "btn btn-sm btn-primary ms-2";
      button.dataset.keepSession = "";
      button.id = "keep-session";
      button.textContent = t("Keep it");
      el.append(text, button);
    }
    const show = left <= IDLE_WARNING_MS && left < session.deadline - Date.now();
    el.classList.toggle("d-none", !show);
    if (!show) return;
    el.querySelector("[data-idle-text]").textContent =
      t("No activity for a while: {name} ends in {left} unless you keep it.", { name: templateName, left: formatLeft(left) });
    if (!session.idleWarned) {
      session.idleWarned = true;
      notify(t("{name} is idle", { name: templateName }), t("It ends in {minutes} min unless you keep it.", { minutes: Math.max(1, Math.round(left / MINUTE)) }));
    }
  }

  function tick() {
    if (session.ended) return;
    const left = session.deadline - Date.now();
    document.querySelectorAll("[data-session-left]").forEach((el) => {
      el.textContent = formatLeft(left);
      el.classList.toggle("text-danger", left < 5 * MINUTE);
    });
    const level = levelOf(left);
    document.querySelectorAll("[data-expiry-warning]").forEach((el) => drawWarning(el, left, level));
    // The banner asks for notifications once it shows; before, a link in the actions does.
    document.querySelectorAll("#notify-me").forEach((el) => {
      el.classList.toggle("d-none", !canAsk() || level !== 0);
    });
    // Notify when a threshold is crossed while the page is open (not at load).
    if (session.level !== null && level !== 0 && (session.level === 0 || level < session.level)) {
      notify(t("{name} ends in {minutes} min", { name: templateName, minutes: level }),
             t("At {time}. Save your work, or add time on its page.", { time: clock(session.deadline) }));
    }
    session.level = level;
    if (session.idleDeadline !== null && session.state === "ready") {
      drawIdleWarning(session.idleDeadline - Date.now());
    }
    if (left <= 0 && !session.late) {  // its time is up: watch for the end closely
      session.late = true;
      schedulePoll();
    }
  }

  // -- the end --------------------------------------------------------------------

  async function showEnd() {
    if (session.final) return;
    const first = !session.ended;
    session.ended = true;
    if (terminal) terminal.stop();
    if (first) document.dispatchEvent(new CustomEvent("moorage:session-ended"));  // the desktop stops
    root.querySelectorAll("#session-actions, [data-hide-when-ended], [data-notify-me], #idle-warning")
      .forEach((el) => el.classList.add("d-none"));
    document.querySelectorAll("[data-expiry-warning]").forEach((el) => {
      el.classList.add("d-none");
      if (el.classList.contains("session-overlay")) {  // a desktop, maybe in full screen
        el.classList.remove("d-none", "alert-warning");
        el.classList.add("alert-secondary");
        el.textContent = t("{name} has ended.", { name: templateName });
      }
    });
    const badge = document.getElementById("session-state");
    if (badge) {
      badge.textContent = ["ready", "stopped"].includes(session.state) ? t("ended") : t(session.state);
      badge.classList.remove("bg-green-lt");
      badge.classList.add("bg-secondary-lt");
    }
    const holder = document.getElementById("session-ended");
    try {
      const response = await fetch(`/ui/sessions/${id}/ended`, { credentials: "same-origin" });
      if (response.ok) {
        holder.innerHTML = await response.text();  // Moorage's own fragment
        localTimes(holder);
        if (window.htmx) window.htmx.process(holder);
        const card = holder.querySelector("[data-ended-cause]");
        session.final = !card || card.dataset.endedCause !== "ending";
      } else if (response.status === 404) {
        holder.textContent = t("This session no longer exists.");
        session.final = true;
      }
    } catch (_) { /* offline: try again at the next poll */ }
    if (first) notify(t("{name} has ended", { name: templateName }), t("Its workspace was deleted."));
    schedulePoll();
  }

  // -- the terminal ----------------------------------------------------------------

  // xterm.js on /api/v1/sessions/<id>/terminal (protocol: moorage.gateway.terminal).
  function startTerminal(el) {
    const status = document.getElementById("terminal-status");
    const again = document.getElementById("terminal-reconnect");
    const term = new Terminal({ cursorBlink: true, fontSize: 14, scrollback: 5000 });
    const fit = new FitAddon.FitAddon();
    term.loadAddon(fit);
    term.open(el);
    fit.fit();
    const encoder = new TextEncoder();
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    let socket = null;
    let shell = null;       // the held shell this screen shows
    let received = 0;       // how many of its output bytes the screen has
    let attempt = 0;        // reconnections since the last successful attach
    let exited = false;     // the shell exited: the next one continues this screen
    let stopped = false;
    let focused = false;
    let retryTimer = null;
    let countdown = null;

    function setStatus(text, button) {
      status.textContent = text;
      again.classList.toggle("d-none", !button);
      if (button) again.textContent = button;
    }

    function clearTimers() {
      clearTimeout(retryTimer);
      clearInterval(countdown);
      retryTimer = countdown = null;
    }

    function sendSize() {
      if (socket && socket.readyState === WebSocket.OPEN) {
        socket.send(JSON.stringify({ type: "resize", cols: term.cols, rows: term.rows }));
      }
    }

    function connect() {
      clearTimers();
      if (stopped) return;
      const query = new URLSearchParams({ cols: term.cols, rows: term.rows, offset: received });
      if (shell) query.set("shell", shell);
      setStatus(attempt ? t("reconnecting…") : t("connecting…"));
      const ws = new WebSocket(`${scheme}://${location.host}/api/v1/sessions/${id}/terminal?${query}`);
      ws.binaryType = "arraybuffer";
      socket = ws;
      ws.onmessage = (event) => {
        if (typeof event.data === "string") {
          let message = null;
          try { message = JSON.parse(event.data); } catch (_) { return; }
          if (message.type !== "attached") return;
          if (message.shell !== shell || message.offset !== received) {
            if (exited) term.write("\r\n"); else term.reset();
          }
          shell = message.shell;
          received = message.offset;
          attempt = 0;
          exited = false;
          setStatus(t("connected"));
          sendSize();
          if (!focused) { term.focus(); focused = true; }
          return;
        }
        const bytes = new Uint8Array(event.data);
        received += bytes.length;
        term.write(bytes);
      };
      ws.onclose = (event) => { if (socket === ws) closed(event); };
    }

    async function closed(event) {
      socket = null;
      if (stopped) return;
      const code = event.code;
      // 1012 (Service Restart): the server is stopping or restarting (SIGTERM).
      const why = code === 1012 ? "server restarting" : `${code}${event.reason ? ": " + event.reason : ""}`;
      if (code === 4401) {
        setStatus("signed out: sign in again, then reload this page");
        return;
      }
      if (code === 4403) {
        setStatus(`refused (${why})`);
        return;
      }
      if (code === 4404 || code === 4409 || code === 1000) {
        await refresh();  // ended? showEnd() stops the terminal
        if (stopped) return;
      }
      if (code === 1000) {
        exited = true;
        term.write("\r\n\x1b[33m[the shell exited]\x1b[0m\r\n");
        setStatus(t("the shell exited"), t("Start a new shell"));
        return;
      }
      const delay = Math.min(1000 * 2 ** attempt, 15000);
      attempt += 1;
      let left = Math.round(delay / 1000);
      const show = () => setStatus(t("disconnected ({why}); reconnecting in {seconds} s…", { why, seconds: left }), t("Reconnect now"));
      show();
      countdown = setInterval(() => { left -= 1; if (left > 0) show(); }, 1000);
      retryTimer = setTimeout(connect, delay);
    }

    again.addEventListener("click", () => { attempt = 0; connect(); });
    window.addEventListener("online", () => { if (!socket && !stopped) { attempt = 0; connect(); } });
    term.onData((data) => {
      if (socket && socket.readyState === WebSocket.OPEN) {
        socket.send(encoder.encode(data));
        seen();
      }
    });
    term.onResize(sendSize);
    new ResizeObserver(() => fit.fit()).observe(el);
    connect();
    window.moorageTerminal = term;
    window.moorageTerminalLink = { socket: () => socket, shell: () => shell, received: () => received };
    return {
      stop() {
        stopped = true;
        clearTimers();
        if (socket) socket.close();
        socket = null;
        term.options.disableStdin = true;
        term.options.cursorBlink = false;
        setStatus("the session has ended");
      },
    };
  }

  // -- start ----------------------------------------------------------------------

  localTimes(document);
  if (session.state === "ready" || session.state === "stopped") {
    const el = document.getElementById("terminal");
    if (el && window.Terminal) terminal = startTerminal(el);
    tick();
    setInterval(tick, 1000);
    schedulePoll();
  } else if (session.state === "releasing") {
    session.ended = true;  // the page shows "ending…": read it again until it has ended
    schedulePoll();
  }
})();
