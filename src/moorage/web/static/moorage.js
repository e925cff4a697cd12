// Shared behaviour of Moorage's pages (loaded by base.html after htmx and Tabler):
// - every request's outcome is shown: an error's message in the page's alert area
//   (#alerts), or next to the form field a 422 names; a network failure says so; an
//   action that succeeds says so briefly (a notice that fades, also after a reload);
// - confirmations of destructive actions (hx-confirm, data-confirm) in a Tabler modal;
// - times in the browser's time zone, one format everywhere, UTC on hover; byte units;
// - live countdowns (data-expires-at).
// The Content-Security-Policy allows no eval: nothing here builds code from text.
"use strict";

// -- errors ------------------------------------------------------------------------

const t = window.moorageT || ((text) => text);  // static/i18n.js
const NETWORK_ERROR = t("Moorage did not answer: the network or the server is down. Check your connection and try again.");

// The error a response carries: {message, code, field}. Reads the API's JSON
// ({"error": {"code", "message", "field"?}}), the pages' HTML (_alert.html and
// error.html mark them with data-error-*), or falls back to the status line.
function errorOfBody(status, statusText, contentType, body) {
  const fallback = { message: `${status} ${statusText || "error"}`.trim(), code: `http_${status}`, field: null };
  if ((contentType || "").includes("json")) {
    try {
      const parsed = JSON.parse(body);
      const error = parsed.error || {};
      const message = error.message || (typeof parsed.detail === "string" ? parsed.detail : null);
      return message ? { message, code: error.code || fallback.code, field: error.field || null } : fallback;
    } catch (_) { return fallback; }
  }
  if ((contentType || "").includes("html")) {
    const doc = new DOMParser().parseFromString(body, "text/html");
    const marked = doc.querySelector("[data-error-message]");
    if (marked) {
      const holder = marked.closest("[data-error-code]");
      return {
        message: marked.textContent.trim(),
        code: holder ? holder.dataset.errorCode : fallback.code,
        field: (holder && holder.dataset.errorField) || null,
      };
    }
    return fallback;
  }
  const text = (body || "").trim();
  return text && text.length < 300 ? { ...fallback, message: text } : fallback;
}

// The error of a fetch Response (reads its body).
async function errorOfResponse(response) {
  let body = "";
  try { body = await response.text(); } catch (_) { /* no body */ }
  return errorOfBody(response.status, response.statusText, response.headers.get("content-type"), body);
}

function alertArea() {
  let area = document.getElementById("alerts");
  if (!area) {
    area = document.createElement("div");
    area.id = "alerts";
    (document.querySelector(".page-wrapper .container-xl") || document.body).prepend(area);
  }
  return area;
}

function fieldOf(form, name) {
  if (!form || !name || !form.elements) return null;
  const field = form.elements.namedItem(name);
  const element = field instanceof RadioNodeList ? field[0] : field;
  return element && element.getClientRects().length ? element : null;
}

function clearFieldErrors(form) {
  if (!form) return;
  form.querySelectorAll(".is-invalid").forEach((input) => input.classList.remove("is-invalid"));
  form.querySelectorAll(".invalid-feedback[data-moorage]").forEach((note) => note.remove());
}

// Show an error: next to the field it names when that field is on screen in `form`,
// otherwise in the page's alert area (one alert per message: a repeat replaces it).
function showError(error, form = null) {
  const { message, code, field } = typeof error === "string" ? { message: error } : error;
  const input = fieldOf(form, field);
  if (input) {
    clearFieldErrors(form);
    input.classList.add("is-invalid");
    const note = document.createElement("div");
    note.className = "invalid-feedback d-block";
    note.dataset.moorage = "";
    note.id = `${input.id || input.name}-error`;
    note.setAttribute("role", "alert");
    note.textContent = message;
    (input.closest(".input-group") || input).after(note);
    input.setAttribute("aria-describedby", note.id);
    input.setAttribute("aria-invalid", "true");
    input.addEventListener("input", () => {
      input.classList.remove("is-invalid");
      input.removeAttribute("aria-invalid");
      note.remove();
    }, { once: true });
    input.focus();
    return;
  }
  const area = alertArea();
  area.querySelectorAll(".alert[data-moorage]").forEach((old) => {
    if (old.querySelector("[data-error-message]").textContent === message) old.remove();
  });
  const box = document.createElement("div");
  box.className = "alert alert-danger alert-dismissible";
  box.setAttribute("role", "alert");
  box.dataset.moorage = "";
  box.dataset.errorCode = code || "";
  const text = document.createElement("div");
  const strong = document.createElement("strong");
  strong.dataset.errorMessage = "";
  strong.textContent = message;
  text.append(strong);
  if (code) {
    const small = document.createElement("div");
    small.className = "small";
    small.textContent = `code: ${code}`;
    text.append(small);
  }
  const close = document.createElement("button");
  close.type = "button";
  close.className = "btn-close";
  close.setAttribute("aria-label", t("Close"));
  close.addEventListener("click", () => box.remove());
  box.append(text, close);
  area.prepend(box);
  const top = area.getBoundingClientRect().top;
  if (top < 0 || top > window.innerHeight - 40) area.scrollIntoView({ block: "start" });
}

