//! A payment session's body as typed fields over one string buffer: what P1/P3 stored, what P2
//! echoes and what an authorization snapshots.
//!
//! Every field the engine knows is typed (strings, amounts, the intent, order lines, and the
//! all-string objects: addresses, customer, merchant URLs, widget options, product identifiers).
//! Its strings live back to back in one buffer (one allocation per session instead of one per
//! string). A value the request had in another shape (a `null`, an unknown key, an object with a
//! non-string value) is kept as given in `rest`, so [`SessionBody::to_map`] gives back exactly the
//! object [`SessionBody::from_map`] took: the echo of P2 and the comparison of P5/P6 see what the
//! merchant sent.

use serde_json::{Map, Value};

use super::status::Intent;

/// A string in the session's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: u32,
    end: u32,
}

/// An all-string object: `pairs[first..end]`, alternately key and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Obj {
    first: u32,
    end: u32,
}

/// An optional [`Span`] in 8 bytes (`start == u32::MAX`: absent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct OptStr(Span);

/// An optional [`Obj`] in 8 bytes (`first == u32::MAX`: absent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct OptObj(Obj);

/// An optional integer in 8 bytes (`i64::MIN`: absent; an `i64::MIN` on the wire stays in `rest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct OptInt(i64);

impl From<Option<Span>> for OptStr {
    fn from(s: Option<Span>) -> Self {
        Self(s.unwrap_or(Span {
            start: u32::MAX,
            end: u32::MAX,
        }))
    }
}

impl OptStr {
    fn get(self) -> Option<Span> {
        (self.0.start != u32::MAX).then_some(self.0)
    }
}

impl From<Option<Obj>> for OptObj {
    fn from(o: Option<Obj>) -> Self {
        Self(o.unwrap_or(Obj {
            first: u32::MAX,
            end: u32::MAX,
        }))
    }
}

impl OptObj {
    fn get(self) -> Option<Obj> {
        (self.0.first != u32::MAX).then_some(self.0)
    }
}

impl From<Option<i64>> for OptInt {
    fn from(v: Option<i64>) -> Self {
        Self(v.unwrap_or(i64::MIN))
    }
}

impl OptInt {
    fn get(self) -> Option<i64> {
        (self.0 != i64::MIN).then_some(self.0)
    }
}

fn idx(n: u32) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// Collects strings into one buffer while a body is taken apart.
#[derive(Debug, Default)]
struct Builder {
    text: String,
    pairs: Vec<Span>,
}

impl Builder {
    fn span(&mut self, s: &str) -> Option<Span> {
        let start = u32::try_from(self.text.len())
            .ok()
            .filter(|s| *s != u32::MAX)?;
        let end = u32::try_from(self.text.len().checked_add(s.len())?).ok()?;
        self.text.push_str(s);
        Some(Span { start, end })
    }

    /// Takes `key` out of `m` if it is a string.
    fn take_str(&mut self, m: &mut Map<String, Value>, key: &str) -> Option<Span> {
        let span = match m.get(key) {
            Some(Value::String(s)) => self.span(s)?,
            _ => return None,
        };
        m.remove(key);
        Some(span)
    }

    /// Takes `key` out of `m` if it is an object whose values are all strings.
    fn take_obj(&mut self, m: &mut Map<String, Value>, key: &str) -> Option<Obj> {
        let Some(Value::Object(o)) = m.get(key) else {
            return None;
        };
        if !o.values().all(Value::is_string) {
            return None;
        }
        let first = u32::try_from(self.pairs.len())
            .ok()
            .filter(|f| *f != u32::MAX)?;
        let mut pairs = Vec::with_capacity(o.len() * 2);
        for (k, v) in o {
            pairs.push(self.span(k)?);
            pairs.push(self.span(v.as_str().unwrap_or_default())?);
        }
        let end = u32::try_from(self.pairs.len().checked_add(pairs.len())?).ok()?;
        self.pairs.extend(pairs);
        m.remove(key);
        Some(Obj { first, end })
    }

    fn finish(self) -> Arena {
        Arena {
            text: self.text.into_boxed_str(),
            pairs: self.pairs.into_boxed_slice(),
        }
    }
}

