//! Builds the [`Dataset`] from a seed. Same seed, same data, byte for byte.
//!
//! Order of work: customer profiles → orders per customer (C10001's are scripted in
//! [`showcase`]) → order numbers by time placed → returns on delivered orders → their
//! effect on orders (refunds) → lifetime value and tier.
//!
//! Everything is placed relative to [`DATA_AS_OF`], never the wall clock, so the data does
//! not drift from run to run.

mod customers;
mod names;
mod orders;
mod returns;
mod showcase;

use std::collections::{HashMap, HashSet};

use rand::{Rng, SeedableRng, rngs::StdRng, seq::IndexedRandom};

use crate::{
    dataset::Dataset,
    model::{Address, Customer, Order, PaymentStatus, RefundState, Return, Tier},
    money::Money,
    time::Timestamp,
};

/// The instant the data set describes: the newest order is a few hours older than this.
pub const DATA_AS_OF: Timestamp = Timestamp::utc(2026, 11, 26, 10, 0, 0);

/// How many customers the data set has.
pub const CUSTOMER_COUNT: usize = 300;

/// Customer ids are `C` followed by this number plus the customer's index.
const FIRST_CUSTOMER_NUMBER: usize = 10_001;

/// `C10001` for index 0.
pub fn customer_id(index: usize) -> String {
    format!("C{}", FIRST_CUSTOMER_NUMBER + index)
}

/// A customer and what the generator needs to know to give them orders.
struct Profile {
    customer: Customer,
    /// Where their parcels go.
    address: Address,
    /// Lives outside mainland China: ships with DHL or EMS, pays international shipping.
    abroad: bool,
}

/// An order before numbering, with facts the wire format does not carry.
struct Draft {
    order: Order,
    /// When the parcel arrived, for orders that were delivered.
    delivered_at: Option<Timestamp>,
    /// Becomes a delivered order whose every line is returned and refunded.
    full_return: bool,
    /// The part this order plays in C10001's story, if any.
    role: Option<showcase::Role>,
}

/// The generator's state: the random source and what must stay unique.
struct Gen {
    rng: StdRng,
    now: Timestamp,
    emails: HashSet<String>,
    phones: HashSet<String>,
}

impl Gen {
    fn new(seed: u64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            now: DATA_AS_OF,
            emails: HashSet::new(),
            phones: HashSet::new(),
        }
    }

    /// One element of a non-empty list.
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        *items
            .choose(&mut self.rng)
            .expect("word lists are not empty")
    }

    /// One element, chosen with the given relative weights.
    fn weighted<T: Copy>(&mut self, items: &[(T, u32)]) -> T {
        let total: u32 = items.iter().map(|(_, w)| w).sum();
        let mut ticket = self.rng.random_range(0..total);
        for &(item, weight) in items {
            if ticket < weight {
                return item;
            }
            ticket -= weight;
        }
        unreachable!("ticket is below the sum of weights")
    }

    /// True with probability `p`.
    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    /// A whole number in `low..=high`.
    fn between(&mut self, low: i64, high: i64) -> i64 {
        self.rng.random_range(low..=high)
    }

    /// `count` random decimal digits.
    fn digits(&mut self, count: usize) -> String {
        (0..count)
            .map(|_| char::from(b'0' + self.rng.random_range(0..10u8)))
            .collect()
    }
}

/// The whole data set for `seed`.
pub fn generate(seed: u64) -> Dataset {
    let mut generator = Gen::new(seed);
    let mut profiles = Vec::with_capacity(CUSTOMER_COUNT);
    profiles.push(generator.showcase_customer());
    for index in 1..CUSTOMER_COUNT {
        let profile = generator.random_customer(index);
        profiles.push(profile);
    }

    let mut drafts = generator.showcase_orders(&profiles[0]);
    for profile in &profiles[1..] {
        let orders = generator.random_orders(profile);
        drafts.extend(orders);
    }
    number_orders(&mut drafts);

    let returns = generator.returns(&mut drafts);
    let showcase = showcase::find(&drafts, &returns);
    let orders: Vec<Order> = drafts.into_iter().map(|d| d.order).collect();
    let mut customers: Vec<_> = profiles.into_iter().map(|p| p.customer).collect();
    rate_customers(&mut customers, &orders, &returns);
    Dataset::from_parts(seed, customers, orders, returns, showcase)
}

/// Order numbers grow with `placed_at`: `SO-{year placed}-{running number}`.
fn number_orders(drafts: &mut [Draft]) {
    // Stable sort: orders placed the same second keep customer order.
    drafts.sort_by_key(|d| d.order.placed_at);
    for (n, draft) in drafts.iter_mut().enumerate() {
        let year = draft.order.placed_at.year();
        draft.order.id = format!("SO-{year}-{:06}", n + 1);
    }
}

/// Lifetime value (paid, less refunds), tier from it, `vip` tag for gold and platinum.
fn rate_customers(customers: &mut [Customer], orders: &[Order], returns: &[Return]) {
    // Orders whose money the shop kept, at least in part.
    let kept = |o: &&Order| {
        matches!(
            o.payment_status,
            PaymentStatus::Paid | PaymentStatus::PartiallyRefunded
        )
    };
    let mut value: HashMap<&str, i64> = HashMap::new();
    let mut counted = HashSet::new();
    for order in orders.iter().filter(kept) {
        *value.entry(&order.customer_id).or_default() += order.total.cents;
        counted.insert(order.id.as_str());
    }
    for ret in returns {
        if ret.refund.state == RefundState::Refunded && counted.contains(ret.order_id.as_str()) {
            *value.entry(&ret.customer_id).or_default() -= ret.refund.amount.cents;
        }
    }
    for customer in customers {
        let cents = value.get(customer.id.as_str()).copied().unwrap_or(0);
        customer.lifetime_value = Money::cny(cents);
        // C10001's tier is scripted (a gold member, as in the format document).
        if customer.id != customer_id(0) {
            customer.tier = tier_for(cents);
        }
        if matches!(customer.tier, Tier::Gold | Tier::Platinum)
            && !customer.tags.iter().any(|t| t == "vip")
        {
            customer.tags.insert(0, "vip".to_owned());
        }
    }
}

/// Tier thresholds in CNY fen.
fn tier_for(lifetime_cents: i64) -> Tier {
    match lifetime_cents {
        c if c >= 800_000 => Tier::Platinum,
        c if c >= 400_000 => Tier::Gold,
        c if c >= 150_000 => Tier::Silver,
        _ => Tier::Bronze,
    }
}
