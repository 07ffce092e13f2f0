//! `kefu config check` for a mapping: each filter run on a sample answer (named in
//! `samples` or on the command line), printing what Kefu would make of it — the retailer's
//! way to try a mapping without a chat.

use std::{collections::BTreeMap, fmt::Write, path::PathBuf};

use serde_json::{Value, json};

use super::{Answer, Args, Customer, Order, RestConnector, Return, parse_json};

/// Our request an action's body filter is tried on, unless a sample names another
/// (`create_return_request`, `cancel_order_request`).
fn example_request(action: &str) -> Value {
    match action {
        "create_return" => json!({
            "order_id": "1001",
            "items": [{"sku": "SAMPLE-SKU", "quantity": 1}],
            "reason": "damaged on arrival"
        }),
        _ => json!({"order_id": "1001", "reason": "customer asked to cancel"}),
    }
}

/// Runs every filter that has a sample; returns the report and whether all of them
/// mapped without an error.
pub fn report(conn: &RestConnector, samples: &BTreeMap<String, PathBuf>) -> (String, bool) {
    let mut out = String::new();
    let mut ok = true;
    let read = |key: &str| -> Option<Result<Vec<u8>, String>> {
        let path = samples.get(key)?;
        Some(std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display())))
    };
    let args = Args::default();
    for answer in Answer::ALL {
        let key = answer.key();
        let Some(body) = read(key) else { continue };
        let _ = writeln!(out, "\n== map.{key} on {}", samples[key].display());
        let result = body.and_then(|b| mapped(conn, answer, &b, &args));
        ok &= print(&mut out, result);
        if matches!(answer, Answer::Orders | Answer::Returns)
            && let Some(Ok(body)) = read(key)
            && let Some(next) = next_page(conn, &body)
        {
            let _ = writeln!(out, "paging.next on it: {next}");
        }
    }
    let order = match read("order") {
        Some(Ok(b)) => parse_json(&b).ok(),
        _ => None,
    };
    for action in ["create_return", "cancel_order"] {
        let key = format!("body.{action}");
        if conn.mappings.get(&key).is_none() {
            continue;
        }
        let request = match read(&format!("{action}_request")) {
            Some(Ok(b)) => parse_json(&b).map_err(|e| e.to_string()),
            Some(Err(e)) => Err(e),
            None => Ok(example_request(action)),
        };
        let _ = writeln!(
            out,
            "\n== {key} (with $order from the `order` sample: {})",
            order.is_some()
        );
        let args = Args {
            order_id: request
                .as_ref()
                .ok()
                .and_then(|r| r["order_id"].as_str())
                .unwrap_or_default()
                .into(),
            order: order.clone(),
            ..Args::default()
        };
        let result = request.and_then(|r| {
            let out = conn.filter_here(&key, r, &args).expect("the filter exists");
            out.map(super::decode::as_one)
                .map(|b| (b, Vec::new()))
                .map_err(|e| e.to_string())
        });
        ok &= print(&mut out, result);
    }
    (out, ok)
}

/// The records an answer maps to, as JSON, with the warnings.
fn mapped(
    conn: &RestConnector,
    answer: Answer,
    body: &[u8],
    args: &Args,
) -> Result<(Value, Vec<String>), String> {
    fn as_json<T: serde::Serialize>(f: super::Found<Vec<T>>) -> (Value, Vec<String>) {
        (json!(f.data), f.warnings)
    }
    let r = match answer {
        Answer::Customer | Answer::Customers => conn
            .decode_answer::<Customer>(answer, body, args)
            .map(as_json),
        Answer::Orders | Answer::CancelledOrder => {
            conn.decode_answer::<Order>(answer, body, args).map(as_json)
        }
        Answer::Returns | Answer::CreatedReturn => conn
            .decode_answer::<Return>(answer, body, args)
            .map(as_json),
    };
    r.map_err(|e| e.to_string())
}

/// What `paging.next` makes of a sample page, if it is configured.
fn next_page(conn: &RestConnector, body: &[u8]) -> Option<String> {
    let out = conn.filter_here("paging.next", parse_json(body).ok()?, &Args::default())?;
    Some(match out {
        Ok(v) => v.first().map_or("null".into(), Value::to_string),
        Err(e) => e.to_string(),
    })
}

/// Prints a result; true when it mapped.
fn print(out: &mut String, result: Result<(Value, Vec<String>), String>) -> bool {
    match result {
        Ok((v, warnings)) => {
            let _ = writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&v).unwrap_or_default()
            );
            for w in &warnings {
                let _ = writeln!(out, "warning: {w}");
            }
            true
        }
        Err(e) => {
            let _ = writeln!(out, "error: {e}");
            false
        }
    }
}