/// What is left of a taken-apart object: an emptied map still holds its allocated node, so an
/// empty one is replaced by a fresh (unallocated) map.
fn leftover(m: Map<String, Value>) -> Option<Box<Map<String, Value>>> {
    (!m.is_empty()).then(|| Box::new(m))
}

/// Takes `key` out of `m` if it is an integer that fits `i64`.
fn take_i64(m: &mut Map<String, Value>, key: &str) -> Option<i64> {
    let v = m.get(key)?.as_i64().filter(|v| *v != i64::MIN)?;
    m.remove(key);
    Some(v)
}

fn put_i64(m: &mut Map<String, Value>, key: &str, v: Option<i64>) {
    if let Some(v) = v {
        m.insert(key.to_owned(), Value::from(v));
    }
}

/// The strings of one session.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Arena {
    text: Box<str>,
    pairs: Box<[Span]>,
}

impl Arena {
    fn str(&self, s: Span) -> &str {
        self.text.get(idx(s.start)..idx(s.end)).unwrap_or_default()
    }

    fn pairs(&self, o: Obj) -> impl Iterator<Item = (&str, &str)> {
        let pairs = self.pairs.get(idx(o.first)..idx(o.end)).unwrap_or_default();
        pairs
            .chunks_exact(2)
            .filter_map(|kv| Some((self.str(*kv.first()?), self.str(*kv.get(1)?))))
    }

    fn get(&self, o: Obj, key: &str) -> Option<&str> {
        self.pairs(o).find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    fn put_str(&self, m: &mut Map<String, Value>, key: &str, s: Option<Span>) {
        if let Some(s) = s {
            m.insert(key.to_owned(), Value::String(self.str(s).to_owned()));
        }
    }

    fn put_obj(&self, m: &mut Map<String, Value>, key: &str, o: Option<Obj>) {
        if let Some(o) = o {
            let obj = self
                .pairs(o)
                .map(|(k, v)| (k.to_owned(), Value::String(v.to_owned())))
                .collect();
            m.insert(key.to_owned(), Value::Object(obj));
        }
    }
}

/// One order line of a session (API.md §1.8), its strings in the session's buffer.
#[derive(Debug, Clone, PartialEq)]
struct OrderLine {
    kind: OptStr,
    reference: OptStr,
    name: OptStr,
    quantity: OptInt,
    quantity_unit: OptStr,
    unit_price: OptInt,
    tax_rate: OptInt,
    total_amount: OptInt,
    total_discount_amount: OptInt,
    total_tax_amount: OptInt,
    merchant_data: OptStr,
    product_url: OptStr,
    image_url: OptStr,
    product_identifiers: OptObj,
    /// Anything else on the line, as given (`subscription`, nulls, unknown keys).
    rest: Option<Box<Map<String, Value>>>,
}

impl OrderLine {
    fn from_map(mut m: Map<String, Value>, b: &mut Builder) -> Self {
        Self {
            kind: b.take_str(&mut m, "type").into(),
            reference: b.take_str(&mut m, "reference").into(),
            name: b.take_str(&mut m, "name").into(),
            quantity: take_i64(&mut m, "quantity").into(),
            quantity_unit: b.take_str(&mut m, "quantity_unit").into(),
            unit_price: take_i64(&mut m, "unit_price").into(),
            tax_rate: take_i64(&mut m, "tax_rate").into(),
            total_amount: take_i64(&mut m, "total_amount").into(),
            total_discount_amount: take_i64(&mut m, "total_discount_amount").into(),
            total_tax_amount: take_i64(&mut m, "total_tax_amount").into(),
            merchant_data: b.take_str(&mut m, "merchant_data").into(),
            product_url: b.take_str(&mut m, "product_url").into(),
            image_url: b.take_str(&mut m, "image_url").into(),
            product_identifiers: b.take_obj(&mut m, "product_identifiers").into(),
            rest: leftover(m),
        }
    }

