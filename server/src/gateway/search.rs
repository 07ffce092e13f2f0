//! `GET /search`: conversations by text (Chinese and English), customer, order number, tag,
//! agent and the day they opened; agents find those of their groups and those they
//! handled, supervisors and admins every one. The search itself is `store::search`.

use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    AppState,
    auth::AgentAuth,
    error::{ApiError, ApiResult, ErrorBody},
    extract::{Json, Query},
    openapi::{self, AgentErrors},
};
use crate::{
    sessions::AgentInfo,
    store::{Role, SearchPage, SearchQuery, SearchScope},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(search_conversations))
}

/// Most results in one page, and without `limit`.
const LIMIT_MAX: i64 = 50;
const LIMIT_DEFAULT: i64 = 20;
/// The furthest page: deep pages cost the whole ranking each time, and a person refines
/// the query long before.
const OFFSET_MAX: i64 = 10_000;
/// Most words in `q`: every one is a condition on each candidate message.
const WORDS_MAX: usize = 8;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    /// Words in the messages (text, private notes, order and return card numbers), each
    /// found as a substring ignoring case, all in one message: 2 to 200 characters, at
    /// most 8 words of 2 characters or more. Two-character Chinese words (`退货`) work.
    #[param(
        min_length = 2,
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub q: Option<String>,
    /// Part of the customer's name, e-mail, phone or customer id: 2 to 100 characters.
    #[param(
        min_length = 2,
        max_length = 100,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub customer: Option<String>,
    /// Part of an order number: on the page the shopper chatted from, on an order or return
    /// card, or in a message: 2 to 100 characters.
    #[param(
        min_length = 2,
        max_length = 100,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub order: Option<String>,
    /// A tag the conversation has (whole, as written).
    #[param(min_length = 1, max_length = 64, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub tag: Option<String>,
    /// An agent who handled the conversation (assigned now or last, or wrote in it).
    pub agent: Option<Uuid>,
    /// Opened at or after, unix ms.
    #[param(minimum = 0)]
    pub from: Option<i64>,
    /// Opened before, unix ms; after `from`.
    #[param(minimum = 0)]
    pub to: Option<i64>,
    /// Results to skip (paging).
    #[param(minimum = 0, maximum = 10_000, default = 0)]
    pub offset: Option<i64>,
    /// Results per page.
    #[param(schema_with = limit_schema)]
    pub limit: Option<i64>,
}

fn limit_schema() -> utoipa::openapi::Object {
    openapi::limit(LIMIT_MAX, LIMIT_DEFAULT)
}

/// A text parameter trimmed, if given: `chars` characters long, no control characters.
fn text(
    name: &str,
    value: Option<String>,
    chars: std::ops::RangeInclusive<usize>,
) -> Result<Option<String>, String> {
    let Some(value) = value else {
        return Ok(None);
    };
    if value.chars().any(char::is_control) {
        return Err(format!("`{name}` may not contain control characters"));
    }
    let trimmed = value.trim();
    if !chars.contains(&trimmed.chars().count()) {
        return Err(format!(
            "`{name}` must be {} to {} characters (spaces around it not counted)",
            chars.start(),
            chars.end()
        ));
    }
    Ok(Some(trimmed.to_owned()))
}

impl SearchParams {
    /// The search in `scope`, or what is wrong with the parameters.
    pub fn query(self, scope: SearchScope) -> Result<SearchQuery, String> {
        let mut q = SearchQuery::new(scope);
        q.text = text("q", self.q, 2..=200)?;
        let words = q.words();
        if words.len() > WORDS_MAX {
            return Err(format!("`q` may have at most {WORDS_MAX} words"));
        }
        // A single character would match a large share of all messages (and cannot be
        // looked up by trigrams): each word needs two, which Chinese words have.
        if let Some(short) = words.iter().find(|w| w.chars().count() < 2) {
            return Err(format!(
                "each word of `q` needs at least 2 characters: `{short}` has one"
            ));
        }
        q.customer = text("customer", self.customer, 2..=100)?;
        q.order = text("order", self.order, 2..=100)?;
        q.tag = text("tag", self.tag, 1..=64)?;
        q.agent = self.agent;
        for (name, at) in [("from", self.from), ("to", self.to)] {
            if at.is_some_and(|t| t < 0) {
                return Err(format!(
                    "`{name}` is a time in unix milliseconds, 0 or more"
                ));
            }
        }
        if let (Some(from), Some(to)) = (self.from, self.to)
            && from >= to
        {
            return Err("`from` must be before `to`".into());
        }
        (q.from, q.to) = (self.from, self.to);
        let none_given = q.text.is_none()
            && q.customer.is_none()
            && q.order.is_none()
            && q.tag.is_none()
            && q.agent.is_none()
            && q.from.is_none()
            && q.to.is_none();
        if none_given {
            return Err("give at least one of q, customer, order, tag, agent, from, to".into());
        }
        q.offset = self.offset.unwrap_or(0);
        if !(0..=OFFSET_MAX).contains(&q.offset) {
            return Err(format!("`offset` must be 0 to {OFFSET_MAX}"));
        }
        q.limit = self.limit.unwrap_or(LIMIT_DEFAULT);
        if !(1..=LIMIT_MAX).contains(&q.limit) {
            return Err(format!("`limit` must be 1 to {LIMIT_MAX}"));
        }
        Ok(q)
    }
}

