//! The offline stand-in for Klarna's browser SDK, served at `GET /sim/js/klarna-payments.js`.

/// `window.Klarna.Payments` with `init`, `load`, `authorize`, `reauthorize` and `finalize`, as
/// Klarna's SDK behaves in API.md §5 and §11.10, with a shopper's dialog in place of Klarna's
/// popup.
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
/// | `load`, `authorize`, `reauthorize`, `finalize` | `PaymentMethodCategoryNotProvidedError` | no `options.payment_method_category` (the simulator's sessions offer three) |
/// | same | `PaymentMethodCategoryNotSupportedError` | a category the session does not offer |
/// | `authorize`, `finalize` | `ApplicationNotLoadedError` | `load` was not called for that category since `init` |
///
/// These are thrown at once, before any dialog opens. Only the single-category form
/// (`payment_method_category`) is modelled, not `payment_method_categories` with `instance_id`.
///
/// # The shopper's dialog
///
/// `authorize(options, data, callback)` and `reauthorize` open a modal dialog, `finalize` one in
/// a confirm mode, once `GET /sim/sessions/{session_id}/summary` (with the client token as a
/// bearer token) has answered the session's cart and categories. It is built from DOM nodes and
/// `textContent` (no `innerHTML` with session data), styled by one `<style id="klarna-sim-style">`
/// the script adds (no external assets), and answers the page's callback when the shopper is
/// done. Its elements, with stable ids:
///
/// | element | what |
/// |---|---|
/// | `#klarna-sim-backdrop` | covers the page while the dialog is open |
/// | `#klarna-sim-modal` | `role="dialog"`, `aria-modal="true"`, `aria-labelledby="klarna-sim-title"` (the heading: "Complete your purchase", or "Confirm your payment" for `finalize`); `data-mode` is `authorize` or `confirm` |
/// | `.klarna-sim-line` | one per order line: `.klarna-sim-line-quantity` (`2 ×`), `.klarna-sim-line-name`, `.klarna-sim-line-amount` (`1698.00 SEK`) |
/// | `#klarna-sim-total` | the order amount, minor units with 2 decimals and the session's currency (`1747.00 SEK`) |
/// | `#klarna-sim-shopper` | the shopper's name (`given_name family_name` of `data.billing_address`, else the session's; "Guest shopper" without one) |
/// | `#klarna-sim-email` | the e-mail input, prefilled the same way (not in confirm mode) |
/// | `#klarna-sim-email-error` | `role="alert"`, shown with the input's `aria-invalid="true"` and `aria-describedby` when the address is refused |
/// | `#klarna-sim-category-<identifier>` | a radio per offered category (`klarna` "Pay later (in 30 days)", `pay_now` "Pay now (bank transfer)", `pay_over_time` "Pay in parts or finance"), `options.payment_method_category` checked |
/// | `#klarna-sim-plan-3`, `#klarna-sim-plan-12` | radios "Pay in 3 interest-free parts" (checked) and "Financing, 12 months" in `#klarna-sim-plans`, shown only while `pay_over_time` is picked (the plan is not sent: the simulator has none) |
/// | `#klarna-sim-pay` | "Pay", or "Continue" when the picked category will answer `finalize_required` (`pay_now` with `options.auto_finalize: false`) |
/// | `#klarna-sim-chosen` | confirm mode: the category being finalized |
/// | `#klarna-sim-confirm` | confirm mode: "Confirm and pay" |
/// | `#klarna-sim-decline` | in the "Simulator" section: "Simulate a decline by Klarna" |
/// | `#klarna-sim-fraud` | in the "Simulator" section: the fraud status of the order to come, `ACCEPTED` (default), `PENDING` or `REJECTED` |
/// | `#klarna-sim-close` | "×", `aria-label="Close"` |
///
/// What the page's callback gets:
///
/// * **Pay** checks the e-mail first: empty or not `x@y.z`-shaped, nothing is sent, the error is
///   shown and focus moves to the input. Otherwise it POSTs `{approve: true,
///   payment_method_category: <the shopper's pick>, fraud_status, auto_finalize (authorize
///   only), billing_address: data.billing_address (else the session's) with the e-mail, ...the
///   rest of data}` to
///   `/sim/sessions/{session_id}/authorize` and hands on the answer, as in automation mode
///   below. A `400 BAD_VALUE` on `billing_address.email` keeps the dialog open with the input
///   marked the same way, for the shopper to fix and press Pay again; one on another shopper
///   field goes to the callback as the fixable decline `{approved: false, show_form: true,
///   error: {invalid_fields: [field]}}`.
/// * **Confirm** POSTs the same to `/sim/sessions/{session_id}/finalize` for the category the
///   shopper picked when `authorize` answered `finalize_required` (remembered, so the page's
///   `finalize()` works whatever category it names), and hands on the token.
/// * **Simulate a decline** POSTs `approve: false` (to `finalize` in confirm mode): `{approved:
///   false, show_form: false}`.
/// * **Close** (×) or **Escape**: nothing is posted; `{approved: false, show_form: true}`, what
///   Klarna answers when the shopper closes its popup.
/// * The summary request failing (an unknown or expired session): `{approved: false,
///   show_form: false, error: {message}}`, no dialog. A call while a dialog is open or loading
///   closes the earlier one as if the shopper had (`{approved: false, show_form: true}`).
///
/// Keyboard: focus starts on the checked category (confirm mode: the confirm button), Tab and
/// Shift+Tab stay inside the dialog, Escape closes it (not while a step is in flight), and
/// focus returns to the element that had it before the dialog opened.
///
/// # Automation mode (no dialog)
///
/// When `window.KLARNA_SIM_HEADLESS === true`, or the page has assigned
/// `window.KLARNA_SIM_DECLINE` (any value, `false` included) or `window.KLARNA_SIM_FRAUD_STATUS`,
/// or `window.KLARNA_SIM_INVALID_FIELDS` is a non-empty array, read at each call, the calls post
/// at once. `authorize(options, data, callback)` POSTs `{approve, payment_method_category,
/// auto_finalize, billing_address, shipping_address, customer, order_amount, order_tax_amount,
/// order_lines}` (what `data` holds of those) to `/sim/sessions/{session_id}/authorize`; a cart
/// in `data` updates the session there. The callback gets the simulator's answer:
/// `{approved: true, show_form: true, authorization_token, finalize_required: false}`; for
/// `pay_now` with `options.auto_finalize: false`, `{approved: true, show_form: true,
/// finalize_required: true}` and no token, until `finalize(options, data, callback)` (POST to
/// `/sim/sessions/{session_id}/finalize`) answers the token. `reauthorize` authorizes again in one
/// step and does not need `load`.
///
/// The globals steer the shopper: `window.KLARNA_SIM_DECLINE = true` declines (`show_form:
/// false`); `window.KLARNA_SIM_INVALID_FIELDS = ["billing_address.email"]` is a fixable decline
/// (`{approved: false, show_form: true, error: {invalid_fields}}`);
/// `window.KLARNA_SIM_FRAUD_STATUS` (e.g. `"PENDING"`) is the fraud status of the order to come.
///
/// In either mode a shopper field the simulator refuses (`400 BAD_VALUE` on
/// `billing_address.*`, `shipping_address.*` or `customer.*`) that the dialog does not show comes
/// back as a fixable decline naming it; any other refusal (a bad cart, an expired session,
/// nothing awaiting finalize) as `{approved: false, show_form: false, error: {message}}`, and no
/// answer at all as `{approved: false, show_form: false}`.
pub(crate) const KLARNA_PAYMENTS_JS: &str = r##"/* Klarna Payments stand-in served by klarna-simulator. Not Klarna's SDK. */
(function () {
  "use strict";
  var state = {
    token: null, session: null, base: "", categories: [], loaded: {},
    // The category the shopper picked in the dialog for an authorization awaiting finalize().
    awaiting: null,
    // The open dialog, and a counter that lets a newer call supersede one still loading.
    modal: null, ticket: 0
  };

  var LABELS = {
    klarna: "Pay later (in 30 days)",
    pay_now: "Pay now (bank transfer)",
    pay_over_time: "Pay in parts or finance"
  };
  var PLANS = [
    { id: "3", label: "Pay in 3 interest-free parts", parts: 3, per: "a part, every 30 days" },
    { id: "12", label: "Financing, 12 months", parts: 12, per: "a month, before interest" }
  ];
  var EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
  var DATA_KEYS = ["billing_address", "shipping_address", "customer", "order_amount", "order_tax_amount", "order_lines"];

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

  // Automation mode: no dialog; the page steers the shopper with these globals.
  function headless() {
    var fields = window.KLARNA_SIM_INVALID_FIELDS;
    return window.KLARNA_SIM_HEADLESS === true ||
      window.KLARNA_SIM_DECLINE !== undefined ||
      !!(fields && fields.length) ||
      window.KLARNA_SIM_FRAUD_STATUS !== undefined;
  }

  function passData(a, body) {
    DATA_KEYS.forEach(function (k) { if (a.data[k] !== undefined) { body[k] = a.data[k]; } });
    return body;
  }

  function shopperBody(a, c) {
    var body = {
      approve: !window.KLARNA_SIM_DECLINE,
      payment_method_category: c
    };
    var fields = window.KLARNA_SIM_INVALID_FIELDS;
    if (fields && fields.length) { body.invalid_fields = fields; }
    if (window.KLARNA_SIM_FRAUD_STATUS) { body.fraud_status = window.KLARNA_SIM_FRAUD_STATUS; }
    return passData(a, body);
  }

  var SHOPPER_FIELD = /^(billing_address|shipping_address|customer)\./;

  function sessionUrl(step) {
    return state.base + "/sim/sessions/" + encodeURIComponent(state.session) + "/" + step;
  }

  function readJson(r) {
    return r.json().then(function (j) { return { ok: r.ok, body: j || {} }; });
  }

  // POSTs a shopper step; `then` gets {ok: true, body}, or {ok: false, message, field} (a
  // refusal; `field` when it is a shopper field's BAD_VALUE), or {ok: false, lost: true}.
  function post(step, body, then) {
    fetch(sessionUrl(step), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body)
    }).then(readJson).then(function (r) {
      if (r.ok) { return { ok: true, body: r.body }; }
      var message = (r.body.error_messages || [])[0] || "refused";
      var field = r.body.error_code === "BAD_VALUE" && message.indexOf("Bad value: ") === 0
        ? message.slice("Bad value: ".length) : null;
      return { ok: false, message: message, field: field && SHOPPER_FIELD.test(field) ? field : null };
    }, function () { return { ok: false, lost: true }; }).then(then);
  }

  // What the page's callback gets for a step's outcome.
  function answer(res) {
    if (res.ok) { return res.body; }
    if (res.field) { return { approved: false, show_form: true, error: { invalid_fields: [res.field] } }; }
    if (res.lost) { return { approved: false, show_form: false }; }
    return { approved: false, show_form: false, error: { message: res.message } };
  }

  function send(step, body, cb) { post(step, body, function (res) { done(cb, answer(res)); }); }

  // Klarna's answer when the shopper closes its popup.
  function abandoned() { return { approved: false, show_form: true }; }

  // ---- The shopper's dialog ------------------------------------------------------------

  var CSS = [
    "#klarna-sim-backdrop{position:fixed;inset:0;z-index:2147483000;background:rgba(23,18,15,.6);display:flex;overflow-y:auto;padding:16px;box-sizing:border-box}",
    "#klarna-sim-modal{box-sizing:border-box;width:100%;max-width:440px;margin:auto;background:#fff;color:#17120f;border-radius:16px;box-shadow:0 16px 48px rgba(0,0,0,.3);font:16px/1.45 -apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;text-align:left}",
    "#klarna-sim-modal *{box-sizing:border-box;font-family:inherit}",
    "#klarna-sim-modal .ks-head{display:flex;align-items:center;justify-content:space-between;background:#FFB3C7;padding:12px 12px 12px 20px;border-radius:16px 16px 0 0}",
    "#klarna-sim-modal .ks-brand{font-weight:800;font-size:22px;letter-spacing:-.02em}",
    "#klarna-sim-modal .ks-body{margin:0;padding:4px 20px 20px}",
    "#klarna-sim-modal h2{font-size:22px;line-height:1.25;margin:16px 0 4px}",
    "#klarna-sim-modal h3,#klarna-sim-modal legend{font-size:14px;font-weight:700;text-transform:uppercase;letter-spacing:.04em;color:#4d4845;margin:18px 0 6px;padding:0}",
    "#klarna-sim-modal legend{margin:0 0 6px}",
    "#klarna-sim-modal fieldset{border:0;margin:0;padding:0;min-width:0}",
    "#klarna-sim-modal #klarna-sim-categories{margin-top:22px}",
    "#klarna-sim-shopper{margin:0}",
    "#klarna-sim-modal ul{list-style:none;margin:0;padding:0}",
    "#klarna-sim-modal .klarna-sim-line{display:flex;gap:12px;justify-content:space-between;padding:8px 0;border-bottom:1px solid #ece9e6}",
    "#klarna-sim-modal .klarna-sim-line-quantity{color:#4d4845;margin-right:6px}",
    "#klarna-sim-modal .klarna-sim-line-amount,#klarna-sim-total{white-space:nowrap;font-variant-numeric:tabular-nums}",
    "#klarna-sim-modal .ks-total{display:flex;justify-content:space-between;font-weight:700;font-size:18px;margin:10px 0 0}",
    "#klarna-sim-modal .ks-muted{color:#4d4845;font-size:14px;margin:4px 0 0}",
    "#klarna-sim-modal label{display:block}",
    "#klarna-sim-modal .ks-field-label{font-weight:600;margin:12px 0 4px}",
    "#klarna-sim-modal input[type=email]{width:100%;font-size:16px;padding:11px 12px;border:1px solid #8c8480;border-radius:8px;background:#fff;color:#17120f}",
    "#klarna-sim-modal input[aria-invalid=true]{border:2px solid #b3261e}",
    "#klarna-sim-email-error{color:#b3261e;font-size:14px;font-weight:600;margin:6px 0 0}",
    "#klarna-sim-modal .ks-option{display:flex;align-items:flex-start;gap:10px;padding:12px 14px;margin:8px 0 0;border:1px solid #d9d4d0;border-radius:10px;cursor:pointer}",
    "#klarna-sim-modal .ks-option.ks-selected{border:2px solid #17120f;padding:11px 13px}",
    "#klarna-sim-modal .ks-option input{margin:3px 0 0;width:18px;height:18px;accent-color:#17120f;flex:none}",
    "#klarna-sim-modal .ks-plans{margin:12px 0 0 28px}",
    "#klarna-sim-modal .ks-plans .ks-option{padding:10px 12px}",
    "#klarna-sim-modal .ks-plans .ks-option.ks-selected{padding:9px 11px}",
    "#klarna-sim-modal .ks-hint{display:block;color:#4d4845;font-size:14px}",
    "#klarna-sim-modal button{font-size:16px;cursor:pointer}",
    "#klarna-sim-modal .ks-primary{display:block;width:100%;margin:20px 0 0;padding:14px 16px;border:0;border-radius:10px;background:#17120f;color:#fff;font-weight:700}",
    "#klarna-sim-modal .ks-primary:hover{background:#3a3330}",
    "#klarna-sim-modal [aria-disabled=true]{opacity:.6;cursor:progress}",
    "#klarna-sim-modal .ks-close{width:40px;height:40px;border:0;border-radius:50%;background:transparent;color:#17120f;font-size:28px;line-height:1}",
    "#klarna-sim-modal .ks-close:hover{background:rgba(23,18,15,.1)}",
    "#klarna-sim-modal .ks-sim{margin:20px 0 0;padding:12px 14px;border:1px dashed #8c8480;border-radius:10px;background:#faf8f7}",
    "#klarna-sim-modal .ks-sim legend{margin:0;padding:0 6px;text-transform:none;letter-spacing:0;font-size:14px;color:#17120f}",
    "#klarna-sim-modal .ks-secondary{margin:8px 0 0;padding:10px 14px;border:1px solid #17120f;border-radius:8px;background:#fff;color:#17120f;font-weight:600}",
    "#klarna-sim-modal select{font-size:16px;padding:8px 10px;border:1px solid #8c8480;border-radius:8px;background:#fff;color:#17120f}",
    "#klarna-sim-modal :focus{outline:none}",
    "#klarna-sim-modal :focus-visible,#klarna-sim-modal input[type=email]:focus{outline:3px solid #17120f;outline-offset:2px;box-shadow:0 0 0 6px #FFB3C7}",
    "#klarna-sim-modal .ks-close:focus-visible{box-shadow:0 0 0 6px #fff}"
  ].join("\n");

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }

  // Integer minor units as "1197.00 SEK".
  function money(minor, currency) {
    var n = Math.round(Number(minor) || 0);
    var abs = Math.abs(n), cents = abs % 100;
    return (n < 0 ? "-" : "") + Math.floor(abs / 100) + "." + (cents < 10 ? "0" : "") + cents +
      (currency ? " " + currency : "");
  }

  function str(v) { return typeof v === "string" ? v : ""; }

  function summary(then) {
    fetch(sessionUrl("summary"), { headers: { Authorization: "Bearer " + state.token } })
      .then(readJson)
      .then(function (r) {
        return r.ok ? { body: r.body } : { message: (r.body.error_messages || [])[0] || "refused" };
      }, function () { return {}; })
      .then(then);
  }

  function focusables(dialog) {
    var all = dialog.querySelectorAll("button, input, select, textarea, a[href], [tabindex]");
    return Array.prototype.filter.call(all, function (x) {
      if (x.disabled || x.tabIndex < 0 || !x.getClientRects().length) { return false; }
      if (x.type === "radio" && !x.checked) {
        // Tab stops at a radio group's checked button (or its first when none is).
        var group = Array.prototype.filter.call(dialog.querySelectorAll("input[type=radio]"),
          function (r) { return r.name === x.name; });
        return !group.some(function (r) { return r.checked; }) && group[0] === x;
      }
      return true;
    });
  }

  // Opens the dialog for `mode` ("authorize", "reauthorize" or "finalize") once the session's
  // summary is in; `c` is the page's category.
  function openModal(mode, a, c) {
    // Closing an earlier dialog first gives focus back to its opener, which is this one's too.
    if (state.modal) { state.modal.finish(abandoned()); }
    var opener = document.activeElement;
    var ticket = ++state.ticket;
    summary(function (s) {
      if (ticket !== state.ticket) { done(a.cb, abandoned()); return; }
      if (!s.body) {
        done(a.cb, s.message ? { approved: false, show_form: false, error: { message: s.message } }
          : { approved: false, show_form: false });
        return;
      }
      build(mode, a, c, s.body, opener);
    });
  }

  function build(mode, a, c, s, opener) {
    var finalizing = mode === "finalize";
    var currency = str(s.purchase_currency);
    var data = a.data;
    var lines = (Array.isArray(data.order_lines) ? data.order_lines : (s.order_lines || []))
      .filter(function (l) { return l && typeof l === "object"; });
    var total = typeof data.order_amount === "number" ? data.order_amount : s.order_amount;
    var pageAddress = data.billing_address && typeof data.billing_address === "object" ? data.billing_address : {};
    var sessionAddress = s.billing_address || {};
    var customer = data.customer && typeof data.customer === "object" ? data.customer : (s.customer || {});
    function shopper(k) { return str(pageAddress[k]) || str(sessionAddress[k]); }
    var offered = (s.payment_method_categories || []).filter(function (x) {
      return x && state.categories.indexOf(x.identifier) >= 0;
    });
    var chosen = finalizing ? (state.awaiting || c) : c;

    if (!document.getElementById("klarna-sim-style")) {
      var style = el("style", { id: "klarna-sim-style" });
      style.textContent = CSS;
      document.head.appendChild(style);
    }
    var backdrop = el("div", { id: "klarna-sim-backdrop", "data-klarna-simulator": "true" });
    var dialog = el("div", {
      id: "klarna-sim-modal", role: "dialog", "aria-modal": "true",
      "aria-labelledby": "klarna-sim-title", "data-mode": finalizing ? "confirm" : "authorize"
    });
    backdrop.appendChild(dialog);
    var head = el("div", { "class": "ks-head" });
    head.appendChild(el("span", { "class": "ks-brand" }, "Klarna."));
    var close = el("button", { type: "button", id: "klarna-sim-close", "class": "ks-close", "aria-label": "Close", title: "Close" }, "\u00d7");
    head.appendChild(close);
    dialog.appendChild(head);
    var form = el("form", { "class": "ks-body", novalidate: "" });
    dialog.appendChild(form);
    form.appendChild(el("h2", { id: "klarna-sim-title" }, finalizing ? "Confirm your payment" : "Complete your purchase"));

    var purchase = el("section", { "aria-labelledby": "klarna-sim-purchase-title" });
    purchase.appendChild(el("h3", { id: "klarna-sim-purchase-title" }, "Your purchase"));
    var list = el("ul", { id: "klarna-sim-lines" });
    lines.forEach(function (l) {
      var li = el("li", { "class": "klarna-sim-line" });
      var what = el("span", { "class": "klarna-sim-line-what" });
      what.appendChild(el("span", { "class": "klarna-sim-line-quantity" }, String(l.quantity) + " \u00d7"));
      what.appendChild(el("span", { "class": "klarna-sim-line-name" }, str(l.name)));
      li.appendChild(what);
      li.appendChild(el("span", { "class": "klarna-sim-line-amount" }, money(l.total_amount, currency)));
      list.appendChild(li);
    });
    purchase.appendChild(list);
    var totalRow = el("p", { "class": "ks-total" });
    totalRow.appendChild(el("span", null, "Total"));
    totalRow.appendChild(el("span", { id: "klarna-sim-total" }, money(total, currency)));
    purchase.appendChild(totalRow);
    form.appendChild(purchase);

    var you = el("section", { "aria-labelledby": "klarna-sim-shopper-title" });
    you.appendChild(el("h3", { id: "klarna-sim-shopper-title" }, "Your details"));
    var name = [shopper("given_name"), shopper("family_name")].filter(Boolean).join(" ");
    if (customer.type === "organization" && shopper("organization_name")) {
      name = shopper("organization_name") + (name ? " (" + name + ")" : "");
    }
    you.appendChild(el("p", { id: "klarna-sim-shopper" }, name || "Guest shopper"));
    var email = null, emailError = null;
    if (!finalizing) {
      you.appendChild(el("label", { "for": "klarna-sim-email", "class": "ks-field-label" }, "E-mail address"));
      email = el("input", { type: "email", id: "klarna-sim-email", name: "email", autocomplete: "email", inputmode: "email" });
      email.value = shopper("email");
      you.appendChild(email);
      emailError = el("p", { id: "klarna-sim-email-error", role: "alert" });
      emailError.hidden = true;
      you.appendChild(emailError);
    }
    form.appendChild(you);

    var radios = [], plans = null, planRadios = [];
    function option(input, label, hint) {
      var l = el("label", { "for": input.id, "class": "ks-option" });
      l.appendChild(input);
      var text = el("span");
      text.appendChild(el("span", { "class": "ks-option-label" }, label));
      if (hint) { text.appendChild(el("span", { "class": "ks-hint" }, hint)); }
      l.appendChild(text);
      return l;
    }
    function labelOf(id) {
      if (LABELS[id]) { return LABELS[id]; }
      var o = offered.filter(function (x) { return x.identifier === id; })[0];
      return o && o.name ? str(o.name) : id;
    }
    function needsFinalize(id) {
      var o = offered.filter(function (x) { return x.identifier === id; })[0];
      return !!(o && o.needs_finalize);
    }
    if (!finalizing) {
      var cats = el("fieldset", { id: "klarna-sim-categories" });
      cats.appendChild(el("legend", null, "How do you want to pay?"));
      offered.forEach(function (o) {
        var id = str(o.identifier);
        var r = el("input", { type: "radio", name: "klarna-sim-category", id: "klarna-sim-category-" + id, value: id });
        r.checked = id === c;
        radios.push(r);
        cats.appendChild(option(r, labelOf(id)));
        if (id === "pay_over_time") {
          plans = el("fieldset", { id: "klarna-sim-plans", "class": "ks-plans" });
          plans.appendChild(el("legend", null, "Choose a plan"));
          PLANS.forEach(function (p, i) {
            var pr = el("input", { type: "radio", name: "klarna-sim-plan", id: "klarna-sim-plan-" + p.id, value: p.id });
            pr.checked = i === 0;
            planRadios.push(pr);
            plans.appendChild(option(pr, p.label, "About " + money(Math.floor((Number(total) || 0) / p.parts), currency) + " " + p.per));
          });
          cats.appendChild(plans);
        }
      });
      form.appendChild(cats);
    } else {
      form.appendChild(el("p", { id: "klarna-sim-chosen", "class": "ks-muted" }, "Payment method: " + labelOf(chosen)));
    }

    var primary = finalizing
      ? el("button", { type: "submit", id: "klarna-sim-confirm", "class": "ks-primary" }, "Confirm and pay")
      : el("button", { type: "submit", id: "klarna-sim-pay", "class": "ks-primary" }, "Pay");
    form.appendChild(primary);

    var sim = el("fieldset", { "class": "ks-sim", id: "klarna-sim-simulator" });
    sim.appendChild(el("legend", null, "Simulator \u2014 not part of Klarna's checkout"));
    sim.appendChild(el("p", { "class": "ks-muted" }, "Test controls of klarna-simulator."));
    var decline = el("button", { type: "button", id: "klarna-sim-decline", "class": "ks-secondary" }, "Simulate a decline by Klarna");
    sim.appendChild(decline);
    sim.appendChild(el("label", { "for": "klarna-sim-fraud", "class": "ks-field-label" }, "Fraud status of the order"));
    var fraud = el("select", { id: "klarna-sim-fraud" });
    ["ACCEPTED", "PENDING", "REJECTED"].forEach(function (f) { fraud.appendChild(el("option", { value: f }, f)); });
    fraud.value = "ACCEPTED";
    sim.appendChild(fraud);
    form.appendChild(sim);

    function picked() {
      var r = radios.filter(function (x) { return x.checked; })[0];
      return r ? r.value : c;
    }
    function refresh() {
      radios.concat(planRadios).forEach(function (r) {
        r.parentNode.className = "ks-option" + (r.checked ? " ks-selected" : "");
      });
      if (plans) { plans.hidden = picked() !== "pay_over_time"; }
      if (!finalizing) {
        var more = mode === "authorize" && a.options.auto_finalize === false && needsFinalize(picked());
        primary.textContent = more ? "Continue" : "Pay";
      }
    }
    radios.concat(planRadios).forEach(function (r) { r.addEventListener("change", refresh); });
    refresh();

    var m = { busy: false };
    state.modal = m;
    var overflow = document.body.style.overflow;
    function onKey(e) {
      if (e.key === "Escape" || e.key === "Esc") {
        e.preventDefault();
        e.stopPropagation();
        if (!m.busy) { m.finish(abandoned()); }
        return;
      }
      if (e.key !== "Tab") { return; }
      var f = focusables(dialog);
      if (!f.length) { e.preventDefault(); return; }
      var cur = document.activeElement, inside = dialog.contains(cur);
      if (e.shiftKey && (cur === f[0] || !inside)) { e.preventDefault(); f[f.length - 1].focus(); }
      else if (!e.shiftKey && (cur === f[f.length - 1] || !inside)) { e.preventDefault(); f[0].focus(); }
    }
    function onFocusIn(e) {
      if (state.modal === m && !dialog.contains(e.target)) { (focusables(dialog)[0] || dialog).focus(); }
    }
    m.finish = function (result) {
      if (state.modal !== m) { return; }
      state.modal = null;
      document.removeEventListener("keydown", onKey, true);
      document.removeEventListener("focusin", onFocusIn, true);
      if (backdrop.parentNode) { backdrop.parentNode.removeChild(backdrop); }
      document.body.style.overflow = overflow;
      if (opener && typeof opener.focus === "function" && document.contains(opener)) { opener.focus(); }
      done(a.cb, result);
    };
    function busy(on) {
      m.busy = on;
      dialog.setAttribute("aria-busy", on ? "true" : "false");
      [primary, decline, close].forEach(function (b) {
        if (on) { b.setAttribute("aria-disabled", "true"); } else { b.removeAttribute("aria-disabled"); }
      });
    }
    function emailProblem(message) {
      emailError.textContent = message;
      emailError.hidden = false;
      email.setAttribute("aria-invalid", "true");
      email.setAttribute("aria-describedby", "klarna-sim-email-error");
      email.focus();
    }
    function emailFine() {
      emailError.hidden = true;
      emailError.textContent = "";
      email.removeAttribute("aria-invalid");
      email.removeAttribute("aria-describedby");
    }
    // The shopper's fields the dialog shows, by the path the simulator names in a BAD_VALUE.
    var fields = email ? { "billing_address.email": function () {
      emailProblem("Klarna cannot accept this e-mail address. Please check it.");
    } } : {};
    // Runs a step from the dialog: a refused field the dialog shows keeps it open, marked.
    function step(name, body) {
      busy(true);
      post(name, body, function (res) {
        busy(false);
        if (!res.ok && res.field && fields[res.field]) { fields[res.field](); return; }
        if (res.ok && (name === "authorize" || res.body.approved || res.body.show_form === false)) {
          state.awaiting = res.body.approved && res.body.finalize_required ? body.payment_method_category : null;
        }
        m.finish(answer(res));
      });
    }
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      if (m.busy) { return; }
      var body = passData(a, { approve: true, payment_method_category: finalizing ? chosen : picked() });
      body.fraud_status = fraud.value;
      if (finalizing) { step("finalize", body); return; }
      var address = email.value.trim();
      if (!address) { emailProblem("Enter your e-mail address."); return; }
      if (!EMAIL.test(address)) { emailProblem("Enter an e-mail address like name@example.com."); return; }
      emailFine();
      // Over the page's address, else the session's (whole, so the authorized address stays it).
      var billing = {}, base = data.billing_address && typeof data.billing_address === "object" ? pageAddress : sessionAddress;
      Object.keys(base).forEach(function (k) { billing[k] = base[k]; });
      billing.email = address;
      body.billing_address = billing;
      if (mode === "authorize" && typeof a.options.auto_finalize === "boolean") { body.auto_finalize = a.options.auto_finalize; }
      step("authorize", body);
    });
    decline.addEventListener("click", function () {
      if (m.busy) { return; }
      var body = passData(a, { approve: false, payment_method_category: finalizing ? chosen : picked() });
      step(finalizing ? "finalize" : "authorize", body);
    });
    close.addEventListener("click", function () { if (!m.busy) { m.finish(abandoned()); } });

    document.addEventListener("keydown", onKey, true);
    document.addEventListener("focusin", onFocusIn, true);
    document.body.style.overflow = "hidden";
    document.body.appendChild(backdrop);
    var first = finalizing ? primary : (radios.filter(function (r) { return r.checked; })[0] || radios[0] || primary);
    first.focus();
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
      state.awaiting = null;
    },
    load: function (options, data, cb) {
      var a = args(options, data, cb);
      initialized(a, false);
      var container = a.options.container;
      if (typeof container === "string") {
        try { container = document.querySelector(container); } catch (e) { container = null; }
      }
      if (!container || typeof container.appendChild !== "function") {
        fail(a, false, "InvalidContainerSelectorError", "options.container is neither an element nor a selector of one");
      }
      var c = category(a, false);
      container.innerHTML = "";
      var box = document.createElement("div");
      box.setAttribute("data-klarna-simulator", "true");
      box.setAttribute("data-payment-method-category", c);
      box.style.cssText = "border:1px solid #999;border-radius:4px;padding:12px;font-family:sans-serif";
      box.textContent = "Klarna (simulator) \u2014 " + (LABELS[c] || c);
      container.appendChild(box);
      state.loaded[c] = true;
      done(a.cb, { show_form: true });
    },
    authorize: function (options, data, cb) {
      var a = args(options, data, cb);
      initialized(a, true);
      var c = category(a, true);
      loaded(a, c);
      if (!headless()) { openModal("authorize", a, c); return; }
      state.awaiting = null;
      var body = shopperBody(a, c);
      if (typeof a.options.auto_finalize === "boolean") { body.auto_finalize = a.options.auto_finalize; }
      send("authorize", body, a.cb);
    },
    reauthorize: function (options, data, cb) {
      var a = args(options, data, cb);
      initialized(a, true);
      var c = category(a, true);
      if (!headless()) { openModal("reauthorize", a, c); return; }
      state.awaiting = null;
      send("authorize", shopperBody(a, c), a.cb);
    },
    finalize: function (options, data, cb) {
      var a = args(options, data, cb);
      initialized(a, true);
      var c = category(a, true);
      loaded(a, c);
      if (!headless()) { openModal("finalize", a, c); return; }
      // The category the shopper picked in the dialog, if it differs from the page's.
      send("finalize", shopperBody(a, state.awaiting || c), a.cb);
    },
    on: function () {},
    off: function () {}
  };

  if (typeof window.klarnaAsyncCallback === "function") {
    setTimeout(function () { window.klarnaAsyncCallback(); }, 0);
  }
})();
"##;
