//! The generated data set: deterministic, internally consistent, and with the promised
//! showcase customer. Invariants are checked over several seeds, not only the default.

use std::collections::{HashMap, HashSet};

use kefu_demo_backoffice::{
    CUSTOMER_COUNT, DATA_AS_OF, Dataset, NewReturn, NewReturnItem, catalogue, dataset,
    model::{
        FulfillmentStatus, Order, OrderStatus, PaymentStatus, RefundState, ReturnStatus,
        ShipmentStatus, Tier,
    },
};

const SEEDS: [u64; 5] = [42, 0, 1, 2, 2026];
const CARRIERS: [&str; 6] = ["SF Express", "JD Logistics", "ZTO", "YTO", "EMS", "DHL"];

#[test]
fn same_seed_gives_the_same_data_and_another_seed_other_data() {
    let a = dataset(42);
    let b = dataset(42);
    assert!(a == b, "two data sets from seed 42 differ");
    let json = |d: &Dataset| serde_json::to_string(&(d.customers(), d.orders(), d.returns()));
    assert_eq!(
        json(&a).unwrap(),
        json(&b).unwrap(),
        "the wire form of seed 42 must be byte-identical between runs"
    );
    let other = dataset(43);
    assert_ne!(
        a.customers()[1..],
        other.customers()[1..],
        "seed 43 should give other random customers than seed 42"
    );
}

#[test]
fn sizes_and_identities() {
    for seed in SEEDS {
        let d = dataset(seed);
        assert_eq!(d.customers().len(), CUSTOMER_COUNT, "seed {seed}");
        for (i, c) in d.customers().iter().enumerate() {
            assert_eq!(
                c.id,
                format!("C{}", 10_001 + i),
                "seed {seed}: ids are sequential"
            );
            assert!(!c.phones.is_empty(), "seed {seed}: {} has no phone", c.id);
            assert!(
                c.created_at < DATA_AS_OF,
                "seed {seed}: {} created in the future",
                c.id
            );
        }
        let emails: Vec<_> = d.customers().iter().flat_map(|c| &c.emails).collect();
        let unique: HashSet<_> = emails.iter().map(|e| e.to_lowercase()).collect();
        assert_eq!(
            unique.len(),
            emails.len(),
            "seed {seed}: e-mail addresses repeat"
        );
        let phones: Vec<_> = d.customers().iter().flat_map(|c| &c.phones).collect();
        let unique: HashSet<_> = phones.iter().collect();
        assert_eq!(
            unique.len(),
            phones.len(),
            "seed {seed}: phone numbers repeat"
        );
        assert!(
            (600..=1500).contains(&d.orders().len()),
            "seed {seed}: {} orders, expected 0-8 per customer averaging about 3",
            d.orders().len()
        );
        assert!(
            d.returns().len() >= 60,
            "seed {seed}: only {} returns",
            d.returns().len()
        );
    }
}

