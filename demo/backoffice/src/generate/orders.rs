//! Random orders: items from the catalogue, totals, payment, fulfilment and shipments
//! consistent with the order's status and age.

use super::{Draft, Gen, Profile};
use crate::{
    catalogue::CATALOGUE,
    model::{
        FulfillmentStatus as F, LineItem, Order, OrderStatus as S, PaymentStatus as P, Shipment,
        ShipmentStatus,
    },
    money::{CNY, Money},
    time::{DAY, HOUR, MINUTE, Timestamp},
};

/// How many orders a customer has, and how often.
const ORDER_COUNTS: &[(usize, u32)] = &[
    (0, 8),
    (1, 18),
    (2, 18),
    (3, 16),
    (4, 12),
    (5, 10),
    (6, 8),
    (7, 5),
    (8, 5),
];

/// How often each status occurs. `Refunded` is split between refunded before shipping and
/// delivered-then-returned.
const STATUSES: &[(S, u32)] = &[
    (S::Pending, 5),
    (S::Paid, 6),
    (S::Processing, 6),
    (S::Shipped, 9),
    (S::Delivered, 52),
    (S::Cancelled, 12),
    (S::Refunded, 10),
];

/// Domestic orders at or above this subtotal ship free.
const FREE_SHIPPING_FROM: i64 = 19_900;
/// Domestic shipping below [`FREE_SHIPPING_FROM`].
const DOMESTIC_SHIPPING: i64 = 1_200;
/// Shipping to an address outside mainland China.
const INTERNATIONAL_SHIPPING: i64 = 8_000;

impl Gen {
    /// Zero to eight orders of any status for this customer.
    pub(super) fn random_orders(&mut self, profile: &Profile) -> Vec<Draft> {
        let count = self.weighted(ORDER_COUNTS);
        (0..count)
            .map(|_| {
                let status = self.weighted(STATUSES);
                let placed_at = self.placed_at(status, profile.customer.created_at);
                let items = self.random_items();
                self.order(profile, status, placed_at, items)
            })
            .collect()
    }

    /// When an order of this status was placed: open orders are recent, closed ones may be
    /// anything from a day after sign-up to ten days ago.
    fn placed_at(&mut self, status: S, customer_since: Timestamp) -> Timestamp {
        let ago = match status {
            S::Pending => self.between(10 * MINUTE, 36 * HOUR),
            S::Paid => self.between(HOUR, 48 * HOUR),
            S::Processing => self.between(6 * HOUR, 4 * DAY),
            S::Shipped => self.between(DAY, 6 * DAY),
            S::Delivered | S::Cancelled | S::Refunded => {
                let oldest = self.now.unix() - customer_since.unix() - DAY;
                self.between(10 * DAY, oldest)
            }
        };
        self.now.plus(-ago)
    }

    /// One to four distinct products, mostly one of each.
    pub(super) fn random_items(&mut self) -> Vec<LineItem> {
        let lines = self.weighted(&[(1, 45), (2, 30), (3, 15), (4, 10)]);
        let products: Vec<_> =
            rand::seq::IndexedRandom::choose_multiple(CATALOGUE, &mut self.rng, lines)
                .copied()
                .collect();
        products
            .iter()
            .map(|p| {
                let quantity = self.weighted(&[(1, 75), (2, 18), (3, 7)]);
                p.line(quantity)
            })
            .collect()
    }

