//! Kefu's built-in plugins, each registering itself under its `kefu.toml` name.
//!
//! - `keywords`: `keyword_escalation`: keyword lists → route, prioritise, tag.
//! - `faq`: `faq`: answers from a knowledge base while the shopper waits; hands off to a human.
//! - `hours`: `business_hours`: out-of-hours auto-reply and leave-a-message routing.
//! - `recommend`: `recommend`: a product card for shoppers who bought something related.

mod faq;
pub mod hours;
mod keywords;
mod recommend;

use super::Registry;

/// Adds the built-in plugins to `registry`.
pub fn register(registry: Registry) -> Registry {
    let registry = keywords::register(registry);
    let registry = faq::register(registry);
    let registry = hours::register(registry);
    recommend::register(registry)
}