// Errors shown for earlier actions are stale once an action succeeds.
function clearErrors() {
  document.querySelectorAll("#alerts .alert[data-moorage]").forEach((old) => old.remove());
}

// -- successes -------------------------------------------------------------------

const NOTICE_KEY = "moorage.notice";

// A short notice that fades. With {afterReload: true}, it is kept for the next page
// of this tab (the action reloads or redirects) and shown there.
function notify(message, { afterReload = false } = {}) {
  if (afterReload) {
    sessionStorage.setItem(NOTICE_KEY, JSON.stringify({ message, at: Date.now() }));
    return;
  }
  let stack = document.getElementById("toasts");
  if (!stack) {
    stack = document.createElement("div");
    stack.id = "toasts";
    stack.className = "toast-container position-fixed bottom-0 end-0 p-3";
    document.body.append(stack);
  }
  const toast = document.createElement("div");
  toast.className = "alert alert-success alert-dismissible shadow-sm mb-2 fade show";
  toast.setAttribute("role", "status");
  const body = document.createElement("div");
  body.dataset.notice = "";
  body.textContent = message;
  const close = document.createElement("button");
  close.type = "button";
  close.className = "btn-close";
  close.setAttribute("aria-label", t("Close"));
  close.addEventListener("click", () => toast.remove());
  toast.append(body, close);
  stack.append(toast);
  setTimeout(() => toast.classList.remove("show"), 4000);
  setTimeout(() => toast.remove(), 4400);
}

function showPendingNotice() {
  const saved = sessionStorage.getItem(NOTICE_KEY);
  if (!saved) return;
  sessionStorage.removeItem(NOTICE_KEY);
  try {
    const { message, at } = JSON.parse(saved);
    if (Date.now() - at < 15000) notify(message);
  } catch (_) { /* a stale or foreign value */ }
}

function labelOf(element) {
  if (!element) return "";
  return (element.getAttribute("aria-label") || element.textContent || element.value || "").trim().replace(/\s+/g, " ");
}

// What an element's action says when it succeeds: its data-success, or "<label>: done."
function successOf(element, submitter) {
  const marked = element.closest("[data-success]");
  if (marked) return marked.dataset.success;
  const button = submitter || (element.matches("form") ? element.querySelector("[type=submit], button:not([type])") : element);
  const label = labelOf(button).replace(/[…:.]+$/, "");
  return label ? t("{label}: done.", { label }) : t("Done.");
}

// -- the JSON API ----------------------------------------------------------------

// Call the JSON API. On success: the parsed body ({} for 204), and the `success`
// option (a text) is shown, after the reload when `reload` is true. On an error or a
// network failure: the message is shown (see showError; `form` for field errors) and
// the result is null.
async function apiCall(url, options = {}) {
  const { success, reload, form, ...init } = options;
  let response;
  try {
    response = await fetch(url, { headers: { "content-type": "application/json" }, ...init });
  } catch (_) {
    showError({ message: NETWORK_ERROR, code: "network" }, form);
    return null;
  }
  if (!response.ok) {
    showError(await errorOfResponse(response), form);
    return null;
  }
  clearErrors();
  if (success) notify(success, { afterReload: !!reload });
  return response.status === 204 ? {} : response.json();
}

// -- confirmations ---------------------------------------------------------------

let confirmModal = null;