    fn to_value(&self, a: &Arena) -> Value {
        let mut m = self.rest.as_deref().cloned().unwrap_or_default();
        a.put_str(&mut m, "type", self.kind.get());
        a.put_str(&mut m, "reference", self.reference.get());
        a.put_str(&mut m, "name", self.name.get());
        put_i64(&mut m, "quantity", self.quantity.get());
        a.put_str(&mut m, "quantity_unit", self.quantity_unit.get());
        put_i64(&mut m, "unit_price", self.unit_price.get());
        put_i64(&mut m, "tax_rate", self.tax_rate.get());
        put_i64(&mut m, "total_amount", self.total_amount.get());
        put_i64(
            &mut m,
            "total_discount_amount",
            self.total_discount_amount.get(),
        );
        put_i64(&mut m, "total_tax_amount", self.total_tax_amount.get());
        a.put_str(&mut m, "merchant_data", self.merchant_data.get());
        a.put_str(&mut m, "product_url", self.product_url.get());
        a.put_str(&mut m, "image_url", self.image_url.get());
        a.put_obj(
            &mut m,
            "product_identifiers",
            self.product_identifiers.get(),
        );
        Value::Object(m)
    }
}

/// A payment session's fields (or an authorization's snapshot of them), typed.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct SessionBody {
    strings: Arena,
    intent: Option<Intent>,
    acquiring_channel: OptStr,
    purchase_country: OptStr,
    purchase_currency: OptStr,
    locale: OptStr,
    order_amount: OptInt,
    order_tax_amount: OptInt,
    order_lines: Option<Box<[OrderLine]>>,
    billing_address: OptObj,
    shipping_address: OptObj,
    customer: OptObj,
    merchant_urls: OptObj,
    merchant_reference1: OptStr,
    merchant_reference2: OptStr,
    merchant_data: OptStr,
    options: OptObj,
    design: OptStr,
    /// Anything else, as given (`attachment`, nulls, unknown keys, values of another shape).
    rest: Option<Box<Map<String, Value>>>,
}

impl SessionBody {
    /// Takes a session object apart into typed fields.
    pub(super) fn from_map(mut m: Map<String, Value>) -> Self {
        let mut b = Builder::default();
        let intent = m
            .get("intent")
            .and_then(Value::as_str)
            .and_then(Intent::from_wire);
        if intent.is_some() {
            m.remove("intent");
        }
        let all_objects =
            matches!(m.get("order_lines"), Some(Value::Array(a)) if a.iter().all(Value::is_object));
        let order_lines = match m.remove("order_lines") {
            Some(Value::Array(lines)) if all_objects => Some(
                lines
                    .into_iter()
                    .filter_map(|l| match l {
                        Value::Object(o) => Some(OrderLine::from_map(o, &mut b)),
                        _ => None,
                    })
                    .collect(),
            ),
            Some(other) => {
                m.insert("order_lines".to_owned(), other);
                None
            }
            None => None,
        };
        Self {
            intent,
            acquiring_channel: b.take_str(&mut m, "acquiring_channel").into(),
            purchase_country: b.take_str(&mut m, "purchase_country").into(),
            purchase_currency: b.take_str(&mut m, "purchase_currency").into(),
            locale: b.take_str(&mut m, "locale").into(),
            order_amount: take_i64(&mut m, "order_amount").into(),
            order_tax_amount: take_i64(&mut m, "order_tax_amount").into(),
            order_lines,
            billing_address: b.take_obj(&mut m, "billing_address").into(),
            shipping_address: b.take_obj(&mut m, "shipping_address").into(),
            customer: b.take_obj(&mut m, "customer").into(),
            merchant_urls: b.take_obj(&mut m, "merchant_urls").into(),
            merchant_reference1: b.take_str(&mut m, "merchant_reference1").into(),
            merchant_reference2: b.take_str(&mut m, "merchant_reference2").into(),
            merchant_data: b.take_str(&mut m, "merchant_data").into(),
            options: b.take_obj(&mut m, "options").into(),
            design: b.take_str(&mut m, "design").into(),
            rest: leftover(m),
            strings: b.finish(),
        }
    }

