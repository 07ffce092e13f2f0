//! `recommend`: shows a shopper who bought something a product that goes with it.
//!
//! ```toml
//! [plugins.recommend]
//! intro = "您可能也喜欢 · You might also like"     # optional; this is the default
//!
//! [[plugins.recommend.rules]]
//! bought = ["KT-1702", "KT-1703"]       # any of these SKUs in the shopper's orders…
//! [plugins.recommend.rules.suggest]     # …suggests this product
//! product_id = "KT-0099"
//! title = "除垢剂 Descaler"
//! price_minor = 2900                    # ¥29.00
//! currency = "CNY"
//! image_url = "https://shop.example/kt-0099.jpg"
//! url = "https://shop.example/products/KT-0099"
//! ```
//!
//! Only a verified customer (signed by the shop, or confirmed by an agent) gets one: an
//! e-mail the shopper merely typed must not reveal what someone else bought.
//!
//! The first rule whose `bought` SKUs the shopper's orders contain wins, unless they bought
//! its suggestion (`product_id` is a SKU) already. The shopper gets the intro and a product
//! card, once per conversation (it is tagged `recommended`).
//!
//! It answers the shopper's messages rather than `Opened`: until it has recommended, it looks
//! at each shopper message (the customer view is cached, so that is cheap), so a back office
//! that was down for the first one gets another go.

use std::collections::HashSet;

use async_trait::async_trait;
use serde::Deserialize;

use crate::{
    integrations::Order,
    plugins::{Context, HookResult, Plugin, Registry},
    store::{Body, SenderRole, StoredMessage},
};

/// Marks a conversation that has had its recommendation.
const TAG: &str = "recommended";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    rules: Vec<Rule>,
    #[serde(default = "default_intro")]
    intro: String,
}

fn default_intro() -> String {
    "您可能也喜欢 · You might also like".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Rule {
    bought: Vec<String>,
    suggest: Product,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Product {
    product_id: String,
    title: String,
    price_minor: i64,
    currency: String,
    image_url: String,
    url: String,
}

struct Recommend {
    rules: Vec<Rule>,
    intro: String,
}

pub(super) fn register(registry: Registry) -> Registry {
    registry.register("recommend", |s: Settings| {
        if let Some(i) = s.rules.iter().position(|r| r.bought.is_empty()) {
            anyhow::bail!("rules[{i}].bought: list at least one SKU");
        }
        Ok(Recommend {
            rules: s.rules,
            intro: s.intro,
        })
    })
}

impl Recommend {
    /// What to suggest to a shopper with these orders, if anything.
    fn pick(&self, orders: &[Order]) -> Option<&Product> {
        let bought: HashSet<&str> = orders
            .iter()
            .flat_map(|o| &o.items)
            .map(|item| item.sku.as_str())
            .collect();
        let fits = |r: &&Rule| {
            r.bought.iter().any(|sku| bought.contains(sku.as_str()))
                && !bought.contains(r.suggest.product_id.as_str())
        };
        self.rules.iter().find(fits).map(|r| &r.suggest)
    }
}

#[async_trait]
impl Plugin for Recommend {
    fn name(&self) -> &str {
        "recommend"
    }

    fn sender_name(&self) -> &str {
        "为您推荐 · Picked for you"
    }

    async fn on_message(&self, ctx: &mut Context, message: &StoredMessage) -> HookResult {
        if message.sender_role != SenderRole::Shopper || ctx.has_tag(TAG) {
            return Ok(());
        }
        let Some(view) = ctx.customer_view().await else {
            return Ok(()); // not a verified customer, or no back office
        };
        let orders = view.orders.data.unwrap_or_default();
        if let Some(p) = self.pick(&orders).cloned() {
            ctx.reply(self.intro.clone());
            ctx.reply_with(Body::ProductCard {
                product_id: p.product_id,
                title: p.title,
                price_minor: p.price_minor,
                currency: p.currency,
                image_url: p.image_url,
                url: p.url,
            });
            ctx.tag(TAG);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::integrations::LineItem;

    fn rule(bought: &str, suggest: &str) -> Rule {
        let suggest = Product {
            product_id: suggest.into(),
            title: suggest.into(),
            price_minor: 100,
            currency: "CNY".into(),
            image_url: String::new(),
            url: String::new(),
        };
        Rule {
            bought: vec![bought.into()],
            suggest,
        }
    }

    fn orders(skus: &[&str]) -> Vec<Order> {
        let items = skus.iter().map(|s| LineItem {
            sku: s.to_string(),
            ..Default::default()
        });
        vec![Order {
            items: items.collect(),
            ..Default::default()
        }]
    }

    #[test]
    fn the_first_fitting_rule_wins_unless_its_product_was_bought() {
        let r = Recommend {
            rules: vec![
                rule("KETTLE", "MUG"),
                rule("KETTLE", "DESCALER"),
                rule("TEA", "CUP"),
            ],
            intro: default_intro(),
        };
        let picked = |skus: &[&str]| r.pick(&orders(skus)).map(|p| p.product_id.as_str());
        assert_eq!(picked(&["KETTLE"]), Some("MUG"), "first rule that fits");
        assert_eq!(
            picked(&["KETTLE", "MUG"]),
            Some("DESCALER"),
            "owns a mug already"
        );
        assert_eq!(picked(&["SOFA"]), None, "nothing related bought");
        assert_eq!(picked(&[]), None, "no orders at all");
    }
}
