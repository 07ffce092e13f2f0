//! The data set in memory: lookups and the two write actions, in plain Rust (no HTTP).

use serde::{Deserialize, Serialize};

use crate::{
    model::{
        Customer, FulfillmentStatus, Order, OrderStatus, PaymentStatus, Refund, Return, ReturnItem,
        ReturnStatus,
    },
    time::Timestamp,
};

/// Every customer, order and return of the demo shop.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    seed: u64,
    /// By id: `C10001`, `C10002`, …
    customers: Vec<Customer>,
    /// By id, which is also by `placed_at`.
    orders: Vec<Order>,
    /// By id; generated ones are also by `created_at`, created ones are appended.
    returns: Vec<Return>,
    showcase: Showcase,
    /// The running number of the next return created through [`Dataset::create_return`].
    next_return_number: usize,
}

/// Ids of C10001's scripted orders and return, one per thing a demo shows. They depend on
/// the seed (order numbers follow time placed across all customers), so tests read them
/// from here instead of hard-coding them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Showcase {
    /// `C10001`, 王芳, `wang.fang@example.cn`, `+86 138 0013 8000`.
    pub customer_id: String,
    /// Placed three hours ago, not paid yet.
    pub pending_order_id: String,
    /// Paid, nothing shipped: cancelling it refunds the payment.
    pub cancellable_order_id: String,
    /// Paid, being picked.
    pub processing_order_id: String,
    /// An espresso machine on its way with SF Express (in transit).
    pub shipped_order_id: String,
    /// Delivered 1 × KT-1702 and 2 × MG-0330, nothing returned yet.
    pub returnable_order_id: String,
    /// Delivered; has the open return [`Showcase::open_return_id`].
    pub order_with_return_id: String,
    /// Cancelled two months ago.
    pub cancelled_order_id: String,
    /// Delivered, fully returned and refunded.
    pub refunded_order_id: String,
    /// A `requested` return of 1 × SK-0050, "damaged on arrival".
    pub open_return_id: String,
}

/// Body of `POST /returns`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewReturn {
    pub order_id: String,
    pub items: Vec<NewReturnItem>,
    pub reason: String,
}

/// One line of [`NewReturn`]. The quantity is signed so that 0 or -1 get a clear 422
/// from validation rather than a parse error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewReturnItem {
    pub sku: String,
    pub quantity: i64,
}

/// Why a write action was refused. Each variant names its HTTP status.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    /// 404: the order does not exist.
    #[error("{0}")]
    NotFound(String),
    /// 409: the order is past the point where this action makes sense.
    #[error("{0}")]
    Conflict(String),
    /// 422: the request does not fit the order.
    #[error("{0}")]
    Invalid(String),
}

impl Dataset {
    pub(crate) fn from_parts(
        seed: u64,
        customers: Vec<Customer>,
        orders: Vec<Order>,
        returns: Vec<Return>,
        showcase: Showcase,
    ) -> Self {
        let next_return_number = returns.len() + 1;
        Self {
            seed,
            customers,
            orders,
            returns,
            showcase,
            next_return_number,
        }
    }

    /// The seed this data set was generated from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// All customers, by id.
    pub fn customers(&self) -> &[Customer] {
        &self.customers
    }

    /// All orders, by id (oldest first).
    pub fn orders(&self) -> &[Order] {
        &self.orders
    }

    /// All returns, by id (oldest first).
    pub fn returns(&self) -> &[Return] {
        &self.returns
    }

    /// C10001's scripted orders and return.
    pub fn showcase(&self) -> &Showcase {
        &self.showcase
    }

    /// The customer with this id.
    pub fn customer(&self, id: &str) -> Option<&Customer> {
        self.customers.iter().find(|c| c.id == id)
    }

    /// The order with this id.
    pub fn order(&self, id: &str) -> Option<&Order> {
        self.orders.iter().find(|o| o.id == id)
    }

    /// Customers with this e-mail address, ignoring case (at most one: addresses are unique).
    pub fn customers_by_email(&self, email: &str) -> Vec<&Customer> {
        let email = email.trim();
        self.customers
            .iter()
            .filter(|c| c.emails.iter().any(|e| e.eq_ignore_ascii_case(email)))
            .collect()
    }

    /// Customers with this phone number, compared by digits: `+86 138 0013 8000`,
    /// `+8613800138000`, `008613800138000` and `13800138000` all find the same customer.
    pub fn customers_by_phone(&self, phone: &str) -> Vec<&Customer> {
        self.customers
            .iter()
            .filter(|c| c.phones.iter().any(|p| same_phone(p, phone)))
            .collect()
    }

