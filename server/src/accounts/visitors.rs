//! The shopper's session: anonymous shoppers get a visitor token per site. A shop may pass
//! a signed identity (`customer_id` + `signature = hex(HMAC-SHA256(site secret,
//! customer_id))`) to link the shopper to its customer record; an unsigned or wrongly
//! signed identity is refused. The site and its origin are checked by the gateway first.
//!
//! An e-mail or phone the shopper gives is kept as typed: it only *suggests* a customer
//! (`integrations::identity::Claim`). Agents link or verify a customer through
//! `actions::Actions`, which audits it.

use kefu_proto::v1 as pb;
use uuid::Uuid;

use super::Accounts;
use crate::{
    auth::{identity, token},
    config::Site,
    sessions::OpError,
    store::{StoreError, Visitor, now_ms},
};

/// What a shopper's browser sends to start or continue a session.
#[derive(Debug, Default)]
pub struct VisitorRequest {
    /// A token from an earlier visit, to continue as the same visitor.
    pub visitor_token: Option<String>,
    /// The shop's customer id, signed by the shop's backend.
    pub customer_id: Option<String>,
    pub signature: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    /// A phone number the shopper gave; with the email, used to find them in the back office.
    pub phone: Option<String>,
}

/// The session a shopper continues with.
pub struct VisitorSession {
    pub visitor_token: String,
    pub visitor: Visitor,
    pub expires_at_ms: i64,
    /// The visitor's conversation that is still open, to resume.
    pub open_conversation_id: Option<Uuid>,
}

impl Accounts {
    /// Starts or continues a shopper's session on `site`.
    pub async fn visitor_session(
        &self,
        site: &Site,
        req: VisitorRequest,
    ) -> Result<VisitorSession, OpError> {
        let store = &self.store;
        let now = now_ms();
        let expires_at_ms = now + (self.settings.auth.visitor_ttl_days * 86_400_000) as i64;

        // The visitor this browser already is, if its token is still good for this site.
        let mut current = None;
        if let Some(t) = req
            .visitor_token
            .as_deref()
            .filter(|t| t.starts_with(token::VISITOR_PREFIX))
        {
            match store.visitor_by_token(&token::hash(t)).await {
                Ok(v) if v.site_id == site.id && v.expires_at > now => {
                    current = Some((v, t.to_string()))
                }
                Ok(_) | Err(StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }

        let name = clean_name(req.name);
        let email = req
            .email
            .map(|e| e.trim().to_string())
            .filter(|e| e.contains('@') && e.len() <= 254);
        let phone = req.phone.map(|p| p.trim().to_string()).filter(|p| {
            p.len() <= 32
                && p.chars().filter(char::is_ascii_digit).count() >= 5
                && p.chars().all(|c| c.is_ascii_digit() || " +-()".contains(c))
        });
        // Which visitor this is, and the token to keep (None: issue a new one).
        let (visitor, keep_token) = match req.customer_id.filter(|c| !c.is_empty()) {
            Some(customer_id) => {
                identity::verify(
                    &site.identity_secret,
                    &customer_id,
                    req.signature.as_deref(),
                )
                .map_err(|e| {
                    OpError::new(
                        pb::ErrorCode::Unauthenticated,
                        format!("shop identity refused: {e}"),
                    )
                })?;
                let display = name.unwrap_or_else(|| format!("Customer {customer_id}"));
                match store.visitor_by_customer(&site.id, &customer_id).await {
                    Ok(v) => {
                        let keep = current.filter(|(c, _)| c.id == v.id).map(|(_, t)| t);
                        (v, keep)
                    }
                    Err(StoreError::NotFound) => match current {
                        // An anonymous visitor logs in: keep its history, link it to the customer.
                        Some((v, t)) if v.customer_id.is_none() => {
                            store.link_customer(v.id, &customer_id, &display).await?;
                            (store.visitor(v.id).await?, Some(t))
                        }
                        _ => (
                            self.new_visitor(site, Some(customer_id), display, expires_at_ms)
                                .await?,
                            None,
                        ),
                    },
                    Err(e) => return Err(e.into()),
                }
            }
            // A visitor linked to a customer must prove it again; without proof it starts afresh.
            None => match current {
                Some((v, t)) if v.customer_id.is_none() => (v, Some(t)),
                _ => {
                    let display = name.unwrap_or_else(anonymous_name);
                    (
                        self.new_visitor(site, None, display, expires_at_ms).await?,
                        None,
                    )
                }
            },
        };
        if visitor.blocked_at.is_some() {
            return Err(super::blocking::blocked());
        }
        if email.is_some() || phone.is_some() {
            store
                .set_visitor_contact(visitor.id, email.as_deref(), phone.as_deref())
                .await?;
        }
        let visitor_token = keep_token.unwrap_or_else(|| token::generate(token::VISITOR_PREFIX));
        store
            .refresh_visitor_token(visitor.id, &token::hash(&visitor_token), expires_at_ms)
            .await?;
        let open_conversation_id = self.sessions.open_conversation_of(visitor.id).await?;
        Ok(VisitorSession {
            visitor_token,
            visitor,
            expires_at_ms,
            open_conversation_id,
        })
    }

    async fn new_visitor(
        &self,
        site: &Site,
        customer_id: Option<String>,
        display_name: String,
        expires_at: i64,
    ) -> Result<Visitor, OpError> {
        let v = Visitor {
            id: Uuid::now_v7(),
            site_id: site.id.clone(),
            // Replaced by the real token's hash right after; unique placeholder until then.
            token_hash: format!("pending-{}", Uuid::now_v7()),
            customer_id,
            display_name,
            email: None,
            phone: None,
            created_at: now_ms(),
            expires_at,
            last_agent_id: None,
            blocked_at: None,
        };
        self.store.create_visitor(&v).await?;
        Ok(v)
    }
}

fn clean_name(name: Option<String>) -> Option<String> {
    name.map(|n| {
        n.trim()
            .chars()
            .filter(|c| !c.is_control())
            .take(80)
            .collect::<String>()
    })
    .filter(|n| !n.is_empty())
}

fn anonymous_name() -> String {
    let n: u16 = rand::random::<u16>() % 10000;
    format!("Visitor {n:04}")
}
