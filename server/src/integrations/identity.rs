//! Who a visitor is to the back office, and how sure Kefu is of it. Only a customer id the
//! shop signed (or an agent linked or confirmed, audited) is an identity; an e-mail or phone
//! the shopper typed is a claim anyone can make, so it only *suggests* a customer: the agent
//! sees that customer's display name and nothing else until the match is verified.

use std::sync::Arc;

use kefu_api::{MatchedBy, ShopperView, Suggestion, Verification};

use super::{CustomerKey, view::Views};
use crate::store::Visitor;

/// What a visitor's record says about who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// A customer id signed by the shop, or linked or confirmed by an agent.
    Verified(String),
    /// An e-mail or phone the shopper typed: a lookup key, never proof.
    Unverified {
        key: CustomerKey,
        matched_by: MatchedBy,
        /// What the shopper typed, which they may see again.
        contact: String,
    },
    Anonymous,
}

impl Claim {
    /// The visitor's verified customer id first, else the e-mail, else the phone they typed.
    pub fn of(v: &Visitor) -> Self {
        if let Some(id) = &v.customer_id {
            return Claim::Verified(id.clone());
        }
        if let Some(e) = &v.email {
            return Claim::Unverified {
                key: CustomerKey::Email(e.clone()),
                matched_by: MatchedBy::Email,
                contact: e.clone(),
            };
        }
        match &v.phone {
            Some(p) => Claim::Unverified {
                key: CustomerKey::Phone(p.clone()),
                matched_by: MatchedBy::Phone,
                contact: p.clone(),
            },
            None => Claim::Anonymous,
        }
    }

    /// The customer id Kefu may show data of and act for, if verified.
    pub fn verified_id(&self) -> Option<&str> {
        match self {
            Claim::Verified(id) => Some(id),
            _ => None,
        }
    }

    pub fn matched_by(&self) -> MatchedBy {
        match self {
            Claim::Verified(_) => MatchedBy::CustomerId,
            Claim::Unverified { matched_by, .. } => *matched_by,
            Claim::Anonymous => MatchedBy::None,
        }
    }
}

impl Views {
    /// The customer view of a visitor: the whole view when verified; for an unverified
    /// claim, only the suggested customer's name (no profile, orders or returns are fetched
    /// or shown); nothing for an anonymous shopper.
    pub async fn for_visitor(self: &Arc<Self>, visitor: &Visitor) -> ShopperView {
        let claim = Claim::of(visitor);
        let matched_by = claim.matched_by();
        match claim {
            Claim::Verified(id) => ShopperView {
                matched_by,
                verification: Verification::Verified,
                suggestion: None,
                view: self.view(CustomerKey::Id(id)).await,
            },
            Claim::Unverified { key, contact, .. } => {
                let suggestion = self
                    .suggested(key)
                    .await
                    .map(|name| Suggestion { name, contact });
                let why = if suggestion.is_some() {
                    "unverified: the shopper typed this contact, which proves nothing; verify \
                     them (an order number they quote) or link the customer to see this"
                } else {
                    "no customer of the back office matches what the shopper typed"
                };
                ShopperView {
                    matched_by,
                    verification: Verification::Unverified,
                    suggestion,
                    view: self.withheld(why),
                }
            }
            Claim::Anonymous => ShopperView {
                matched_by,
                verification: Verification::Unverified,
                suggestion: None,
                view: self.unidentified(),
            },
        }
    }
}