    /// Up to `limit` customers whose name, an e-mail or a phone contains `text`, ignoring
    /// case; digits-only text also matches phones whatever their spacing. By id.
    pub fn search_customers(&self, text: &str, limit: usize) -> Vec<&Customer> {
        let needle = text.trim().to_lowercase();
        if needle.is_empty() {
            return Vec::new();
        }
        let phone_like = needle
            .chars()
            .all(|c| c.is_ascii_digit() || " +-()".contains(c));
        let needle_digits = digits(&needle);
        let phone_digits = (phone_like && needle_digits.len() >= 3).then_some(needle_digits);
        self.customers
            .iter()
            .filter(|c| {
                c.name.to_lowercase().contains(&needle)
                    || c.emails.iter().any(|e| e.to_lowercase().contains(&needle))
                    || c.phones.iter().any(|p| {
                        p.contains(&needle)
                            || phone_digits
                                .as_deref()
                                .is_some_and(|d| digits(p).contains(d))
                    })
            })
            .take(limit)
            .collect()
    }

    /// The customer's orders, newest first; `None` if there is no such customer.
    pub fn orders_of(&self, customer_id: &str) -> Option<Vec<&Order>> {
        self.customer(customer_id)?;
        let mut orders: Vec<&Order> = self
            .orders
            .iter()
            .filter(|o| o.customer_id == customer_id)
            .collect();
        orders.sort_by(|a, b| b.placed_at.cmp(&a.placed_at).then(b.id.cmp(&a.id)));
        Some(orders)
    }

    /// The customer's returns, newest first; `None` if there is no such customer.
    pub fn returns_of(&self, customer_id: &str) -> Option<Vec<&Return>> {
        self.customer(customer_id)?;
        let mut returns: Vec<&Return> = self
            .returns
            .iter()
            .filter(|r| r.customer_id == customer_id)
            .collect();
        returns.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Some(returns)
    }

    /// How many units of `sku` in `order_id` are already in returns that were not
    /// rejected.
    pub fn returned_quantity(&self, order_id: &str, sku: &str) -> u32 {
        self.returns
            .iter()
            .filter(|r| r.order_id == order_id && r.status.consumes_quantity())
            .flat_map(|r| &r.items)
            .filter(|i| i.sku == sku)
            .map(|i| i.quantity)
            .sum()
    }

    /// Opens a `requested` return, created at `now`.
    ///
    /// Refused with [`ActionError::NotFound`] for an unknown order, and
    /// [`ActionError::Invalid`] when the order is not delivered/fulfilled, the items are
    /// empty, a SKU is not in the order, a quantity is below 1, or more units would be
    /// returned than were ordered less those already in (non-rejected) returns.
    pub fn create_return(
        &mut self,
        request: &NewReturn,
        now: Timestamp,
    ) -> Result<Return, ActionError> {
        let order = self.order(&request.order_id).ok_or_else(|| {
            ActionError::NotFound(format!("no order with id {}", request.order_id))
        })?;
        if !order.is_returnable() {
            return Err(ActionError::Invalid(format!(
                "order {} is {} (fulfillment {}); only delivered or fulfilled orders can be returned",
                order.id,
                wire_name(&order.status),
                wire_name(&order.fulfillment_status),
            )));
        }
        if request.reason.trim().is_empty() {
            return Err(ActionError::Invalid("reason must not be empty".to_owned()));
        }
        if request.items.is_empty() {
            return Err(ActionError::Invalid(
                "items must list at least one {\"sku\", \"quantity\"}".to_owned(),
            ));
        }

        // Same SKU twice in a request counts once, with the quantities added.
        let mut wanted: Vec<(&str, i64)> = Vec::new();
        for item in &request.items {
            if item.quantity < 1 {
                return Err(ActionError::Invalid(format!(
                    "quantity of {} must be at least 1, got {}",
                    item.sku, item.quantity
                )));
            }
            match wanted.iter_mut().find(|(sku, _)| *sku == item.sku) {
                Some((_, quantity)) => *quantity += item.quantity,
                None => wanted.push((&item.sku, item.quantity)),
            }
        }

        let mut items = Vec::with_capacity(wanted.len());
        let mut worth = 0;
        for (sku, quantity) in wanted {
            let Some(line) = order.items.iter().find(|l| l.sku == sku) else {
                let skus: Vec<&str> = order.items.iter().map(|l| l.sku.as_str()).collect();
                return Err(ActionError::Invalid(format!(
                    "SKU {sku} is not in order {} (its SKUs: {})",
                    order.id,
                    skus.join(", ")
                )));
            };
            let returned = self.returned_quantity(&order.id, sku);
            let left = line.quantity.saturating_sub(returned);
            if quantity > i64::from(left) {
                return Err(ActionError::Invalid(format!(
                    "only {left} of {sku} can still be returned (ordered {}, already in returns {returned}), asked for {quantity}",
                    line.quantity
                )));
            }
            let quantity = u32::try_from(quantity).expect("at most the ordered quantity");
            worth += line.unit_price.times(quantity).cents;
            items.push(ReturnItem {
                sku: sku.to_owned(),
                name: line.name.clone(),
                quantity,
            });
        }

        let created = Return {
            id: format!("RMA-{}-{:05}", now.year(), self.next_return_number),
            order_id: order.id.clone(),
            customer_id: order.customer_id.clone(),
            status: ReturnStatus::Requested,
            reason: request.reason.trim().to_owned(),
            items,
            refund: Refund::for_return(ReturnStatus::Requested, worth),
            created_at: now,
        };
        self.next_return_number += 1;
        self.returns.push(created.clone());
        Ok(created)
    }

