// Lists that refresh themselves (the admins' Sessions page, a Docker environment's
// containers) mark their htmx element with data-hold-refresh. htmx does not send
// the request of a button that was swapped out of the page, so a refresh landing
// while a confirmation ("End the live session of …?") is open would drop the
// answer: such elements skip their requests while a modal dialog is shown.
document.addEventListener("htmx:beforeRequest", (event) => {
  if (event.detail.elt.hasAttribute("data-hold-refresh") && document.querySelector(".modal.show")) {
    event.preventDefault();
  }
});