/// What `agent` may find: everything for supervisors and admins; its groups' and what it
/// handled for an agent.
fn scope_of(agent: &AgentInfo) -> SearchScope {
    if agent.role >= Role::Supervisor {
        SearchScope::All
    } else {
        SearchScope::Agent {
            agent_id: agent.id,
            groups: agent.groups.clone(),
        }
    }
}

/// Conversations matching every criterion given (at least one), best match first, then
/// most recently active. Agents find their groups' conversations and those they handled;
/// supervisors and admins every one. Private notes count as text (only agents search).
#[utoipa::path(get, path = "/search", tag = "conversations",
    params(SearchParams),
    responses(
        (status = 200, description = "One page of results and the total", body = SearchPage),
        AgentErrors,
        (status = 400, description = "No criterion given, `from` not before `to`, or a parameter malformed or out of range; the message says which", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn search_conversations(
    State(state): State<AppState>,
    auth: AgentAuth,
    Query(params): Query<SearchParams>,
) -> ApiResult<Json<SearchPage>> {
    let query = params
        .query(scope_of(&auth.agent))
        .map_err(ApiError::BadRequest)?;
    Ok(Json(state.actions.store.search(&query).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `query` as the handler sees it (non-ASCII percent-encoded, as a client sends it).
    fn params(query: &str) -> Result<SearchQuery, String> {
        let mut encoded = String::new();
        for b in query.bytes() {
            if b.is_ascii() {
                encoded.push(b as char);
            } else {
                encoded.push_str(&format!("%{b:02X}"));
            }
        }
        let uri: axum::http::Uri = format!("/search?{encoded}").parse().unwrap();
        let axum::extract::Query(p) =
            axum::extract::Query::<SearchParams>::try_from_uri(&uri).map_err(|e| e.body_text())?;
        p.query(SearchScope::All)
    }

    #[test]
    fn two_characters_are_enough_and_one_is_not() {
        assert_eq!(params("q=退货").unwrap().text.as_deref(), Some("退货"));
        assert_eq!(
            params("q=+ok+").unwrap().text.as_deref(),
            Some("ok"),
            "trimmed"
        );
        for q in ["q=退", "q=", "q=++"] {
            let e = params(q).unwrap_err();
            assert!(e.contains("`q` must be 2 to 200 characters"), "{q}: {e}");
        }
    }

    #[test]
    fn a_search_needs_a_criterion_and_a_forward_range() {
        let e = params("limit=5").unwrap_err();
        assert!(e.starts_with("give at least one of q"), "{e}");
        assert!(params("from=10&to=10").unwrap_err().contains("before"));
        let q = params("from=10&to=11").unwrap();
        assert_eq!(
            (q.from, q.to, q.offset, q.limit),
            (Some(10), Some(11), 0, 20)
        );
    }

    #[test]
    fn out_of_range_values_say_which_and_what_is_allowed() {
        for (query, says) in [
            ("tag=vip&limit=51", "`limit` must be 1 to 50"),
            ("tag=vip&limit=0", "`limit` must be 1 to 50"),
            ("tag=vip&offset=10001", "`offset` must be 0 to 10000"),
            ("tag=vip&from=-1", "`from` is a time in unix milliseconds"),
            ("customer=a", "`customer` must be 2 to 100"),
            ("q=a%00b", "control characters"),
            ("q=ab+cd+ef+gh+ij+kl+mn+op+qr", "at most 8 words"),
            (
                "q=iPhone+8",
                "each word of `q` needs at least 2 characters: `8` has one",
            ),
        ] {
            let e = params(query).unwrap_err();
            assert!(e.contains(says), "{query}: {e}");
        }
    }
}