    /// An order of `status` with these items, totals, payment, fulfilment and shipments
    /// to match. A refunded order is, half the time, a delivered order that will be fully
    /// returned ([`Draft::full_return`]).
    pub(super) fn order(
        &mut self,
        profile: &Profile,
        status: S,
        placed_at: Timestamp,
        items: Vec<LineItem>,
    ) -> Draft {
        let subtotal: i64 = items
            .iter()
            .map(|i| i.unit_price.times(i.quantity).cents)
            .sum();
        let shipping = if profile.abroad {
            INTERNATIONAL_SHIPPING
        } else if subtotal >= FREE_SHIPPING_FROM {
            0
        } else {
            DOMESTIC_SHIPPING
        };
        let full_return = status == S::Refunded && self.chance(0.5);
        let status = if full_return { S::Delivered } else { status };

        let mut delivered_at = None;
        let (payment, fulfillment, shipments) = match status {
            S::Pending => {
                let payment = self.weighted(&[(P::Pending, 9), (P::Failed, 1)]);
                (payment, F::Unfulfilled, vec![])
            }
            S::Paid => (P::Paid, F::Unfulfilled, vec![]),
            S::Processing if items.len() >= 2 && self.chance(0.3) => {
                let shipped_at = self.shipped_at(placed_at);
                let parcel = self.shipment(profile, ShipmentStatus::InTransit, shipped_at);
                (P::Paid, F::Partial, vec![parcel])
            }
            S::Processing => (P::Paid, F::Unfulfilled, vec![]),
            S::Shipped => {
                let state = self.weighted(&[
                    (ShipmentStatus::InTransit, 9),
                    (ShipmentStatus::Exception, 1),
                ]);
                let shipped_at = self.shipped_at(placed_at);
                (
                    P::Paid,
                    F::Fulfilled,
                    vec![self.shipment(profile, state, shipped_at)],
                )
            }
            S::Delivered => {
                let shipped_at = self.shipped_at(placed_at);
                delivered_at = Some(shipped_at.plus(self.between(DAY, 4 * DAY)));
                let parcel = self.shipment(profile, ShipmentStatus::Delivered, shipped_at);
                (P::Paid, F::Fulfilled, vec![parcel])
            }
            S::Cancelled => {
                let payment = self.weighted(&[(P::Refunded, 2), (P::Failed, 1), (P::Pending, 1)]);
                (payment, F::Unfulfilled, vec![])
            }
            // Refunded before anything shipped.
            S::Refunded => (P::Refunded, F::Unfulfilled, vec![]),
        };

        Draft {
            order: Order {
                id: String::new(), // numbered once every order exists
                customer_id: profile.customer.id.clone(),
                placed_at,
                status,
                payment_status: payment,
                fulfillment_status: fulfillment,
                currency: CNY.to_owned(),
                subtotal: Money::cny(subtotal),
                shipping: Money::cny(shipping),
                total: Money::cny(subtotal + shipping),
                items,
                shipping_address: profile.address.clone(),
                shipments,
            },
            delivered_at,
            full_return,
            role: None,
        }
    }

    /// Four to thirty hours after the order, but never in the future.
    fn shipped_at(&mut self, placed_at: Timestamp) -> Timestamp {
        let shipped = placed_at.plus(self.between(4 * HOUR, 30 * HOUR));
        shipped.min(self.now.plus(-HOUR))
    }

    /// A parcel with the customer's carrier: DHL or EMS abroad, SF Express for those who
    /// asked for it, otherwise a mix of domestic carriers.
    pub(super) fn shipment(
        &mut self,
        profile: &Profile,
        status: ShipmentStatus,
        shipped_at: Timestamp,
    ) -> Shipment {
        let carrier = if profile.abroad {
            self.weighted(&[("DHL", 4), ("EMS", 1)])
        } else if profile
            .customer
            .tags
            .iter()
            .any(|t| t == "prefers-sf-express")
        {
            "SF Express"
        } else {
            self.weighted(&[
                ("SF Express", 30),
                ("JD Logistics", 20),
                ("ZTO", 20),
                ("YTO", 15),
                ("EMS", 15),
            ])
        };
        let (tracking_number, tracking_url) = match carrier {
            "SF Express" => {
                let n = format!("SF{}", self.digits(13));
                let url = format!("https://www.sf-express.com/track?no={n}");
                (n, url)
            }
            "JD Logistics" => {
                let n = format!("JDVA{}", self.digits(11));
                let url = format!("https://www.jdl.com/track?waybill={n}");
                (n, url)
            }
            "ZTO" => {
                let n = format!("7{}", self.digits(14));
                let url = format!("https://www.zto.com/track?no={n}");
                (n, url)
            }
            "YTO" => {
                let n = format!("YT{}", self.digits(13));
                let url = format!("https://www.yto.net.cn/track?no={n}");
                (n, url)
            }
            "EMS" => {
                let n = format!("EA{}CN", self.digits(9));
                let url = format!("https://www.ems.com.cn/track?no={n}");
                (n, url)
            }
            _ => {
                let n = self.digits(10);
                let url = format!("https://www.dhl.com/track?tracking-id={n}");
                (n, url)
            }
        };
        Shipment {
            carrier: carrier.to_owned(),
            tracking_number,
            tracking_url,
            status,
            shipped_at,
        }
    }
}
