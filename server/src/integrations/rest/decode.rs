//! From mapped JSON to our records, leniently: a field of the wrong type is dropped and
//! reported, never failing the record; a record without an id is never shown as an empty
//! profile.

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::super::{Customer, Found, Order, Return};

/// Most fields dropped from one record before it is given up as unreadable.
const MAX_DROPS: usize = 32;

/// Records that must carry an id to be worth showing.
pub trait Record: DeserializeOwned {
    fn id(&self) -> &str;
}

impl Record for Customer {
    fn id(&self) -> &str {
        &self.id
    }
}
impl Record for Order {
    fn id(&self) -> &str {
        &self.id
    }
}
impl Record for Return {
    fn id(&self) -> &str {
        &self.id
    }
}

/// Decodes `v` into `T`, dropping each field that does not fit (a string where a number
/// belongs, an object where a list belongs) with a warning `{what}.{path}: {why}`. Fails
/// only when `v` itself is not a record.
pub fn lenient<T: DeserializeOwned>(
    mut v: Value,
    what: &str,
    warnings: &mut Vec<String>,
) -> Result<T, String> {
    for _ in 0..MAX_DROPS {
        let err = match serde_path_to_error::deserialize::<_, T>(&v) {
            Ok(t) => return Ok(t),
            Err(e) => e,
        };
        let path: Vec<_> = err.path().iter().cloned().collect();
        if path.is_empty() || !remove(&mut v, &path) {
            return Err(format!("{what}: {}", err.inner()));
        }
        warnings.push(format!("{what}.{}: {}; left out", err.path(), err.inner()));
    }
    Err(format!(
        "{what}: more than {MAX_DROPS} fields are unreadable"
    ))
}

/// Removes the value at `path` (a field of an object or an element of a list).
fn remove(v: &mut Value, path: &[serde_path_to_error::Segment]) -> bool {
    use serde_path_to_error::Segment;
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut at = v;
    for seg in parents {
        let next = match (seg, at) {
            (Segment::Map { key }, Value::Object(o)) => o.get_mut(key),
            (Segment::Seq { index }, Value::Array(a)) => a.get_mut(*index),
            _ => None,
        };
        match next {
            Some(n) => at = n,
            None => return false,
        }
    }
    match (last, at) {
        (Segment::Map { key }, Value::Object(o)) => o.remove(key).is_some(),
        (Segment::Seq { index }, Value::Array(a)) if *index < a.len() => {
            a.remove(*index);
            true
        }
        _ => false,
    }
}

/// One record from a lookup of one thing (`None` for `null`: not found). A record without
/// an id is an error naming the lookup, so an envelope the mapping missed is never shown
/// as an empty profile.
pub fn one<T: Record>(v: Value, lookup: &str) -> Result<Found<Option<T>>, String> {
    if v.is_null() {
        return Ok(Found::clean(None));
    }
    let mut warnings = Vec::new();
    let record: T = lenient(v, lookup, &mut warnings)?;
    if record.id().is_empty() {
        return Err(format!(
            "{lookup}: the record has no `id` after mapping (is it inside an envelope the \
             mapping does not unwrap? try it with `kefu config check`)"
        ));
    }
    Ok(Found {
        data: Some(record),
        warnings,
    })
}

/// The records of a list lookup. A malformed or id-less element is left out with a
/// warning; if every element is, the lookup fails (the mapping, not the data, is wrong).
pub fn many<T: Record>(values: Vec<Value>, lookup: &str) -> Result<Found<Vec<T>>, String> {
    let total = values.len();
    let mut warnings = Vec::new();
    let mut out = Vec::with_capacity(total);
    for (i, v) in values.into_iter().enumerate() {
        let what = format!("{lookup}[{i}]");
        match lenient::<T>(v, &what, &mut warnings) {
            Ok(r) if r.id().is_empty() => {
                warnings.push(format!("{what}: no `id` after mapping; left out"))
            }
            Ok(r) => out.push(r),
            Err(e) => warnings.push(format!("{e}; left out")),
        }
    }
    if total > 0 && out.is_empty() {
        return Err(format!(
            "{lookup}: none of the {total} records has an `id` after mapping ({}); \
             try the mapping with `kefu config check`",
            warnings.first().map(String::as_str).unwrap_or("")
        ));
    }
    Ok(Found {
        data: out,
        warnings,
    })
}

/// The outputs of a list filter as a list: one array output is the list itself; otherwise
/// each output is an element (`.data[] | {…}`); `null`s are skipped.
pub fn as_list(outputs: Vec<Value>) -> Vec<Value> {
    match <[Value; 1]>::try_from(outputs) {
        Ok([Value::Array(items)]) => items,
        Ok([one]) => [one].into_iter().filter(|v| !v.is_null()).collect(),
        Err(many) => many.into_iter().filter(|v| !v.is_null()).collect(),
    }
}

/// The first output of a one-record filter, `null` when it gave none.
pub fn as_one(outputs: Vec<Value>) -> Value {
    outputs.into_iter().next().unwrap_or(Value::Null)
}

/// Newest first by the record's time (`placed_at`, `created_at`); records without one
/// keep their place after those with one. RFC 3339 UTC strings sort as text.
pub fn newest_first<T>(records: &mut [T], at: impl Fn(&T) -> Option<&str>) {
    records.sort_by(|a, b| at(b).cmp(&at(a)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_wrong_typed_field_is_dropped_and_reported() {
        let mut w = Vec::new();
        let o: Order = lenient(
            json!({"id": "SO-1", "status": "paid", "items": [
                {"sku": "A", "quantity": "2"}, {"sku": "B", "quantity": 1}, "junk"
            ], "total": 12}),
            "orders[0]",
            &mut w,
        )
        .unwrap();
        assert_eq!(o.id, "SO-1");
        assert_eq!(o.items.len(), 2, "the junk element is dropped");
        assert_eq!((o.items[0].quantity, o.items[1].quantity), (0, 1));
        assert!(o.total.is_none());
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(
            w[0].starts_with("orders[0].items[0].quantity: invalid type: string"),
            "{w:?}"
        );
    }

    #[test]
    fn a_record_without_id_is_an_error_naming_the_lookup() {
        let e = one::<Customer>(json!({"data": {"id": "C1"}}), "customer").unwrap_err();
        assert!(e.starts_with("customer: the record has no `id`"), "{e}");
        assert!(
            one::<Customer>(json!(null), "customer")
                .unwrap()
                .data
                .is_none()
        );
        let e = many::<Order>(vec![json!({"no": 1}), json!({"no": 2})], "orders").unwrap_err();
        assert!(e.starts_with("orders: none of the 2 records"), "{e}");
        let ok = many::<Order>(vec![json!({"no": 1}), json!({"id": "SO-2"})], "orders").unwrap();
        assert_eq!(ok.data.len(), 1);
        assert_eq!(
            ok.warnings,
            vec!["orders[0]: no `id` after mapping; left out"]
        );
    }

    #[test]
    fn list_outputs_and_order() {
        assert_eq!(as_list(vec![json!([1, 2])]), vec![json!(1), json!(2)]);
        assert_eq!(
            as_list(vec![json!(1), json!(null), json!(2)]),
            vec![json!(1), json!(2)]
        );
        assert!(as_list(vec![]).is_empty());
        let mut v = vec![Some("2026-01-01"), None, Some("2026-03-01")];
        newest_first(&mut v, |x| *x);
        assert_eq!(v, vec![Some("2026-03-01"), Some("2026-01-01"), None]);
    }
}
