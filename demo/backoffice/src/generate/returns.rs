//! Returns on delivered orders, and what refunded returns do to their orders.

use std::collections::HashMap;

use super::{Draft, Gen, names::RETURN_REASONS};
use crate::{
    model::{Order, OrderStatus, PaymentStatus, Refund, Return, ReturnItem, ReturnStatus as R},
    time::{DAY, HOUR, Timestamp},
};

/// Share of ordinary delivered orders that have a return.
const RETURN_RATE: f64 = 0.25;

/// How often each return status occurs.
const RETURN_STATUSES: &[(R, u32)] = &[
    (R::Requested, 20),
    (R::Approved, 15),
    (R::Received, 15),
    (R::Refunded, 35),
    (R::Rejected, 15),
];

/// A return before numbering.
pub(super) struct ReturnDraft {
    pub order_id: String,
    pub status: R,
    pub reason: String,
    /// (line index in the order, quantity)
    pub lines: Vec<(usize, u32)>,
    pub created_at: Timestamp,
}

impl Gen {
    /// Returns for the (numbered) orders: scripted ones for the showcase, a full refunded
    /// return for each [`Draft::full_return`], a random one for some delivered orders.
    /// Applies refunds to the orders and numbers the returns by creation time.
    pub(super) fn returns(&mut self, drafts: &mut [Draft]) -> Vec<Return> {
        let mut planned = Vec::new();
        for draft in drafts.iter() {
            let Some(delivered_at) = draft.delivered_at else {
                continue;
            };
            if let Some(role) = draft.role {
                planned.extend(self.showcase_return(role, &draft.order, delivered_at));
            } else if draft.full_return {
                let lines = (0..draft.order.items.len())
                    .map(|i| (i, draft.order.items[i].quantity))
                    .collect();
                planned.push(self.return_draft(&draft.order, R::Refunded, lines, delivered_at));
            } else if self.chance(RETURN_RATE) {
                let status = self.weighted(RETURN_STATUSES);
                let lines = self.some_lines(&draft.order);
                planned.push(self.return_draft(&draft.order, status, lines, delivered_at));
            }
        }
        planned.sort_by_key(|r| r.created_at);

        let index: HashMap<String, usize> = drafts
            .iter()
            .enumerate()
            .map(|(i, d)| (d.order.id.clone(), i))
            .collect();
        let returns: Vec<Return> = planned
            .into_iter()
            .enumerate()
            .map(|(n, plan)| {
                let order = &drafts[index[&plan.order_id]].order;
                let id = format!("RMA-{}-{:05}", plan.created_at.year(), n + 1);
                build_return(id, order, plan)
            })
            .collect();
        for draft in drafts.iter_mut() {
            apply_refunds(&mut draft.order, &returns);
        }
        returns
    }

    /// A return of `lines` created a little after delivery (never in the future).
    pub(super) fn return_draft(
        &mut self,
        order: &Order,
        status: R,
        lines: Vec<(usize, u32)>,
        delivered_at: Timestamp,
    ) -> ReturnDraft {
        let latest = (self.now.unix() - delivered_at.unix() - HOUR).min(10 * DAY);
        let created_at = delivered_at.plus(self.between(2 * HOUR, latest.max(2 * HOUR)));
        ReturnDraft {
            order_id: order.id.clone(),
            status,
            reason: self.pick(RETURN_REASONS).to_owned(),
            lines,
            created_at,
        }
    }

    /// One or more distinct lines of the order, each with 1..=ordered quantity.
    fn some_lines(&mut self, order: &Order) -> Vec<(usize, u32)> {
        let count = self.between(1, order.items.len() as i64) as usize;
        let mut picked =
            rand::seq::index::sample(&mut self.rng, order.items.len(), count).into_vec();
        picked.sort_unstable();
        picked
            .into_iter()
            .map(|i| {
                let ordered = i64::from(order.items[i].quantity);
                (i, self.between(1, ordered) as u32)
            })
            .collect()
    }
}

/// The wire object for a planned return of `order`.
fn build_return(id: String, order: &Order, plan: ReturnDraft) -> Return {
    let items: Vec<ReturnItem> = plan
        .lines
        .iter()
        .map(|&(i, quantity)| ReturnItem {
            sku: order.items[i].sku.clone(),
            name: order.items[i].name.clone(),
            quantity,
        })
        .collect();
    let worth: i64 = plan
        .lines
        .iter()
        .map(|&(i, q)| order.items[i].unit_price.times(q).cents)
        .sum();
    Return {
        id,
        order_id: order.id.clone(),
        customer_id: order.customer_id.clone(),
        status: plan.status,
        reason: plan.reason,
        items,
        refund: Refund::for_return(plan.status, worth),
        created_at: plan.created_at,
    }
}

/// Refunded returns make an order partially refunded, or refunded if every unit came back.
fn apply_refunds(order: &mut Order, returns: &[Return]) {
    let mut refunded_units: HashMap<&str, u32> = HashMap::new();
    for ret in returns
        .iter()
        .filter(|r| r.order_id == order.id && r.status == R::Refunded)
    {
        for item in &ret.items {
            *refunded_units.entry(&item.sku).or_default() += item.quantity;
        }
    }
    if refunded_units.is_empty() {
        return;
    }
    let everything_back = order
        .items
        .iter()
        .all(|line| refunded_units.get(line.sku.as_str()).copied().unwrap_or(0) >= line.quantity);
    if everything_back {
        order.status = OrderStatus::Refunded;
        order.payment_status = PaymentStatus::Refunded;
    } else {
        order.payment_status = PaymentStatus::PartiallyRefunded;
    }
}
