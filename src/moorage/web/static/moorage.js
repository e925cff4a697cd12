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