    /// The session object again, exactly as [`Self::from_map`] took it.
    pub(super) fn to_map(&self) -> Map<String, Value> {
        let a = &self.strings;
        let mut m = self.rest.as_deref().cloned().unwrap_or_default();
        if let Some(i) = self.intent {
            m.insert("intent".to_owned(), Value::String(i.wire().to_owned()));
        }
        a.put_str(&mut m, "acquiring_channel", self.acquiring_channel.get());
        a.put_str(&mut m, "purchase_country", self.purchase_country.get());
        a.put_str(&mut m, "purchase_currency", self.purchase_currency.get());
        a.put_str(&mut m, "locale", self.locale.get());
        put_i64(&mut m, "order_amount", self.order_amount.get());
        put_i64(&mut m, "order_tax_amount", self.order_tax_amount.get());
        if let Some(lines) = &self.order_lines {
            let lines = lines.iter().map(|l| l.to_value(a)).collect();
            m.insert("order_lines".to_owned(), Value::Array(lines));
        }
        a.put_obj(&mut m, "billing_address", self.billing_address.get());
        a.put_obj(&mut m, "shipping_address", self.shipping_address.get());
        a.put_obj(&mut m, "customer", self.customer.get());
        a.put_obj(&mut m, "merchant_urls", self.merchant_urls.get());
        a.put_str(
            &mut m,
            "merchant_reference1",
            self.merchant_reference1.get(),
        );
        a.put_str(
            &mut m,
            "merchant_reference2",
            self.merchant_reference2.get(),
        );
        a.put_str(&mut m, "merchant_data", self.merchant_data.get());
        a.put_obj(&mut m, "options", self.options.get());
        a.put_str(&mut m, "design", self.design.get());
        m
    }

    /// The session's intent: `buy` unless it says `tokenize` or `buy_and_tokenize`.
    pub(super) fn intent(&self) -> Intent {
        self.intent.unwrap_or(Intent::Buy)
    }

