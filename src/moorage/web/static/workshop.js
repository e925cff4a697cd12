// The instructor's workshop pages (templates/workshops.html, workshop.html):
// - the create form sends the browser's UTC offset with the times typed in it;
// - copy buttons (data-copy) for the join code and link;
// - the action forms (data-workshop-action: broadcast, extend, end) call the JSON API
//   (/api/v1/workshops/<id>/<action>); errors show next to the field or in the alerts;
// - the participants' grid: read from /api/v1/workshops/<id>/participants every few
//   seconds, thumbnails reloaded each time; Observe / Take control open a share link
//   for the instructor in a new tab, Reset (after a confirmation) gives a fresh workspace.
"use strict";

(() => {
  const { apiCall, confirm, notify, showError } = window.moorage;
  const t = window.moorageT || ((text) => text);  // static/i18n.js

  // -- the create form ----------------------------------------------------------------
  document.querySelectorAll("form[data-local-offset]").forEach((form) => {
    const offset = () => { form.elements.namedItem("utc_offset_minutes").value = String(new Date().getTimezoneOffset()); };
    offset();
    form.addEventListener("submit", offset, true);
  });

  // -- copy ---------------------------------------------------------------------------
  document.addEventListener("click", (event) => {
    const button = event.target.closest && event.target.closest("[data-copy]");
    if (!button) return;
    const text = button.dataset.copy;
    const done = () => notify(t("Copied"));
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, () => showError(t("The browser refused to copy; select the text instead.")));
    } else {
      const input = document.getElementById("join-link");
      if (input) { input.select(); document.execCommand && document.execCommand("copy"); done(); }
    }
  });

  const root = document.getElementById("workshop");
  if (!root) return;
  const workshopId = root.dataset.workshop;
  const api = `/api/v1/workshops/${workshopId}`;

  // -- the workshop's actions -----------------------------------------------------------
  function bodyOf(form) {
    const body = {};
    for (const [name, value] of new FormData(form).entries()) {
      const field = form.elements.namedItem(name);
      body[name] = field && field.type === "number" ? Number(value) : String(value);
    }
    return body;
  }

  function showResults(results) {
    const box = document.getElementById("broadcast-results");
    if (!box) return;
    box.replaceChildren();
    const ok = results.filter((r) => r.exit_code === 0).length;
    const head = document.createElement("div");
    head.className = "fw-bold mb-1";
    head.textContent = t("{ok} of {total} session(s) succeeded", { ok, total: results.length });
    box.append(head);
    const list = document.createElement("ul");
    list.className = "list-unstyled mb-0";
    for (const r of results) {
      const item = document.createElement("li");
      item.dataset.session = r.session_id;
      const who = document.createElement("strong");
      who.textContent = `${r.participant || r.session_id}: `;
      const what = document.createElement("span");
      what.className = r.exit_code === 0 ? "text-success" : "text-danger";
      what.textContent = r.error ? t("error: {error}", { error: r.error }) : t("exit {code}", { code: r.exit_code });
      const out = document.createElement("pre");
      out.className = "mb-1 p-1 small";
      out.textContent = r.output || "";
      item.append(who, what);
      if (r.output) item.append(out);
      list.append(item);
    }
    box.append(list);
    box.hidden = false;
  }

  document.addEventListener("submit", async (event) => {
    const form = event.target.closest && event.target.closest("form[data-workshop-action]");
    if (!form) return;
    event.preventDefault();
    const action = form.dataset.workshopAction;
    const submit = form.querySelector("[type=submit]");
    if (submit) submit.disabled = true;
    try {
      const result = await apiCall(`${api}/${action}`, {
        method: "POST",
        body: JSON.stringify(bodyOf(form)),
        form,
        success: form.dataset.success,
        reload: "reload" in form.dataset,
      });
      if (result === null) return;
      if (action === "broadcast" && Array.isArray(result) && form.elements.namedItem("command")) showResults(result);
      if ("reload" in form.dataset || action === "extend") window.location.reload();
    } finally {
      if (submit) submit.disabled = false;
    }
  });

  // -- the participants' grid -------------------------------------------------------------
  const grid = document.getElementById("participants-grid");
  const seconds = Number(root.dataset.thumbnailSeconds) || 5;

  function leftText(secondsLeft) {
    if (!secondsLeft) return t("no time left");
    const m = Math.floor(secondsLeft / 60);
    return m >= 1 ? t("{minutes} min left", { minutes: m }) : t("{seconds} s left", { seconds: secondsLeft });
  }

  function newCard(p) {
    const col = document.createElement("div");
    col.className = "col-sm-6 col-lg-4 col-xl-3";
    col.dataset.participant = p.id;
    const card = document.createElement("div");
    card.className = "card card-sm";
    const frame = document.createElement("div");
    frame.className = "ratio ratio-16x9 bg-dark";
    const body = document.createElement("div");
    body.className = "card-body";
    const line = document.createElement("div");
    line.className = "d-flex align-items-center mb-1";
    const name = document.createElement("strong");
    name.className = "me-auto text-truncate";
    name.dataset.name = "";
    name.setAttribute("translate", "no");
    const state = document.createElement("span");
    state.className = "badge bg-secondary-lt";
    state.dataset.state = "";
    line.append(name, state);
    const left = document.createElement("div");
    left.className = "small text-secondary mb-2";
    const leftSpan = document.createElement("span");
    leftSpan.dataset.left = "";
    left.append(leftSpan);
    const buttons = document.createElement("div");
    buttons.className = "btn-list";
    for (const [attr, label, cls] of [["observe", t("Observe"), "btn btn-sm"], ["takeControl", t("Take control"), "btn btn-sm"], ["reset", t("Reset"), "btn btn-sm btn-outline-danger"]]) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = cls;
      b.dataset[attr] = "";
      b.textContent = label;
      buttons.append(b);
    }
    body.append(line, left, buttons);
    card.append(frame, body);
    col.append(card);
    return col;
  }

  function update(col, p) {
    col.querySelector("[data-name]").textContent = p.display_name;
    const state = col.querySelector("[data-state]");
    state.textContent = t(p.state);
    state.className = `badge ${p.state === "ready" ? "bg-green-lt" : "bg-secondary-lt"}`;
    col.querySelector("[data-left]").textContent = leftText(p.seconds_left);
    const frame = col.querySelector(".ratio");
    let img = frame.querySelector("img[data-thumbnail]");
    if (p.thumbnail_url && p.state === "ready") {
      if (!img || img.dataset.src !== p.thumbnail_url) {
        img = img || document.createElement("img");
        img.className = "object-fit-contain";
        img.dataset.thumbnail = "";
        img.alt = t("Screen of {name}", { name: p.display_name });
        img.dataset.src = p.thumbnail_url;
        if (!img.isConnected) frame.append(img);
      }
      img.src = `${p.thumbnail_url}?t=${Date.now()}`;
    }
  }

  let failing = false;
  async function refresh() {
    let response;
    try {
      response = await fetch(`${api}/participants`, { headers: { accept: "application/json" } });
    } catch (_) {
      if (!failing) showError({ message: window.moorage.NETWORK_ERROR, code: "network" });
      failing = true;
      return;
    }
    if (!response.ok) {
      if (!failing) showError(await window.moorage.errorOfResponse(response));
      failing = true;
      return;
    }
    failing = false;
    const participants = await response.json();
    const empty = document.getElementById("participants-empty");
    if (empty && participants.length) empty.remove();
    for (const p of participants) {
      let col = grid.querySelector(`[data-participant="${CSS.escape(p.id)}"]`);
      if (!col) { col = newCard(p); grid.append(col); }
      col.dataset.session = p.session_id || "";
      update(col, p);
    }
  }

  async function observe(col, control) {
    const name = col.querySelector("[data-name]").textContent;
    const tab = window.open("about:blank", "_blank");
    const result = await apiCall(`${api}/participants/${col.dataset.participant}/observe`, {
      method: "POST",
      body: JSON.stringify({ control }),
      success: control ? t("You can now type in {name}'s workspace", { name }) : t("Observing {name} (read-only)", { name }),
    });
    if (result === null) { if (tab) tab.close(); return; }
    if (tab) tab.location.href = result.url; else window.location.href = result.url;
  }

  async function reset(col) {
    const name = col.querySelector("[data-name]").textContent;
    const yes = await confirm(t("Reset {name}'s workspace? Their current workspace is removed with everything in it, and a fresh one starts.", { name }), { action: t("Reset") });
    if (!yes) return;
    const result = await apiCall(`${api}/participants/${col.dataset.participant}/reset`, {
      method: "POST",
      success: t("{name} has a fresh workspace", { name }),
    });
    if (result !== null) await refresh();
  }

  grid.addEventListener("click", (event) => {
    const col = event.target.closest("[data-participant]");
    if (!col) return;
    if (event.target.closest("[data-observe]")) observe(col, false);
    else if (event.target.closest("[data-take-control]")) observe(col, true);
    else if (event.target.closest("[data-reset]")) reset(col);
  });

  refresh();
  setInterval(refresh, seconds * 1000);
})();