function buildConfirmModal() {
  const modal = document.createElement("div");
  modal.className = "modal modal-blur fade";
  modal.id = "confirm-modal";
  modal.tabIndex = -1;
  modal.setAttribute("aria-modal", "true");
  modal.setAttribute("role", "dialog");
  modal.setAttribute("aria-labelledby", "confirm-title");
  modal.setAttribute("aria-describedby", "confirm-text");
  modal.innerHTML = `
    <div class="modal-dialog modal-sm modal-dialog-centered">
      <div class="modal-content">
        <div class="modal-status bg-danger"></div>
        <div class="modal-body text-center py-4">
          <h3 class="mb-2" id="confirm-title"></h3>
          <div class="text-secondary" id="confirm-text"></div>
        </div>
        <div class="modal-footer">
          <div class="w-100"><div class="row g-2">
            <div class="col"><button type="button" class="btn w-100 h-100 text-wrap" id="confirm-cancel" data-bs-dismiss="modal">Cancel</button></div>
            <div class="col"><button type="button" class="btn btn-danger w-100 h-100 text-wrap" id="confirm-ok"></button></div>
          </div></div>
        </div>
      </div>
    </div>`;
  document.body.append(modal);
  return modal;
}

// Bootstrap's components, as Tabler's bundle exports them (window.tabler.bootstrap).
const bootstrapOf = () => (window.tabler && window.tabler.bootstrap) || window.bootstrap || null;

// Ask `question` in a modal; resolves true when confirmed. The first sentence is the
// title, the rest the explanation; the buttons read `action` and `cancel`. Focus
// starts on Cancel (the safe choice); Esc, the backdrop and Cancel all refuse.
function moorageConfirm(question, { action = t("Confirm"), cancel = t("Cancel") } = {}) {
  const bootstrap = bootstrapOf();
  if (!bootstrap || !bootstrap.Modal) return Promise.resolve(window.confirm(question));
  confirmModal = confirmModal || buildConfirmModal();
  const split = question.search(/[?.!]\s/);
  const title = split >= 0 ? question.slice(0, split + 1) : question;
  const rest = split >= 0 ? question.slice(split + 2).trim() : "";
  confirmModal.querySelector("#confirm-title").textContent = title;
  confirmModal.querySelector("#confirm-text").textContent = rest;
  confirmModal.querySelector("#confirm-text").hidden = !rest;
  const ok = confirmModal.querySelector("#confirm-ok");
  ok.textContent = action;
  confirmModal.querySelector("#confirm-cancel").textContent = cancel;
  const returnFocus = document.activeElement;
  const modal = bootstrap.Modal.getOrCreateInstance(confirmModal, { backdrop: true, keyboard: true, focus: true });
  return new Promise((resolve) => {
    let confirmed = false;
    let shown = false;
    // Bootstrap ignores hide() while the modal is still fading in: a quick click on
    // the button (a fast hand, a loaded machine) would confirm and leave the modal up,
    // the action never sent. Such a click hides it once it is shown.
    const onOk = () => { confirmed = true; if (shown) modal.hide(); };
    const onShown = () => {
      shown = true;
      if (confirmed) modal.hide();
      else confirmModal.querySelector("#confirm-cancel").focus();
    };
    const onHidden = () => {
      ok.removeEventListener("click", onOk);
      confirmModal.removeEventListener("shown.bs.modal", onShown);
      if (returnFocus && returnFocus.isConnected && !confirmed) returnFocus.focus();
      resolve(confirmed);
    };
    ok.addEventListener("click", onOk);
    confirmModal.addEventListener("shown.bs.modal", onShown);
    confirmModal.addEventListener("hidden.bs.modal", onHidden, { once: true });
    modal.show();
  });
}

function actionLabel(element, fallback = t("Confirm")) {
  if (!element) return fallback;
  if (element.dataset && element.dataset.confirmAction) return element.dataset.confirmAction;
  const button = element.matches("form") ? element.querySelector("[type=submit], button:not([type])") : element;
  return labelOf(button).replace(/[…]+$/, "") || fallback;
}

// A confirmation may name what a form's fields chose: "{pool}" is the value of the
// form's field named pool.
function withFormValues(question, form) {
  if (!form || !form.elements) return question;
  return question.replace(/\{([A-Za-z_][\w-]*)\}/g, (whole, name) => {
    const field = form.elements.namedItem(name);
    return field && "value" in field ? field.value : whole;
  });
}

// hx-confirm: the modal instead of the browser's pop-up.
document.addEventListener("htmx:confirm", (event) => {
  if (!event.detail.question) return;
  event.preventDefault();
  const elt = event.detail.elt;
  const submitter = event.detail.triggeringEvent && event.detail.triggeringEvent.submitter;
  const question = withFormValues(event.detail.question, elt.matches("form") ? elt : elt.closest("form"));
  moorageConfirm(question, { action: actionLabel(submitter || elt) })
    .then((yes) => { if (yes) event.detail.issueRequest(true); });
});