#[test]
fn every_order_adds_up_and_matches_its_status() {
    for seed in SEEDS {
        let d = dataset(seed);
        let mut previous: Option<&Order> = None;
        for o in d.orders() {
            let ctx = format!("seed {seed}, order {}", o.id);
            let sum: i64 = o
                .items
                .iter()
                .map(|i| i.unit_price.times(i.quantity).cents)
                .sum();
            assert_eq!(
                o.subtotal.cents, sum,
                "{ctx}: subtotal is Σ quantity × unit price"
            );
            assert_eq!(
                o.total.cents,
                o.subtotal.cents + o.shipping.cents,
                "{ctx}: total is subtotal + shipping"
            );
            for m in [&o.subtotal, &o.shipping, &o.total] {
                assert_eq!(m.currency, o.currency, "{ctx}: one currency per order");
            }
            assert!((1..=4).contains(&o.items.len()), "{ctx}: 1-4 lines");
            let skus: HashSet<_> = o.items.iter().map(|i| &i.sku).collect();
            assert_eq!(
                skus.len(),
                o.items.len(),
                "{ctx}: a SKU appears once per order"
            );
            for item in &o.items {
                let product = catalogue::product(&item.sku)
                    .unwrap_or_else(|| panic!("{ctx}: {} is not in the catalogue", item.sku));
                assert_eq!(
                    item.unit_price.cents, product.price_cents,
                    "{ctx}: catalogue price"
                );
                assert!(item.quantity >= 1, "{ctx}: quantity at least 1");
                assert_eq!(item.image_url, product.image_url(), "{ctx}: image URL");
            }
            assert!(o.placed_at < DATA_AS_OF, "{ctx}: placed in the future");
            assert!(
                o.id.starts_with(&format!("SO-{}-", o.placed_at.year())),
                "{ctx}: id carries the year placed"
            );
            if let Some(p) = previous {
                assert!(p.placed_at <= o.placed_at, "{ctx}: ids follow time placed");
            }
            previous = Some(o);

            for s in &o.shipments {
                assert!(
                    CARRIERS.contains(&s.carrier.as_str()),
                    "{ctx}: carrier {}",
                    s.carrier
                );
                assert!(
                    !s.tracking_number.is_empty() && s.tracking_url.contains(&s.tracking_number),
                    "{ctx}: the tracking URL names the tracking number"
                );
                assert!(
                    s.tracking_url.starts_with("https://"),
                    "{ctx}: tracking URL"
                );
                assert!(
                    o.placed_at < s.shipped_at && s.shipped_at < DATA_AS_OF,
                    "{ctx}: shipped after placing, before now"
                );
            }
            match o.status {
                OrderStatus::Pending | OrderStatus::Paid | OrderStatus::Cancelled => {
                    assert_eq!(
                        o.fulfillment_status,
                        FulfillmentStatus::Unfulfilled,
                        "{ctx}"
                    );
                    assert!(o.shipments.is_empty(), "{ctx}: nothing shipped");
                }
                OrderStatus::Processing => assert_ne!(
                    o.fulfillment_status,
                    FulfillmentStatus::Fulfilled,
                    "{ctx}: a processing order is not fully shipped"
                ),
                OrderStatus::Shipped | OrderStatus::Delivered => {
                    assert_eq!(o.fulfillment_status, FulfillmentStatus::Fulfilled, "{ctx}");
                    assert!(
                        !o.shipments.is_empty(),
                        "{ctx}: shipped orders have tracking"
                    );
                    let delivered = o
                        .shipments
                        .iter()
                        .all(|s| s.status == ShipmentStatus::Delivered);
                    assert_eq!(
                        delivered,
                        o.status == OrderStatus::Delivered,
                        "{ctx}: parcels are delivered exactly when the order is"
                    );
                }
                OrderStatus::Refunded => {
                    assert_eq!(o.payment_status, PaymentStatus::Refunded, "{ctx}")
                }
            }
            if matches!(
                o.status,
                OrderStatus::Paid | OrderStatus::Processing | OrderStatus::Shipped
            ) {
                assert_eq!(
                    o.payment_status,
                    PaymentStatus::Paid,
                    "{ctx}: paid before shipping"
                );
            }
        }
    }
}

#[test]
fn every_status_state_tier_and_carrier_occurs() {
    for seed in SEEDS {
        let d = dataset(seed);
        let statuses: HashSet<_> = d.orders().iter().map(|o| o.status).collect();
        assert_eq!(
            statuses.len(),
            7,
            "seed {seed}: order statuses present: {statuses:?}"
        );
        let payments: HashSet<_> = d.orders().iter().map(|o| o.payment_status).collect();
        assert_eq!(
            payments.len(),
            5,
            "seed {seed}: payment statuses present: {payments:?}"
        );
        let fulfilment: HashSet<_> = d.orders().iter().map(|o| o.fulfillment_status).collect();
        assert_eq!(
            fulfilment.len(),
            3,
            "seed {seed}: fulfilment present: {fulfilment:?}"
        );
        let states: HashSet<_> = d.returns().iter().map(|r| r.status).collect();
        assert_eq!(
            states.len(),
            5,
            "seed {seed}: return states present: {states:?}"
        );
        let tiers: HashSet<_> = d.customers().iter().map(|c| c.tier).collect();
        assert_eq!(tiers.len(), 4, "seed {seed}: tiers present: {tiers:?}");
        let carriers: HashSet<_> = d
            .orders()
            .iter()
            .flat_map(|o| &o.shipments)
            .map(|s| s.carrier.as_str())
            .collect();
        assert_eq!(
            carriers.len(),
            CARRIERS.len(),
            "seed {seed}: carriers: {carriers:?}"
        );
    }
}