    /// One of `merchant_urls`, e.g. `authorization`.
    pub(super) fn merchant_url(&self, key: &str) -> Option<&str> {
        match self.merchant_urls.get() {
            Some(o) => self.strings.get(o, key),
            None => self
                .rest
                .as_ref()?
                .get("merchant_urls")
                .and_then(|u| u.get(key))
                .and_then(Value::as_str),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    fn round_trip(v: Value) -> (SessionBody, Map<String, Value>) {
        let m = obj(v);
        let body = SessionBody::from_map(m.clone());
        let back = body.to_map();
        assert_eq!(back, m);
        (body, m)
    }

    #[test]
    fn a_full_cart_is_typed_and_gives_back_the_same_object() {
        let (body, _) = round_trip(json!({
            "acquiring_channel": "ECOMMERCE", "intent": "buy_and_tokenize",
            "purchase_country": "SE", "purchase_currency": "SEK", "locale": "sv-SE",
            "order_amount": 174_700, "order_tax_amount": 34_940,
            "order_lines": [
                {"type": "physical", "reference": "SHOE", "name": "Shoe", "quantity": 2,
                 "quantity_unit": "pcs", "unit_price": 89_900, "tax_rate": 2500,
                 "total_amount": 169_800, "total_discount_amount": 10_000,
                 "total_tax_amount": 33_960, "merchant_data": "md",
                 "product_url": "https://x/p", "image_url": "https://x/i",
                 "product_identifiers": {"brand": "Nordtrail", "color": "blue"},
                 "subscription": {"name": "s", "interval": "MONTH", "interval_count": 1}},
                {"name": "Ship", "quantity": 1, "unit_price": 4900, "total_amount": 4900}
            ],
            "billing_address": {"given_name": "Å", "country": "SE"},
            "shipping_address": {},
            "customer": {"date_of_birth": "1970-01-01"},
            "merchant_urls": {"authorization": "https://m/a", "confirmation": "https://m/c"},
            "merchant_reference1": "R1", "merchant_reference2": "", "merchant_data": "{}",
            "options": {"color_text": "#1A1A1A"}, "design": "d",
            "attachment": {"content_type": "application/vnd.klarna.internal.emd-v2+json", "body": "{}"}
        }));
        assert_eq!(body.intent(), Intent::BuyAndTokenize);
        assert_eq!(body.merchant_url("authorization"), Some("https://m/a"));
        assert_eq!(body.merchant_url("notification"), None);
        // Only what has no typed field stays as JSON.
        assert_eq!(
            body.rest
                .as_ref()
                .map(|r| r.keys().collect::<Vec<_>>())
                .unwrap_or_default(),
            ["attachment"]
        );
        let lines = body.order_lines.as_deref().unwrap_or_default();
        assert_eq!(lines.len(), 2);
        assert_eq!(
            lines
                .first()
                .and_then(|l| l.rest.as_ref())
                .map(|r| r.keys().collect::<Vec<_>>()),
            Some(vec![&"subscription".to_owned()])
        );
        assert_eq!(lines.get(1).and_then(|l| l.total_amount.get()), Some(4900));
    }

    #[test]
    fn nulls_unknown_keys_and_other_shapes_are_kept_as_given() {
        let (body, _) = round_trip(json!({
            "intent": null, "locale": null, "order_amount": 1.5, "order_tax_amount": "0",
            "billing_address": {"given_name": "A", "postal_code": 12345},
            "merchant_urls": {"authorization": "https://m/a", "push": null},
            "order_lines": [{"name": "x", "quantity": null}, "not a line"],
            "purchase_country": 46, "unknown": {"deep": [1, 2]}, "big": 18_446_744_073_709_551_615_u64
        }));
        assert_eq!(body.intent(), Intent::Buy);
        assert_eq!(body.order_amount.get(), None);
        assert!(body.order_lines.is_none());
        assert!(body.billing_address.get().is_none());
        // A merchant_urls object of another shape is still read.
        assert_eq!(body.merchant_url("authorization"), Some("https://m/a"));
        assert_eq!(body.rest.as_ref().map_or(0, |r| r.len()), 10);
    }

    #[test]
    fn intent_outside_the_wire_values_is_buy_and_kept_as_given() {
        let (body, _) = round_trip(json!({"intent": "TOKENIZE"}));
        assert_eq!(body.intent(), Intent::Buy);
        let (body, _) = round_trip(json!({"intent": "tokenize"}));
        assert_eq!(body.intent(), Intent::Tokenize);
        assert!(body.rest.is_none());
        let (body, _) = round_trip(json!({}));
        assert_eq!(body.intent(), Intent::Buy);
        assert_eq!(body.strings.text.len(), 0);
    }

    #[test]
    fn values_equal_to_the_absent_markers_stay_in_rest() {
        let (body, _) = round_trip(json!({"order_amount": i64::MIN, "order_tax_amount": i64::MAX}));
        assert_eq!(body.order_amount.get(), None);
        assert_eq!(body.order_tax_amount.get(), Some(i64::MAX));
        assert_eq!(body.rest.as_ref().map_or(0, |r| r.len()), 1);
    }

    #[test]
    fn the_typed_fields_stay_compact() {
        // 100,000 sessions must fit 200 MB: optional fields cost 8 bytes, not 12 or 16.
        assert_eq!(size_of::<OptStr>(), 8);
        assert_eq!(size_of::<OptObj>(), 8);
        assert_eq!(size_of::<OptInt>(), 8);
        assert!(size_of::<OrderLine>() <= 128, "{}", size_of::<OrderLine>());
        assert!(
            size_of::<SessionBody>() <= 192,
            "{}",
            size_of::<SessionBody>()
        );
    }

    #[test]
    fn strings_share_one_buffer() {
        let (body, _) = round_trip(json!({
            "purchase_country": "SE", "locale": "sv-SE",
            "order_lines": [{"name": "Socks", "reference": "S-1"}],
            "merchant_urls": {"confirmation": "https://c"}
        }));
        let text = &body.strings.text;
        for s in ["SE", "sv-SE", "Socks", "S-1", "confirmation", "https://c"] {
            assert!(text.contains(s), "{s} in {text}");
        }
        assert_eq!(body.strings.pairs.len(), 2);
    }
}
