//! Who the shopper is, as far as Kefu can vouch for it. Only a verified shopper's customer
//! view carries the back office's data (profile, orders, returns) and allows actions; an
//! e-mail or phone the shopper merely typed only *suggests* a customer, by display name.
//!
//! Verified means the shop signed the customer id (`HMAC-SHA256(site secret, customer_id)`),
//! or an agent linked the customer by hand or confirmed the suggestion with an order number
//! the shopper quoted — each recorded in the audit log.

use serde::{Deserialize, Serialize};

use crate::CustomerView;

/// How the shopper was matched to a back-office customer: `customer_id` (signed by the shop,
/// or linked or confirmed by an agent), `email` or `phone` (typed by the shopper, never
/// proof), or `none` (anonymous).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MatchedBy {
    CustomerId,
    Email,
    Phone,
    None,
}

impl MatchedBy {
    /// The wire spelling (also in `CustomerViewReady.matched_by`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CustomerId => "customer_id",
            Self::Email => "email",
            Self::Phone => "phone",
            Self::None => "none",
        }
    }
}

/// Whether the view is about a customer the shopper is known to be: `verified` (signed
/// identity, or an agent linked or confirmed the customer) or `unverified` (a suggestion
/// from what the shopper typed, or nobody at all).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Verification {
    Verified,
    Unverified,
}

/// The customer an unverified shopper may be: only the display name, and the e-mail or phone
/// the shopper typed themselves — nothing else the back office knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct Suggestion {
    /// The suggested customer's display name in the back office.
    pub name: String,
    /// What the shopper typed (their e-mail or phone), which matched that customer.
    pub contact: String,
}

/// The customer view of one shopper as the server sends it (REST and the push on offer).
/// While `verification` is `unverified`, the sections carry no data and actions are refused.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct ShopperView {
    pub matched_by: MatchedBy,
    pub verification: Verification,
    /// Who an unverified shopper may be; `None` when verified or when nobody matched.
    pub suggestion: Option<Suggestion>,
    #[serde(flatten)]
    pub view: CustomerView,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Section;

    #[test]
    fn an_unverified_view_names_its_state_and_suggestion_on_the_wire() {
        fn none<T>() -> Section<T> {
            Section::unavailable("erp", "unverified")
        }
        let v = ShopperView {
            matched_by: MatchedBy::Email,
            verification: Verification::Unverified,
            suggestion: Some(Suggestion {
                name: "王芳".into(),
                contact: "fang@example.cn".into(),
            }),
            view: CustomerView {
                customer: none(),
                orders: none(),
                returns: none(),
            },
        };
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(json["matched_by"], "email");
        assert_eq!(json["verification"], "unverified");
        assert_eq!(json["suggestion"]["name"], "王芳");
        assert_eq!(
            json["orders"]["state"], "unavailable",
            "the view's sections sit beside the identity, as before: {json}"
        );
        assert_eq!(MatchedBy::Phone.as_str(), "phone");
    }
}