// data-confirm on a form (or its submit button) or a link: the same modal first.
const confirmedForms = new WeakSet();
document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = (event.submitter && event.submitter.dataset.confirm) || form.dataset.confirm;
  if (!question) return;
  if (confirmedForms.has(form)) { confirmedForms.delete(form); return; }
  event.preventDefault();
  event.stopImmediatePropagation();
  const submitter = event.submitter;
  moorageConfirm(withFormValues(question, form), { action: actionLabel(submitter || form) }).then((yes) => {
    if (!yes) return;
    confirmedForms.add(form);
    if (submitter && submitter.form === form) form.requestSubmit(submitter); else form.requestSubmit();
  });
}, true);
document.addEventListener("click", (event) => {
  const link = event.target.closest && event.target.closest("a[data-confirm]");
  if (!link) return;
  event.preventDefault();
  moorageConfirm(link.dataset.confirm, { action: actionLabel(link) }).then((yes) => { if (yes) location.href = link.href; });
}, true);

// -- htmx requests ------------------------------------------------------------------

htmx.config.allowEval = false;

function reloadsAfter(element) {
  return element && (element.hasAttribute("data-reload-after-request")
    || element.getAttribute("hx-on::after-request") === "location.reload()");
}

// No error body is swapped into the page (htmx's default for 4xx/5xx, kept); a
// request whose session ended lands on the login page instead of inside a button.
document.addEventListener("htmx:beforeSwap", (event) => {
  const xhr = event.detail.xhr;
  if (xhr.status >= 400) { event.detail.shouldSwap = false; return; }
  const landed = xhr.responseURL ? new URL(xhr.responseURL) : null;
  if (landed && landed.pathname === "/login" && !event.detail.requestConfig.path.startsWith("/login")) {
    event.detail.shouldSwap = false;
    location.href = landed.pathname + landed.search;
  }
});

document.addEventListener("htmx:afterRequest", (event) => {
  const { xhr, requestConfig } = event.detail;
  if (!xhr || xhr.status === 0) return; // no response: htmx:sendError says so
  // The element that made the request (the event moves to a parent when it was swapped out).
  const elt = (requestConfig && requestConfig.elt) || event.detail.elt;
  const form = elt && (elt.matches("form") ? elt : elt.closest("form"));
  if (xhr.status >= 400) {
    showError(errorOfBody(xhr.status, xhr.statusText, xhr.getResponseHeader("content-type"), xhr.responseText), form);
    return;
  }
  if (!requestConfig || requestConfig.verb === "get") return;
  clearErrors();
  clearFieldErrors(form);
  const submitter = requestConfig.triggeringEvent && requestConfig.triggeringEvent.submitter;
  const leaving = !!xhr.getResponseHeader("HX-Redirect") || xhr.getResponseHeader("HX-Refresh") === "true" || reloadsAfter(elt);
  notify(successOf(elt, submitter), { afterReload: leaving });
  if (reloadsAfter(elt)) location.reload();
});

document.addEventListener("htmx:sendError", (event) => {
  const elt = event.detail.elt;
  showError({ message: NETWORK_ERROR, code: "network" }, elt && elt.closest("form"));
});
document.addEventListener("htmx:timeout", () => showError({ message: NETWORK_ERROR, code: "timeout" }));

// A page script's fetch that got no response (its promise rejected unhandled).
window.addEventListener("unhandledrejection", (event) => {
  if (event.reason instanceof TypeError && /fetch|network/i.test(event.reason.message)) {
    showError({ message: NETWORK_ERROR, code: "network" });
  }
});

// -- units and times -------------------------------------------------------------

const BYTE_PREFIXES = ["B", "KB", "MB", "GB", "TB", "PB"];

// Bytes in SI units (1 KB = 1000 B): "512 B", "9.5 MB", "10 MB". One decimal below 10.
function formatBytes(value) {
  if (value == null || Number.isNaN(value)) return "—";
  let size = Math.abs(value), index = 0;
  while (size >= 1000 && index < BYTE_PREFIXES.length - 1) { size /= 1000; index += 1; }
  const digits = size < 10 && index ? String(Number(size.toFixed(1))) : String(Math.round(size));
  return `${value < 0 ? "-" : ""}${digits} ${BYTE_PREFIXES[index]}`;
}
const formatRate = (value) => (value == null || Number.isNaN(value) ? "—" : `${formatBytes(value)}/s`);

const TIME_PARTS = new Intl.DateTimeFormat(undefined, {
  year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
});
const UTC_PARTS = new Intl.DateTimeFormat("en-GB", {
  year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23", timeZone: "UTC",
});

