//! Refunds shown as returns. Shopify's REST API has no returns, only refunds per order; each
//! refund is shown as one return: `id` `refund-{refund id}`, the order's id as `orders` names
//! it, `note` → `reason`, `refund_line_items` → items, `created_at`. Its refund amount is the
//! sum (exact, in decimal) of the refund transactions that did not fail; `refund.state` is
//! `refunded`, `pending` while a transaction is pending, or `none` for a refund that moved no
//! money (a restock only); the return's `status` follows: `refunded`, `approved` or
//! `received`. Returns created by `create_return` (see `returns`) are Shopify returns, not
//! refunds: they appear in this list once the merchant refunds them.

use super::{
    ShopifyConnector,
    shapes::{ShopOrder, ShopTransaction, non_empty, numeric_id, order_key},
};
use crate::integrations::{SourceError, model::*};

impl ShopifyConnector {
    pub(super) async fn refunds_as_returns(
        &self,
        customer_id: &str,
    ) -> Result<Vec<Return>, SourceError> {
        let Some(id) = numeric_id(customer_id, "Customer") else {
            return Ok(Vec::new());
        };
        let orders = self
            .shop_orders(&id, Some("id,name,currency,customer,refunds"))
            .await?;
        let mut returns = Vec::new();
        for o in &orders {
            returns.extend(map_refunds(o, &id)?);
        }
        returns.sort_by(|a, b| b.created_at.cmp(&a.created_at));
        Ok(returns)
    }
}

/// One return per refund of the order (see the module docs).
pub(super) fn map_refunds(o: &ShopOrder, customer_id: &str) -> Result<Vec<Return>, SourceError> {
    let Some(order_id) = o.id.0.as_deref() else {
        return Err(SourceError::Malformed("an order without an id".into()));
    };
    let order_id = order_key(o.name.as_deref(), order_id);
    let customer_id = o
        .customer
        .as_ref()
        .and_then(|c| c.id.0.clone())
        .unwrap_or_else(|| customer_id.to_string());
    let mut out = Vec::new();
    for r in o.refunds.iter().flatten() {
        let Some(id) = r.id.0.as_deref() else {
            return Err(SourceError::Malformed("a refund without an id".into()));
        };
        let counted: Vec<&ShopTransaction> = r
            .transactions
            .iter()
            .flatten()
            .filter(|t| {
                t.kind
                    .as_deref()
                    .is_none_or(|k| k.eq_ignore_ascii_case("refund"))
                    && !matches!(t.status.as_deref(), Some("failure" | "error"))
                    && t.amount.0.is_some()
            })
            .collect();
        let (state, status) = if counted.is_empty() {
            ("none", "received")
        } else if counted
            .iter()
            .any(|t| t.status.as_deref() == Some("pending"))
        {
            ("pending", "approved")
        } else {
            ("refunded", "refunded")
        };
        let amount = if counted.is_empty() {
            None
        } else {
            let amounts: Vec<&str> = counted
                .iter()
                .filter_map(|t| t.amount.0.as_deref())
                .collect();
            sum_decimals(&amounts).map(|amount| Money {
                amount,
                currency: counted
                    .iter()
                    .find_map(|t| non_empty(t.currency.clone()))
                    .or_else(|| non_empty(o.currency.clone()))
                    .unwrap_or_default(),
            })
        };
        let items = r
            .refund_line_items
            .iter()
            .flatten()
            .map(|l| {
                let item = l.line_item.as_ref();
                ReturnItem {
                    sku: item
                        .and_then(|i| non_empty(i.sku.clone()))
                        .unwrap_or_default(),
                    name: item.and_then(|i| {
                        non_empty(i.name.clone()).or_else(|| non_empty(i.title.clone()))
                    }),
                    quantity: l.quantity.unwrap_or(0).min(u32::MAX as u64) as u32,
                }
            })
            .collect();
        out.push(Return {
            id: format!("refund-{id}"),
            order_id: order_id.clone(),
            customer_id: Some(customer_id.clone()),
            status: status.into(),
            reason: non_empty(r.note.clone()),
            items,
            refund: Some(Refund {
                amount,
                state: state.into(),
            }),
            created_at: r.created_at.clone().or_else(|| r.processed_at.clone()),
        });
    }
    Ok(out)
}

/// A plain decimal ("-12.50") as an integer and its number of decimals.
fn parse_decimal(s: &str) -> Option<(i128, u32)> {
    let s = s.trim();
    let (negative, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if (whole.is_empty() && frac.is_empty())
        || whole.len() > 18
        || frac.len() > 18
        || !whole
            .bytes()
            .chain(frac.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let value: i128 = format!("0{whole}{frac}").parse().ok()?;
    Some((if negative { -value } else { value }, frac.len() as u32))
}

/// The exact sum of decimal strings, with as many decimals as the most precise of them.
fn sum_decimals(amounts: &[&str]) -> Option<String> {
    let parsed = amounts
        .iter()
        .map(|a| parse_decimal(a))
        .collect::<Option<Vec<_>>>()?;
    let scale = parsed.iter().map(|p| p.1).max()?;
    let mut total: i128 = 0;
    for (value, s) in parsed {
        total = total.checked_add(value.checked_mul(10i128.checked_pow(scale - s)?)?)?;
    }
    let sign = if total < 0 { "-" } else { "" };
    let abs = total.unsigned_abs();
    if scale == 0 {
        return Some(format!("{sign}{abs}"));
    }
    let unit = 10u128.pow(scale);
    Some(format!(
        "{sign}{}.{:0width$}",
        abs / unit,
        abs % unit,
        width = scale as usize
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_add_exactly() {
        assert_eq!(
            sum_decimals(&["100.00", "99.00"]).as_deref(),
            Some("199.00")
        );
        assert_eq!(sum_decimals(&["0.1", "0.2"]).as_deref(), Some("0.3"));
        assert_eq!(sum_decimals(&["10", "5.5"]).as_deref(), Some("15.5"));
        assert_eq!(sum_decimals(&["1200", "300"]).as_deref(), Some("1500"));
        assert_eq!(sum_decimals(&["-3.10", "1.05"]).as_deref(), Some("-2.05"));
        assert_eq!(sum_decimals(&["1.5", "abc"]), None);
        assert_eq!(sum_decimals(&[]), None);
    }
}
