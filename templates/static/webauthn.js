// Runs the passkey (WebAuthn) ceremonies of the login and account pages, and
// nothing else: the server makes the options and checks the answer
// (authserver/mfa); this file only hands one to the browser and the other
// back. A file of its own because the pages' Content-Security-Policy allows
// no inline script.
//
// The contract with the pages:
//
//   <form method="post" action="..." data-webauthn="register|login|discoverable"
//         data-webauthn-options="OPTIONS JSON" [data-webauthn-conditional]>
//     <input type="hidden" name="webauthn_response">
//     <p data-webauthn-status role="alert" hidden></p>   (optional)
//     <button type="submit">...</button>
//   </form>
//
// - data-webauthn: "register" calls navigator.credentials.create, "login"
//   (a known user's second step) and "discoverable" (a passkey alone) call
//   navigator.credentials.get.
// - data-webauthn-options: the options JSON the server made ({"publicKey":
//   {...}}, binary members in base64url), as the attribute's text.
// - On submit, the ceremony runs; its result, as the standard
//   PublicKeyCredential JSON (binary members in base64url), goes into the
//   form's "webauthn_response" field and the form is submitted (other fields,
//   such as the sealed state and the CSRF token, go along; a submit button's
//   own name is not sent).
// - A cancelled or failed ceremony submits nothing and says why in the
//   form's [data-webauthn-status] element, if it has one.
// - data-webauthn-conditional (on a "discoverable" form): when the browser
//   offers conditional mediation, the ceremony starts as the page loads and
//   the browser lists passkeys in the autofill of an input with
//   autocomplete="username webauthn"; choosing one submits this form.
//   Submitting the form by its button aborts that pending request first.
"use strict";

(function () {
  var RESPONSE_FIELD = "webauthn_response";

  // --- base64url <-> ArrayBuffer -------------------------------------------

  function fromB64url(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4 !== 0) {
      s += "=";
    }
    var bin = atob(s);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) {
      out[i] = bin.charCodeAt(i);
    }
    return out.buffer;
  }

  function toB64url(buf) {
    var bytes = new Uint8Array(buf);
    var bin = "";
    for (var i = 0; i < bytes.length; i++) {
      bin += String.fromCharCode(bytes[i]);
    }
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (d) {
      var out = { type: d.type, id: fromB64url(d.id) };
      if (d.transports) {
        out.transports = d.transports;
      }
      return out;
    });
  }

  // --- options JSON -> the dictionaries the API takes ----------------------

  function creationOptions(json) {
    var pk = Object.assign({}, json.publicKey);
    pk.challenge = fromB64url(pk.challenge);
    pk.user = Object.assign({}, pk.user, { id: fromB64url(pk.user.id) });
    if (pk.excludeCredentials) {
      pk.excludeCredentials = descriptors(pk.excludeCredentials);
    }
    return { publicKey: pk };
  }

  function requestOptions(json, mediation, signal) {
    var pk = Object.assign({}, json.publicKey);
    pk.challenge = fromB64url(pk.challenge);
    if (pk.allowCredentials) {
      pk.allowCredentials = descriptors(pk.allowCredentials);
    }
    var opts = { publicKey: pk };
    if (mediation) {
      opts.mediation = mediation;
    }
    if (signal) {
      opts.signal = signal;
    }
    return opts;
  }

  // --- the credential -> JSON for the server --------------------------------

  function credentialJSON(cred) {
    var r = cred.response;
    var response = { clientDataJSON: toB64url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toB64url(r.attestationObject);
      if (typeof r.getTransports === "function") {
        response.transports = r.getTransports();
      }
    } else {
      response.authenticatorData = toB64url(r.authenticatorData);
      response.signature = toB64url(r.signature);
      if (r.userHandle && r.userHandle.byteLength > 0) {
        response.userHandle = toB64url(r.userHandle);
      }
    }
    var out = {
      id: cred.id,
      rawId: toB64url(cred.rawId),
      type: cred.type,
      response: response,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
    };
    if (cred.authenticatorAttachment) {
      out.authenticatorAttachment = cred.authenticatorAttachment;
    }
    return JSON.stringify(out);
  }

  // --- forms ----------------------------------------------------------------

  function status(form, message) {
    var el = form.querySelector("[data-webauthn-status]");
    if (el) {
      el.textContent = message;
      el.hidden = message === "";
    }
  }

  function options(form) {
    return JSON.parse(form.getAttribute("data-webauthn-options"));
  }

  function submitWith(form, cred) {
    var field = form.querySelector('input[name="' + RESPONSE_FIELD + '"]');
    if (!field) {
      field = document.createElement("input");
      field.type = "hidden";
      field.name = RESPONSE_FIELD;
      form.appendChild(field);
    }
    field.value = credentialJSON(cred);
    form.submit();
  }

  // pending is the conditional request in flight, if any: the API allows one
  // get() at a time, so a click aborts it before asking in a dialog.
  var pending = null;

  function ceremony(form, mediation) {
    var kind = form.getAttribute("data-webauthn");
    var json = options(form);
    if (kind === "register") {
      return navigator.credentials.create(creationOptions(json));
    }
    var signal = null;
    if (mediation === "conditional") {
      pending = new AbortController();
      signal = pending.signal;
    }
    return navigator.credentials.get(requestOptions(json, mediation, signal));
  }

  function run(form, mediation) {
    status(form, "");
    ceremony(form, mediation).then(
      function (cred) {
        if (cred) {
          submitWith(form, cred);
        }
      },
      function (err) {
        // An abort is ours (a click replaced the conditional request).
        if (err && err.name === "AbortError" && mediation === "conditional") {
          return;
        }
        status(form, "The passkey was not used: " + (err && err.message ? err.message : String(err)));
      }
    );
  }

  function supported() {
    return typeof window.PublicKeyCredential === "function" && navigator.credentials;
  }

  function setUp(form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      if (!supported()) {
        status(form, "This browser cannot use passkeys.");
        return;
      }
      if (pending) {
        pending.abort();
        pending = null;
      }
      run(form, "");
    });
    if (
      form.hasAttribute("data-webauthn-conditional") &&
      form.getAttribute("data-webauthn") === "discoverable" &&
      supported() &&
      typeof PublicKeyCredential.isConditionalMediationAvailable === "function"
    ) {
      PublicKeyCredential.isConditionalMediationAvailable().then(function (ok) {
        if (ok) {
          run(form, "conditional");
        }
      });
    }
  }

  function start() {
    var forms = document.querySelectorAll("form[data-webauthn]");
    for (var i = 0; i < forms.length; i++) {
      setUp(forms[i]);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
