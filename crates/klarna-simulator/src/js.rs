//! The offline stand-in for Klarna's browser SDK, served at `GET /sim/js/klarna-payments.js`.

/// `window.Klarna.Payments` with `init`, `load`, `authorize`, `reauthorize` and `finalize`, as
/// Klarna's SDK behaves in API.md §5 and §11.10.
///
/// # Loading
///
/// The script defines `window.Klarna.Payments` when it runs and then, as Klarna's loader does,
/// calls `window.klarnaAsyncCallback` if the page defined one (once, on a later task, so a page
/// that includes the script `async` and starts Klarna in that callback works). The client
/// token is JWT-shaped; its base64url payload carries `session_id`, `base_url` and the session's
/// `payment_method_categories`, so the script finds the session and the simulator even when the
/// page comes from another origin, and knows the categories without a request.
///
/// # Errors, Klarna's way
///
/// A call that fails throws an `Error` whose `name` is the SDK's error name, after calling its
/// callback with `{show_form: false}` (`load`) or `{approved: false, show_form: false}` (the
/// others) plus `error: {name, message}`:
///
/// | call | error | when |
/// |---|---|---|
/// | `init` | `InvalidClientTokenError` | the token is not JWT-shaped or names no session |
/// | any other | `ApplicationNotInitializedError` | before `init` |
/// | `load` | `InvalidContainerSelectorError` | `options.container` matches no element |
/// | `load`, `authorize`, `reauthorize`, `finalize` | `PaymentMethodCategoryNotProvidedError` | no `options.payment_method_category` (the simulator's sessions offer two) |
/// | same | `PaymentMethodCategoryNotSupportedError` | a category the session does not offer |
/// | `authorize`, `finalize` | `ApplicationNotLoadedError` | `load` was not called for that category since `init` |
///
/// Only the single-category form (`payment_method_category`) is modelled, not
/// `payment_method_categories` with `instance_id`.
///
/// # Authorizing
///
/// `authorize(options, data, callback)` POSTs `{approve, payment_method_category, auto_finalize,
/// billing_address, shipping_address, customer, order_amount, order_tax_amount, order_lines}`
/// (what `data` holds of those) to `/sim/sessions/{session_id}/authorize`; a cart in `data`
/// updates the session there. The callback gets the simulator's answer:
/// `{approved: true, show_form: true, authorization_token, finalize_required: false}`; for
/// `pay_now` with `options.auto_finalize: false`, `{approved: true, show_form: true,
/// finalize_required: true}` and no token, until `finalize(options, data, callback)` (POST to
/// `/sim/sessions/{session_id}/finalize`) answers the token. `reauthorize` authorizes again in one
/// step and does not need `load`.
///
/// The page steers the shopper with globals read at each call: `window.KLARNA_SIM_DECLINE =
/// true` declines (`show_form: false`); `window.KLARNA_SIM_INVALID_FIELDS = ["billing_address.email"]`
/// is a fixable decline (`{approved: false, show_form: true, error: {invalid_fields}}`);
/// `window.KLARNA_SIM_FRAUD_STATUS` (e.g. `"PENDING"`) is the fraud status of the order to come.
/// A shopper field the simulator refuses (`400 BAD_VALUE` on `billing_address.*`,
/// `shipping_address.*` or `customer.*`) comes back as a fixable decline naming it; any other
/// refusal (a bad cart, an expired session, nothing awaiting finalize) as `{approved: false,
/// show_form: false, error: {message}}`.
pub(crate) const KLARNA_PAYMENTS_JS: &str = r#"/* Klarna Payments stand-in served by klarna-simulator. Not Klarna's SDK. */
(function () {
  "use strict";
  var state = { token: null, session: null, base: "", categories: [], loaded: {} };

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

  function done(cb, result) { if (typeof cb === "function") { cb(result); } }

  function args(options, data, cb) {
    if (typeof data === "function") { return { options: options || {}, data: {}, cb: data }; }
    return { options: options || {}, data: data || {}, cb: cb };
  }

  // Klarna's SDK hands the callback its negative result, then throws the named error.
  function fail(a, withApproved, name, message) {
    var res = { show_form: false, error: { name: name, message: message } };
    if (withApproved) { res.approved = false; }
    done(a.cb, res);
    var e = new Error(message);
    e.name = name;
    throw e;
  }

  function initialized(a, withApproved) {
    if (!state.session) {
      fail(a, withApproved, "ApplicationNotInitializedError", "Klarna.Payments.init was not called");
    }
  }

  function category(a, withApproved) {
    var c = a.options.payment_method_category;
    if (c === undefined || c === null || c === "") {
      if (state.categories.length === 1) { return state.categories[0]; }
      fail(a, withApproved, "PaymentMethodCategoryNotProvidedError",
        "options.payment_method_category is required; this session offers " + state.categories.join(", "));
    }
    if (typeof c !== "string" || state.categories.indexOf(c) < 0) {
      fail(a, withApproved, "PaymentMethodCategoryNotSupportedError",
        "payment method category " + String(c) + " is not offered by this session");
    }
    return c;
  }

  function loaded(a, c) {
    if (!state.loaded[c]) {
      fail(a, true, "ApplicationNotLoadedError", "Klarna.Payments.load was not called for " + c);
    }
  }

  function shopperBody(a, c) {
    var body = {
      approve: !window.KLARNA_SIM_DECLINE,
      payment_method_category: c
    };
    var fields = window.KLARNA_SIM_INVALID_FIELDS;
    if (fields && fields.length) { body.invalid_fields = fields; }
    if (window.KLARNA_SIM_FRAUD_STATUS) { body.fraud_status = window.KLARNA_SIM_FRAUD_STATUS; }
    ["billing_address", "shipping_address", "customer", "order_amount", "order_tax_amount", "order_lines"]
      .forEach(function (k) { if (a.data[k] !== undefined) { body[k] = a.data[k]; } });
    return body;
  }

  var SHOPPER_FIELD = /^(billing_address|shipping_address|customer)\./;

  function send(step, body, cb) {
    fetch(state.base + "/sim/sessions/" + encodeURIComponent(state.session) + "/" + step, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().then(function (j) { return { ok: r.ok, body: j || {} }; });
    }).then(function (r) {
      if (r.ok) { done(cb, r.body); return; }
      var message = (r.body.error_messages || [])[0] || "refused";
      var field = r.body.error_code === "BAD_VALUE" && message.indexOf("Bad value: ") === 0
        ? message.slice("Bad value: ".length) : null;
      if (field && SHOPPER_FIELD.test(field)) {
        done(cb, { approved: false, show_form: true, error: { invalid_fields: [field] } });
      } else {
        done(cb, { approved: false, show_form: false, error: { message: message } });
      }
    }).catch(function () { done(cb, { approved: false, show_form: false }); });
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
      state.categories = payload.payment_method_categories || ["klarna"];
      state.loaded = {};
    },
    load: function (options, data, cb) {
      var a = args(options, data, cb);
      initialized(a, false);
      var el = a.options.container;
      if (typeof el === "string") {
        try { el = document.querySelector(el); } catch (e) { el = null; }
      }
      if (!el || typeof el.appendChild !== "function") {
        fail(a, false, "InvalidContainerSelectorError", "options.container is neither an element nor a selector of one");
      }
      var c = category(a, false);
      el.innerHTML = "";
      var box = document.createElement("div");
      box.setAttribute("data-klarna-simulator", "true");
      box.setAttribute("data-payment-method-category", c);
      box.style.cssText = "border:1px solid #999;border-radius:4px;padding:12px;font-family:sans-serif";
      box.textContent = "Klarna (simulator) \u2014 " + (c === "pay_now" ? "pay now by bank transfer" : "pay later");
      el.appendChild(box);
      state.loaded[c] = true;
      done(a.cb, { show_form: true });
    },
    authorize: function (options, data, cb) {
      var a = args(options, data, cb);
      initialized(a, true);
      var c = category(a, true);
      loaded(a, c);
      var body = shopperBody(a, c);
      if (typeof a.options.auto_finalize === "boolean") { body.auto_finalize = a.options.auto_finalize; }
      send("authorize", body, a.cb);
    },
    reauthorize: function (options, data, cb) {
      var a = args(options, data, cb);
      initialized(a, true);
      send("authorize", shopperBody(a, category(a, true)), a.cb);
    },
    finalize: function (options, data, cb) {
      var a = args(options, data, cb);
      initialized(a, true);
      var c = category(a, true);
      loaded(a, c);
      send("finalize", shopperBody(a, c), a.cb);
    },
    on: function () {},
    off: function () {}
  };

  if (typeof window.klarnaAsyncCallback === "function") {
    setTimeout(function () { window.klarnaAsyncCallback(); }, 0);
  }
})();
"#;
