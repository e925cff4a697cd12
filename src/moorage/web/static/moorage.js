// Shared helpers of Moorage's pages.

// Call the JSON API. On success: the parsed body ({} for 204). On an error: shows the
// API's message in the page's #page-error box and returns null.
async function apiCall(url, options = {}) {
  const response = await fetch(url, { headers: { "content-type": "application/json" }, ...options });
  if (response.ok) {
    return response.status === 204 ? {} : response.json();
  }
  let message = `${response.status} ${response.statusText}`;
  try { message = (await response.json()).error.message; } catch (_) { /* not JSON */ }
  const box = document.getElementById("page-error");
  if (box) { box.textContent = message; box.classList.remove("d-none"); } else { alert(message); }
  return null;
}

// The Content-Security-Policy allows no eval, which htmx's hx-on attributes need: keep
// htmx from evaluating, and run the one hx-on the pages use (reload after a request)
// here. Until the templates say data-reload-after-request instead, both forms work.
htmx.config.allowEval = false;
document.addEventListener("htmx:afterRequest", (event) => {
  const element = event.detail.elt;
  if (element && (element.hasAttribute("data-reload-after-request")
      || element.getAttribute("hx-on::after-request") === "location.reload()")) {
    location.reload();
  }
});
