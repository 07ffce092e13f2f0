//! C10001, 王芳: the customer every demo opens. Her profile, orders and returns are
//! scripted so that each thing an agent can do has an order to do it on, whatever the seed.

use std::collections::BTreeMap;

use serde_json::json;

use super::{Draft, Gen, Profile, customer_id, returns::ReturnDraft};
use crate::{
    catalogue::product,
    dataset::Showcase,
    model::{
        Address, Customer, LineItem, Note, OrderStatus, Return, ReturnStatus, ShipmentStatus, Tier,
    },
    money::Money,
    time::{DAY, HOUR, Timestamp},
};

/// The part an order plays in the showcase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Role {
    Pending,
    /// Paid, nothing shipped: can be cancelled.
    Cancellable,
    Processing,
    /// On its way with SF Express.
    Shipped,
    /// Delivered, nothing returned yet: a return can be opened.
    Returnable,
    /// Delivered, with an open (requested) return.
    WithReturn,
    Cancelled,
    /// Delivered, fully returned and refunded.
    Refunded,
}

const EMAIL: &str = "wang.fang@example.cn";
const PHONE: &str = "+86 138 0013 8000";

fn line(sku: &str, quantity: u32) -> LineItem {
    product(sku)
        .unwrap_or_else(|| panic!("showcase SKU {sku} is in the catalogue"))
        .line(quantity)
}

impl Gen {
    /// 王芳, a gold member since 2023 who likes SF Express.
    pub(super) fn showcase_customer(&mut self) -> Profile {
        self.emails.insert(EMAIL.to_owned());
        self.phones.insert(PHONE.to_owned());
        let attributes = BTreeMap::from([
            ("birthday".to_owned(), json!("03-14")),
            ("preferred_language".to_owned(), json!("zh-CN")),
            ("preferred_contact".to_owned(), json!("wechat")),
            ("newsletter".to_owned(), json!(true)),
            ("wechat_bound".to_owned(), json!(true)),
        ]);
        let notes = vec![
            Note {
                at: Timestamp::utc(2025, 6, 18, 7, 40, 0),
                author: "Zhou Min".to_owned(),
                text: "Needs a 发票 (fapiao) with company title on every order 🧾".to_owned(),
            },
            Note {
                at: Timestamp::utc(2026, 10, 1, 10, 0, 0),
                author: "Li Na".to_owned(),
                text: "Prefers delivery after 6pm".to_owned(),
            },
        ];
        let address = Address {
            name: "王芳".to_owned(),
            phone: PHONE.to_owned(),
            line1: "浦东新区世纪大道100号".to_owned(),
            line2: Some("3栋1202室".to_owned()),
            city: "上海".to_owned(),
            province: "上海".to_owned(),
            postal_code: "200120".to_owned(),
            country: "CN".to_owned(),
        };
        Profile {
            customer: Customer {
                id: customer_id(0),
                name: "王芳".to_owned(),
                emails: vec![EMAIL.to_owned()],
                phones: vec![PHONE.to_owned()],
                tier: Tier::Gold,
                tags: vec!["prefers-sf-express".to_owned()], // `vip` follows from the tier
                lifetime_value: Money::cny(0),
                created_at: Timestamp::utc(2023, 4, 2, 9, 12, 0),
                notes,
                attributes,
            },
            address,
            abroad: false,
        }
    }

    /// One order per [`Role`], at fixed ages; random items only where nothing depends on
    /// them.
    pub(super) fn showcase_orders(&mut self, profile: &Profile) -> Vec<Draft> {
        let now = self.now;
        let mut drafts = Vec::new();
        let mut add =
            |g: &mut Self, role: Role, status: OrderStatus, ago: i64, items: Vec<LineItem>| {
                let mut draft = g.order(profile, status, now.plus(-ago), items);
                draft.role = Some(role);
                draft.full_return = role == Role::Refunded;
                drafts.push(draft);
            };
        let items = self.random_items();
        add(self, Role::Pending, OrderStatus::Pending, 3 * HOUR, items);
        let items = vec![line("BP-3002", 1), line("CB-0100", 2)];
        add(self, Role::Cancellable, OrderStatus::Paid, 5 * HOUR, items);
        let items = self.random_items();
        add(
            self,
            Role::Processing,
            OrderStatus::Processing,
            DAY + 2 * HOUR,
            items,
        );
        let items = vec![line("CM-2100", 1)];
        add(self, Role::Shipped, OrderStatus::Shipped, 2 * DAY, items);
        let items = vec![line("KT-1702", 1), line("MG-0330", 2)];
        add(
            self,
            Role::Returnable,
            OrderStatus::Delivered,
            12 * DAY,
            items,
        );
        let items = vec![line("SK-0050", 1), line("TS-0001", 2)];
        add(
            self,
            Role::WithReturn,
            OrderStatus::Delivered,
            30 * DAY,
            items,
        );
        let items = self.random_items();
        add(
            self,
            Role::Cancelled,
            OrderStatus::Cancelled,
            60 * DAY,
            items,
        );
        let items = vec![line("HD-1200", 1)];
        add(
            self,
            Role::Refunded,
            OrderStatus::Delivered,
            200 * DAY,
            items,
        );

        for draft in &mut drafts {
            let order = &mut draft.order;
            match draft.role {
                // Keep the story simple: no payment failures, no lost parcels.
                Some(Role::Pending) => order.payment_status = crate::model::PaymentStatus::Pending,
                Some(Role::Processing) => {
                    order.fulfillment_status = crate::model::FulfillmentStatus::Unfulfilled;
                    order.shipments.clear();
                }
                Some(Role::Shipped) => order.shipments[0].status = ShipmentStatus::InTransit,
                _ => {}
            }
        }
        drafts
    }

    /// The scripted return of a showcase order, if its role has one.
    pub(super) fn showcase_return(
        &mut self,
        role: Role,
        order: &crate::model::Order,
        delivered_at: Timestamp,
    ) -> Option<ReturnDraft> {
        let (status, lines, reason) = match role {
            Role::WithReturn => (ReturnStatus::Requested, vec![(0, 1)], "damaged on arrival"),
            Role::Refunded => {
                let all = (0..order.items.len())
                    .map(|i| (i, order.items[i].quantity))
                    .collect();
                (ReturnStatus::Refunded, all, "not as described")
            }
            _ => return None,
        };
        let mut plan = self.return_draft(order, status, lines, delivered_at);
        plan.reason = reason.to_owned();
        if role == Role::WithReturn {
            plan.created_at = self.now.plus(-3 * DAY);
        }
        Some(plan)
    }
}

/// The ids of the showcase's orders and open return.
pub(super) fn find(drafts: &[Draft], returns: &[Return]) -> Showcase {
    let order_id = |role| {
        drafts
            .iter()
            .find(|d| d.role == Some(role))
            .map(|d| d.order.id.clone())
            .unwrap_or_else(|| panic!("the showcase has a {role:?} order"))
    };
    let with_return = order_id(Role::WithReturn);
    let return_id = returns
        .iter()
        .find(|r| r.order_id == with_return)
        .map(|r| r.id.clone())
        .expect("the showcase's open return exists");
    Showcase {
        customer_id: customer_id(0),
        pending_order_id: order_id(Role::Pending),
        cancellable_order_id: order_id(Role::Cancellable),
        processing_order_id: order_id(Role::Processing),
        shipped_order_id: order_id(Role::Shipped),
        returnable_order_id: order_id(Role::Returnable),
        order_with_return_id: with_return,
        cancelled_order_id: order_id(Role::Cancelled),
        refunded_order_id: order_id(Role::Refunded),
        open_return_id: return_id,
    }
}
