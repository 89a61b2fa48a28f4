// Submits the response_mode=form_post form; a static file so the page's CSP needs no inline script.
document.getElementById("form-post").submit();