#[test]
fn returns_match_their_orders() {
    for seed in SEEDS {
        let d = dataset(seed);
        let mut kept: HashMap<(&str, &str), u32> = HashMap::new();
        for r in d.returns() {
            let ctx = format!("seed {seed}, return {}", r.id);
            let order = d
                .order(&r.order_id)
                .unwrap_or_else(|| panic!("{ctx}: order {} does not exist", r.order_id));
            assert_eq!(
                r.customer_id, order.customer_id,
                "{ctx}: same customer as the order"
            );
            assert_eq!(
                order.fulfillment_status,
                FulfillmentStatus::Fulfilled,
                "{ctx}: only fulfilled orders have returns"
            );
            assert!(
                order.shipments.iter().all(|s| s.shipped_at < r.created_at),
                "{ctx}: created after shipping"
            );
            assert!(r.created_at <= DATA_AS_OF, "{ctx}: created in the future");
            let mut worth = 0;
            for item in &r.items {
                let line = order
                    .items
                    .iter()
                    .find(|l| l.sku == item.sku)
                    .unwrap_or_else(|| panic!("{ctx}: {} is not in {}", item.sku, order.id));
                assert_eq!(item.name, line.name, "{ctx}: item name from the order line");
                assert!(item.quantity >= 1, "{ctx}: quantity at least 1");
                worth += line.unit_price.times(item.quantity).cents;
                if r.status != ReturnStatus::Rejected {
                    *kept.entry((&order.id, &line.sku)).or_default() += item.quantity;
                    assert!(
                        kept[&(order.id.as_str(), line.sku.as_str())] <= line.quantity,
                        "{ctx}: more {} returned than ordered",
                        line.sku
                    );
                }
            }
            let (amount, state) = match r.status {
                ReturnStatus::Requested => (worth, RefundState::NoRefund),
                ReturnStatus::Approved | ReturnStatus::Received => (worth, RefundState::Pending),
                ReturnStatus::Refunded => (worth, RefundState::Refunded),
                ReturnStatus::Rejected => (0, RefundState::NoRefund),
            };
            assert_eq!(
                r.refund.amount.cents, amount,
                "{ctx}: refund amount for {:?}",
                r.status
            );
            assert_eq!(
                r.refund.state, state,
                "{ctx}: refund state for {:?}",
                r.status
            );
        }
        for o in d.orders() {
            let refunded = d
                .returns()
                .iter()
                .any(|r| r.order_id == o.id && r.status == ReturnStatus::Refunded);
            if o.payment_status == PaymentStatus::PartiallyRefunded {
                assert!(
                    refunded,
                    "seed {seed}, {}: partially refunded needs a refunded return",
                    o.id
                );
            }
        }
    }
}

