// Passkeys on the sign-in page ("Sign in with a passkey", form#passkey-sign-in) and the account page ("Add a
// passkey", form#passkey-add). Each form stays hidden unless the browser has WebAuthn (and runs this script): the
// password form and the rest of the page work without it. Submitting one asks its options endpoint for a
// ceremony's options (JSON, the form's own fields as the body, so the server checks its CSRF token), hands
// them to the browser's passkey dialog, puts the answer in the form's hidden fields and submits it for real.
// A static file, so the pages' CSP needs no inline script; `connect-src 'self'` lets it reach the endpoints.
(function () {
  "use strict";
  if (!window.PublicKeyCredential || !navigator.credentials || !window.fetch) {
    return;
  }

  function bytes(base64url) {
    var base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
    var binary = atob(base64 + "===".slice((base64.length + 3) % 4));
    var out = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i += 1) {
      out[i] = binary.charCodeAt(i);
    }
    return out.buffer;
  }

  function base64url(buffer) {
    var binary = "";
    new Uint8Array(buffer).forEach(function (b) {
      binary += String.fromCharCode(b);
    });
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function showError(form, text) {
    var error = form.querySelector(".passkey-error");
    if (!error) {
      error = document.createElement("p");
      error.className = "error passkey-error";
      error.setAttribute("role", "alert");
      form.appendChild(error);
    }
    error.textContent = text;
  }

  // POSTs the form's fields to `url`: the options, or why there are none. The server answers every refusal in
  // JSON (a form from a stale page, an expired sign-in, signed out meanwhile, too many sign-ins), and its sentence
  // (`error_description`) is what the form's alert shows; without one (no network), the form's own.
  function options(form, url) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json" },
      body: new URLSearchParams(new FormData(form)),
    }).then(function (response) {
      return response.json().catch(function () {
        return {};
      }).then(function (body) {
        if (!response.ok || !body.publicKey) {
          throw { sentence: body.error_description };
        }
        return body;
      });
    });
  }

  // `failed` is the form's `data-failed`: the page's own words, in its language.
  function ceremony(form, url, run) {
    var failed = form.getAttribute("data-failed");
    var button = form.querySelector("button[type=submit]");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      button.disabled = true;
      options(form, url)
        .then(function (started) {
          return run(started.publicKey).then(function (answer) {
            form.elements.ceremony.value = started.ceremony;
            form.elements.credential.value = JSON.stringify(answer);
            form.submit();
          });
        })
        .catch(function (error) {
          button.disabled = false;
          // The browser's own reasons (cancelled, timed out) are its to show: ours is the same either way.
          showError(form, (error && error.sentence) || failed);
        });
    });
    form.hidden = false;
  }

  var signIn = document.getElementById("passkey-sign-in");
  if (signIn) {
    ceremony(
      signIn,
      "/login/passkey/options",
      function (publicKey) {
        publicKey.challenge = bytes(publicKey.challenge);
        (publicKey.allowCredentials || []).forEach(function (c) {
          c.id = bytes(c.id);
        });
        return navigator.credentials.get({ publicKey: publicKey }).then(function (credential) {
          var r = credential.response;
          return {
            id: credential.id,
            rawId: base64url(credential.rawId),
            type: credential.type,
            response: {
              authenticatorData: base64url(r.authenticatorData),
              clientDataJSON: base64url(r.clientDataJSON),
              signature: base64url(r.signature),
              userHandle: r.userHandle ? base64url(r.userHandle) : null,
            },
          };
        });
      }
    );
  }

  var add = document.getElementById("passkey-add");
  if (add) {
    var unsupported = document.getElementById("passkey-unsupported");
    if (unsupported) {
      unsupported.hidden = true;
    }
    ceremony(
      add,
      "/account/passkeys/options",
      function (publicKey) {
        publicKey.challenge = bytes(publicKey.challenge);
        publicKey.user.id = bytes(publicKey.user.id);
        (publicKey.excludeCredentials || []).forEach(function (c) {
          c.id = bytes(c.id);
        });
        return navigator.credentials.create({ publicKey: publicKey }).then(function (credential) {
          var r = credential.response;
          var extensions = credential.getClientExtensionResults();
          return {
            id: credential.id,
            rawId: base64url(credential.rawId),
            type: credential.type,
            response: {
              attestationObject: base64url(r.attestationObject),
              clientDataJSON: base64url(r.clientDataJSON),
              transports: r.getTransports ? r.getTransports() : null,
            },
            extensions: extensions.credProps ? { credProps: extensions.credProps } : {},
          };
        });
      }
    );
  }
})();
