// Reloads a sign-in or consent page that the browser restored from its back/forward cache: the form it shows
// may have been answered already, and only the server knows what stands now (a finished request shows that
// it was completed). A static file, so the page's CSP needs no inline script.
window.addEventListener("pageshow", function (event) {
  if (event.persisted) {
    window.location.reload();
  }
});