#[test]
fn customer_c10001_is_the_promised_showcase() {
    let d = dataset(42);
    let s = d.showcase();
    let c = d.customer("C10001").expect("C10001 exists");
    assert_eq!(c.name, "王芳");
    assert_eq!(c.emails, ["wang.fang@example.cn"]);
    assert_eq!(c.phones, ["+86 138 0013 8000"]);
    assert_eq!(
        c.tier,
        Tier::Gold,
        "C10001 is a gold member, as in the format document"
    );

    let orders = d.orders_of("C10001").expect("C10001 has orders");
    assert!(orders.len() >= 5, "several orders, got {}", orders.len());
    let statuses: HashSet<_> = orders.iter().map(|o| o.status).collect();
    assert_eq!(
        statuses.len(),
        7,
        "C10001 shows every order status, has {statuses:?}"
    );
    for id in [
        &s.pending_order_id,
        &s.cancellable_order_id,
        &s.processing_order_id,
        &s.shipped_order_id,
        &s.returnable_order_id,
        &s.order_with_return_id,
        &s.cancelled_order_id,
        &s.refunded_order_id,
    ] {
        assert!(
            orders.iter().any(|o| &o.id == id),
            "showcase order {id} belongs to C10001"
        );
    }

    let shipped = d.order(&s.shipped_order_id).unwrap();
    assert_eq!(
        shipped.status,
        OrderStatus::Shipped,
        "showcase shipped order"
    );
    let parcel = shipped
        .shipments
        .first()
        .expect("the shipped order has a shipment");
    assert_eq!(parcel.carrier, "SF Express");
    assert_eq!(parcel.status, ShipmentStatus::InTransit, "still on its way");
    assert!(
        parcel.tracking_url.contains(&parcel.tracking_number),
        "the tracking URL names the tracking number: {parcel:?}"
    );

    let returnable = d.order(&s.returnable_order_id).unwrap();
    assert_eq!(
        returnable.status,
        OrderStatus::Delivered,
        "showcase returnable order"
    );
    assert!(
        returnable.is_returnable(),
        "a delivered order accepts returns"
    );
    assert!(
        d.returns().iter().all(|r| r.order_id != returnable.id),
        "the returnable order has nothing returned yet"
    );

    let cancellable = d.order(&s.cancellable_order_id).unwrap();
    assert_eq!(
        cancellable.status,
        OrderStatus::Paid,
        "showcase cancellable order"
    );
    assert_eq!(
        cancellable.payment_status,
        PaymentStatus::Paid,
        "paid, so cancelling refunds"
    );
    assert_eq!(
        cancellable.fulfillment_status,
        FulfillmentStatus::Unfulfilled
    );

    let open = d
        .returns()
        .iter()
        .find(|r| r.id == s.open_return_id)
        .expect("open return");
    assert_eq!(
        open.status,
        ReturnStatus::Requested,
        "the showcase return is open"
    );
    assert_eq!(
        open.order_id, s.order_with_return_id,
        "the open return's order"
    );
    assert_eq!(open.customer_id, "C10001");
    let refunded = d.order(&s.refunded_order_id).unwrap();
    assert_eq!(
        refunded.status,
        OrderStatus::Refunded,
        "fully returned and refunded"
    );

    for seed in SEEDS {
        let other = dataset(seed);
        assert_eq!(
            other.customer("C10001").map(|c| c.name.as_str()),
            Some("王芳"),
            "seed {seed}: C10001 is scripted whatever the seed"
        );
        let shipped = other.order(&other.showcase().shipped_order_id).unwrap();
        assert_eq!(shipped.status, OrderStatus::Shipped, "seed {seed}");
    }
}

#[test]
fn names_and_notes_mix_scripts_and_emoji() {
    let d = dataset(42);
    let han = |s: &str| s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
    let latin = |s: &str| s.chars().any(|c| c.is_ascii_alphabetic());
    let emoji = |s: &str| {
        s.chars()
            .any(|c| c >= '\u{1F300}' || ('\u{2600}'..='\u{27BF}').contains(&c))
    };
    let names: Vec<&str> = d.customers().iter().map(|c| c.name.as_str()).collect();
    let count = |f: &dyn Fn(&str) -> bool| names.iter().filter(|n| f(n)).count();
    assert!(
        count(&han) >= 150,
        "mostly Chinese names, got {}",
        count(&han)
    );
    assert!(count(&|n| latin(n) && !han(n)) >= 30, "English names too");
    assert!(count(&emoji) >= 3, "a few names with emoji");
    assert!(
        count(&|n| han(n) && latin(n)) >= 2,
        "a few mixed-script names"
    );
    let emoji_notes = d
        .customers()
        .iter()
        .flat_map(|c| &c.notes)
        .filter(|n| emoji(&n.text))
        .count();
    assert!(
        emoji_notes >= 3,
        "a few notes with emoji, got {emoji_notes}"
    );
}

#[test]
fn return_quantities_count_what_was_already_returned() {
    let mut d = dataset(42);
    let order_id = d.showcase().returnable_order_id.clone();
    let ask = |sku: &str, quantity| NewReturn {
        order_id: order_id.clone(),
        items: vec![NewReturnItem {
            sku: sku.to_owned(),
            quantity,
        }],
        reason: "wrong size".to_owned(),
    };
    let first = d
        .create_return(&ask("MG-0330", 1), DATA_AS_OF)
        .expect("1 of 2 mugs");
    assert_eq!(first.refund.amount.amount(), "59.00");
    assert_eq!(d.returned_quantity(&order_id, "MG-0330"), 1);
    let refused = d.create_return(&ask("MG-0330", 2), DATA_AS_OF);
    assert!(
        matches!(&refused, Err(kefu_demo_backoffice::ActionError::Invalid(m)) if m.contains("only 1")),
        "only one mug is left to return, got {refused:?}"
    );
    let second = d
        .create_return(&ask("MG-0330", 1), DATA_AS_OF)
        .expect("the other mug");
    assert_ne!(first.id, second.id, "return ids are unique");
}