    /// Cancels an order that has not left the warehouse; a paid order's payment becomes
    /// `refunded`.
    ///
    /// Refused with [`ActionError::NotFound`] for an unknown order and
    /// [`ActionError::Conflict`] when it is already cancelled or refunded, or anything of
    /// it has shipped.
    pub fn cancel_order(&mut self, order_id: &str) -> Result<Order, ActionError> {
        let order = self
            .orders
            .iter_mut()
            .find(|o| o.id == order_id)
            .ok_or_else(|| ActionError::NotFound(format!("no order with id {order_id}")))?;
        let refuse = |why: String| Err(ActionError::Conflict(format!("order {order_id} {why}")));
        match order.status {
            OrderStatus::Cancelled => return refuse("is already cancelled".to_owned()),
            OrderStatus::Refunded => return refuse("has been refunded".to_owned()),
            OrderStatus::Shipped | OrderStatus::Delivered => {
                return refuse(format!(
                    "has already {}; open a return instead",
                    wire_name(&order.status)
                ));
            }
            _ if order.fulfillment_status != FulfillmentStatus::Unfulfilled => {
                return refuse(format!(
                    "is already {} fulfilled; it can no longer be cancelled",
                    if order.fulfillment_status == FulfillmentStatus::Partial {
                        "partially"
                    } else {
                        "fully"
                    }
                ));
            }
            _ => {}
        }
        order.status = OrderStatus::Cancelled;
        if order.payment_status == PaymentStatus::Paid {
            order.payment_status = PaymentStatus::Refunded;
        }
        Ok(order.clone())
    }
}

/// The wire name of a status enum, e.g. `delivered`.
fn wire_name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        _ => "unknown".to_owned(),
    }
}

fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

/// Whether `query` is the stored phone number: same digits with country code, with the
/// `00` international prefix, or without the country code (and an optional trunk `0`).
fn same_phone(stored: &str, query: &str) -> bool {
    let query = digits(query);
    if query.len() < 6 {
        return false;
    }
    let full = digits(stored);
    // Stored numbers are "+<country code> <rest>".
    let national = stored
        .split_once(' ')
        .map(|(_, rest)| digits(rest))
        .unwrap_or_else(|| full.clone());
    let query = query.strip_prefix("00").unwrap_or(&query);
    query == full || query == national || query.strip_prefix('0') == Some(national.as_str())
}

#[cfg(test)]
mod tests {
    use super::same_phone;

    #[test]
    fn phones_compare_by_digits() {
        let stored = "+86 138 0013 8000";
        for query in [
            "+86 138 0013 8000",
            "+8613800138000",
            " 86 138 0013 8000",
            "008613800138000",
            "13800138000",
            "138-0013-8000",
        ] {
            assert!(same_phone(stored, query), "{query:?} is {stored}");
        }
        for query in ["13800138001", "0013", "", "+1 13800138000"] {
            assert!(!same_phone(stored, query), "{query:?} is not {stored}");
        }
        assert!(same_phone("+44 7700 900123", "07700 900123"), "UK trunk 0");
    }
}