function partsOf(format, date) {
  const parts = {};
  for (const { type, value } of format.formatToParts(date)) parts[type] = value;
  return parts;
}

// The one format of a moment on every page: "2025-05-14 14:02:07" in the browser's
// time zone. `seconds: false` drops the seconds (chart ticks).
function formatTime(moment, { seconds = true } = {}) {
  const date = moment instanceof Date ? moment : new Date(moment);
  if (Number.isNaN(date.getTime())) return "";
  const p = partsOf(TIME_PARTS, date);
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}${seconds ? ":" + p.second : ""}`;
}

// The same moment in UTC, for hovers: "2025-05-14 12:02:07 UTC".
function formatUtc(moment) {
  const date = moment instanceof Date ? moment : new Date(moment);
  const p = partsOf(UTC_PARTS, date);
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second} UTC`;
}

// A <time datetime> element: its text in the browser's zone, its UTC value on hover.
function formatTimeElement(element) {
  const date = new Date(element.getAttribute("datetime") || "");
  if (Number.isNaN(date.getTime())) return;
  element.textContent = formatTime(date);
  element.title = formatUtc(date);
}

// Every <time datetime> under `root`.
function formatTimes(root = document) {
  root.querySelectorAll("time[datetime]").forEach(formatTimeElement);
}

// A <time> element for `moment` (a Date, ISO text or epoch milliseconds), for pages
// that build rows in script.
function timeElement(moment) {
  const element = document.createElement("time");
  element.dateTime = new Date(moment).toISOString();
  formatTimeElement(element);
  return element;
}

// uPlot options for a time axis and legend in the one format (uPlot's defaults are a
// 12-hour clock); `unit` "bytes/s" formats the values as byte rates.
function uPlotTimeAxis() {
  return {
    values: (u, splits, axis, space, increment) => splits.map((s) => (
      increment >= 86400 ? formatTime(s * 1000).slice(0, 10) : formatTime(s * 1000, { seconds: increment < 60 }).slice(11))),
  };
}

// -- countdowns ------------------------------------------------------------------

// Any element with data-expires-at (ISO 8601, UTC) shows the time left.
function formatLeft(ms) {
  if (ms <= 0) return t("expired");
  const s = Math.floor(ms / 1000), h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60);
  const pad = (n) => String(n).padStart(2, "0");
  return (h ? h + ":" + pad(m) : m) + ":" + pad(s % 60);
}
function tickCountdowns() {
  document.querySelectorAll("[data-expires-at]").forEach((el) => {
    const left = Date.parse(el.dataset.expiresAt) - Date.now();
    el.textContent = formatLeft(left);
    el.classList.toggle("text-danger", left < 5 * 60 * 1000);
  });
}
setInterval(tickCountdowns, 1000);

// -- start -----------------------------------------------------------------------

document.addEventListener("click", (event) => {
  if (event.target.closest && event.target.closest("[data-history-back]")) history.back();
});
htmx.onLoad((content) => { formatTimes(content); tickCountdowns(); });
// Swaps by extensions (the SSE lists) settle here too.
document.addEventListener("htmx:afterSettle", (event) => formatTimes(event.detail.elt || document));
document.addEventListener("DOMContentLoaded", () => { formatTimes(); tickCountdowns(); showPendingNotice(); });

window.moorage = {
  apiCall, confirm: moorageConfirm, t, errorOfResponse, formatBytes, formatRate, formatTime, formatTimes,
  formatUtc, notify, showError, timeElement, uPlotTimeAxis, NETWORK_ERROR,
};

// A form marked data-reset-on-success is emptied once its request succeeded (a
// password form must not keep the passwords it sent).
document.addEventListener("htmx:afterRequest", (event) => {
  const form = event.detail.elt;
  if (event.detail.successful && form.matches && form.matches("form[data-reset-on-success]")) form.reset();
});

// A server-sent event stream that opens again after the server restarted
// (moorage.api.event_stream): the "restarting" note it left is out of date.
document.addEventListener("htmx:sseOpen", (event) => {
  const source = event.detail && event.detail.elt ? event.detail.elt : event.target;
  source.querySelectorAll('[sse-swap="restarting"]').forEach((note) => { note.textContent = ""; });
});

// The footer's language selector applies the language as soon as one is picked (its
// button stays for pages without script).
document.addEventListener("change", (event) => {
  const select = event.target.closest && event.target.closest("[data-language-select]");
  if (select && select.form) select.form.requestSubmit();
});
