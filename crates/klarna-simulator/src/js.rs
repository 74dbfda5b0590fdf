//! The offline stand-in for Klarna's browser SDK, served at `GET /sim/js/klarna-payments.js`.

/// `window.Klarna.Payments` with `init`, `load`, `authorize`, `reauthorize` and `finalize`.
///
/// The client token is JWT-shaped; its base64url payload carries `session_id` and `base_url`, so
/// the script finds the session and the simulator even when the page comes from another origin.
/// `authorize` POSTs `{approve, billing_address, shipping_address, customer}` to
/// `/sim/sessions/{session_id}/authorize`, approving unless the page sets
/// `window.KLARNA_SIM_DECLINE = true`. `window.KLARNA_SIM_FRAUD_STATUS` (e.g. `"PENDING"`) is
/// passed on as the fraud status of the resulting order.
pub(crate) const KLARNA_PAYMENTS_JS: &str = r#"/* Klarna Payments stand-in served by klarna-simulator. Not Klarna's SDK. */
(function () {
  "use strict";
  var state = { token: null, session: null, base: "", loaded: false };

  function decodeToken(token) {
    if (typeof token !== "string") { return null; }
    var parts = token.split(".");
    if (parts.length !== 3) { return null; }
    try {
      var b64 = parts[1].replace(/-/g, "+").replace(/_/g, "/");
      while (b64.length % 4) { b64 += "="; }
      return JSON.parse(atob(b64));
    } catch (e) { return null; }
  }

  function container(options) {
    var c = options && options.container;
    if (typeof c === "string") { return document.querySelector(c); }
    return c || null;
  }

  function done(cb, result) { if (typeof cb === "function") { cb(result); } }

  function args(options, data, cb) {
    if (typeof data === "function") { return { options: options || {}, data: {}, cb: data }; }
    return { options: options || {}, data: data || {}, cb: cb };
  }

  function authorizeCall(a) {
    if (!state.session) {
      done(a.cb, { approved: false, show_form: false, error: { message: "ApplicationNotInitializedError" } });
      return;
    }
    var body = {
      approve: !window.KLARNA_SIM_DECLINE,
      billing_address: a.data.billing_address,
      shipping_address: a.data.shipping_address,
      customer: a.data.customer
    };
    if (window.KLARNA_SIM_FRAUD_STATUS) { body.fraud_status = window.KLARNA_SIM_FRAUD_STATUS; }
    fetch(state.base + "/sim/sessions/" + encodeURIComponent(state.session) + "/authorize", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body)
    }).then(function (r) { return r.json(); }).then(function (res) {
      done(a.cb, {
        approved: !!res.approved,
        show_form: res.show_form !== false,
        authorization_token: res.authorization_token,
        finalize_required: false
      });
    }).catch(function () { done(a.cb, { approved: false, show_form: false }); });
  }

  window.Klarna = window.Klarna || {};
  window.Klarna.Payments = {
    init: function (opts) {
      var payload = decodeToken(opts && opts.client_token);
      if (!payload || !payload.session_id) {
        var err = new Error("Invalid client token");
        err.name = "InvalidClientTokenError";
        throw err;
      }
      state.token = opts.client_token;
      state.session = payload.session_id;
      state.base = payload.base_url || "";
    },
    load: function (options, data, cb) {
      var a = args(options, data, cb);
      if (!state.session) {
        done(a.cb, { show_form: false });
        var e = new Error("Klarna.Payments.init was not called");
        e.name = "ApplicationNotInitializedError";
        throw e;
      }
      var el = container(a.options);
      if (el) {
        el.innerHTML = "";
        var box = document.createElement("div");
        box.setAttribute("data-klarna-simulator", "true");
        box.style.cssText = "border:1px solid #999;border-radius:4px;padding:12px;font-family:sans-serif";
        box.textContent = "Klarna (simulator) \u2014 pay later";
        el.appendChild(box);
      }
      state.loaded = true;
      done(a.cb, { show_form: true });
    },
    authorize: function (options, data, cb) { authorizeCall(args(options, data, cb)); },
    reauthorize: function (options, data, cb) { authorizeCall(args(options, data, cb)); },
    finalize: function (options, data, cb) { authorizeCall(args(options, data, cb)); },
    on: function () {},
    off: function () {}
  };
})();
"#;
