//! Search across conversations: by the text of their messages (Chinese and English alike),
//! the customer, an order number, a tag, an agent and the day they were opened; limited to
//! what the caller may see, ranked, paged.
//!
//! Text matches by substring, case-insensitively, each word of the query in the same
//! message. Both backends index every message's searchable text by trigrams, which needs no
//! word segmenter for Chinese: SQLite in an FTS5 `trigram` table kept by triggers
//! (`migrations/sqlite/0009_search.sql`), PostgreSQL in a `pg_trgm` GIN index
//! (`migrations/postgres/0004_search.sql`). Words shorter than a trigram (`退货`, `ok`) are
//! searched too; each backend says how. `docs/search.md` has the whole picture.
//!
//! What is searchable in a message, what a snippet is, and how a query splits into words
//! are decided here, once, so both backends answer alike.

use async_trait::async_trait;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Body, ConvState, StoreResult};

/// Search.
#[async_trait]
pub trait Search: Send + Sync {
    /// The conversations matching every criterion of `query` within its scope, best match
    /// first, then most recently active; one page of them and how many match in all.
    async fn search(&self, query: &SearchQuery) -> StoreResult<SearchPage>;
}

/// Which conversations a search may find.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchScope {
    /// Every conversation (supervisors and admins).
    All,
    /// An agent's: those of its groups, and those it handled (assigned to it now or last,
    /// or where it wrote).
    Agent { agent_id: Uuid, groups: Vec<String> },
}

/// What to look for. Every criterion given must hold; none given finds every conversation
/// in scope, newest first.
#[derive(Debug, Clone)]
pub struct SearchQuery {
    /// Words, each found (as a substring, ignoring case) in the same message's text.
    pub text: Option<String>,
    /// Part of the customer's name, e-mail, phone or the shop's customer id.
    pub customer: Option<String>,
    /// Part of an order number: on the page the shopper chatted from, on an order or
    /// return card, or in a message's text.
    pub order: Option<String>,
    /// A tag the conversation carries (exactly).
    pub tag: Option<String>,
    /// An agent who handled the conversation: assigned to it now or last, or wrote in it.
    pub agent: Option<Uuid>,
    /// Opened at or after (unix ms).
    pub from: Option<i64>,
    /// Opened before (unix ms).
    pub to: Option<i64>,
    pub scope: SearchScope,
    /// Whether private notes count as text (they do for agents; never for a shopper).
    pub include_private: bool,
    pub offset: i64,
    pub limit: i64,
}

impl SearchQuery {
    /// A query for everything in `scope`; set the criteria on the result.
    pub fn new(scope: SearchScope) -> Self {
        Self {
            text: None,
            customer: None,
            order: None,
            tag: None,
            agent: None,
            from: None,
            to: None,
            scope,
            include_private: true,
            offset: 0,
            limit: 20,
        }
    }

    /// The text's words.
    pub fn words(&self) -> Vec<String> {
        self.text.as_deref().map(words).unwrap_or_default()
    }
}

/// One page of a search.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SearchPage {
    /// Conversations matching, over every page.
    pub total: i64,
    /// This page, best match first.
    pub results: Vec<SearchResult>,
}

/// A conversation a search found.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SearchResult {
    pub conversation_id: Uuid,
    pub site_id: String,
    pub group: String,
    pub state: ConvState,
    pub agent_id: Option<Uuid>,
    /// The shopper's display name.
    pub customer_name: String,
    pub tags: Vec<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Plain text (show it as text, never as markup): the matching message's text around
    /// the match, at most [`SNIPPET_CHARS`] characters and an ellipsis at a cut end. When
    /// the conversation matched on its own fields only (customer, the page's order, tag,
    /// agent, date), the start of its first message; empty if it has none.
    pub snippet: String,
    /// The matching message's seq (open the conversation there); null when no message
    /// matched.
    pub seq: Option<i64>,
}

/// Most characters of a snippet, ellipses not counted.
pub const SNIPPET_CHARS: usize = 160;
/// Characters a snippet keeps before the match, when the text is cut.
const SNIPPET_LEAD: usize = 50;

/// The query's words: split at whitespace, each searched for separately.
pub fn words(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_owned).collect()
}

/// The searchable text of a message body, or `None` for bodies search skips (attachments,
/// product cards, Kefu's own activity lines). Order and return cards count by their numbers
/// so an order number finds them. The backends' SQL says the same (the SQLite trigger and
/// `SEARCH_TEXT`, PostgreSQL's `search_text(jsonb)`); the behaviour suite checks they agree.
pub fn searchable_text(body: &Body) -> Option<String> {
    match body {
        Body::Text { text } | Body::PrivateNote { text } => Some(text.clone()),
        Body::OrderCard { order_id, .. } => Some(order_id.clone()),
        Body::ReturnCard {
            return_id,
            order_id,
            ..
        } => Some(format!("{return_id} {order_id}")),
        Body::Attachment { .. } | Body::ProductCard { .. } | Body::System { .. } => None,
    }
}

/// `%word%` for `like … escape '\'`: the word as a substring, its own `%`, `_` and `\`
/// taken literally.
pub fn like_pattern(word: &str) -> String {
    let mut p = String::with_capacity(word.len() + 2);
    p.push('%');
    for c in word.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// The part of `text` to show for a match of `words`: whitespace runs made one space, the
/// first match of any word with [`SNIPPET_LEAD`] characters before it, at most
/// [`SNIPPET_CHARS`] in all, `…` where text was cut. No word found (or none given): the
/// start of the text.
pub fn snippet(text: &str, words: &[String]) -> String {
    let chars: Vec<char> = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .collect();
    if chars.len() <= SNIPPET_CHARS {
        return chars.into_iter().collect();
    }
    let at = words
        .iter()
        .filter_map(|w| find_folded(&chars, w))
        .min()
        .unwrap_or(0);
    let start = at
        .saturating_sub(SNIPPET_LEAD)
        .min(chars.len() - SNIPPET_CHARS);
    let end = start + SNIPPET_CHARS;
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    out.extend(&chars[start..end]);
    if end < chars.len() {
        out.push('…');
    }
    out
}

/// Where `word` first occurs in `haystack`, ignoring case, in characters. Each character
/// is folded on its own, so positions in the folded text are positions in the original.
fn find_folded(haystack: &[char], word: &str) -> Option<usize> {
    let fold = |c: char| c.to_lowercase().next().unwrap_or(c);
    let needle: Vec<char> = word.chars().map(fold).collect();
    if needle.is_empty() || needle.len() > haystack.len() {
        return None;
    }
    (0..=haystack.len() - needle.len()).find(|&i| {
        needle
            .iter()
            .zip(&haystack[i..])
            .all(|(n, h)| *n == fold(*h))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_text_is_its_own_snippet_on_one_line() {
        assert_eq!(
            snippet("我要退货，\n快递单号  SF1", &words("退货")),
            "我要退货， 快递单号 SF1",
            "whitespace runs become one space"
        );
    }

    #[test]
    fn a_long_text_is_cut_around_the_first_match_whatever_its_case() {
        let text = format!(
            "{} Where is my PARCEL? {}",
            "a".repeat(300),
            "b".repeat(300)
        );
        let s = snippet(&text, &words("zzz parcel"));
        let body = s.trim_matches('…');
        assert!(
            s.starts_with('…') && s.ends_with('…'),
            "cut at both ends: {s}"
        );
        assert_eq!(body.chars().count(), SNIPPET_CHARS);
        assert!(
            body.contains("PARCEL"),
            "the match is shown as written: {s}"
        );
        let lead = body.find("Where").unwrap();
        assert!(
            lead > 0 && lead <= SNIPPET_LEAD,
            "context before the match: {s}"
        );
    }

    #[test]
    fn a_match_near_either_end_keeps_the_snippet_full() {
        let text = format!("退货 {}", "好".repeat(400));
        let s = snippet(&text, &words("退货"));
        assert!(s.starts_with("退货") && s.ends_with('…'), "{s}");
        let text = format!("{}退货", "好".repeat(400));
        let s = snippet(&text, &words("退货"));
        assert!(s.starts_with('…') && s.ends_with("退货"), "{s}");
        assert_eq!(s.trim_matches('…').chars().count(), SNIPPET_CHARS);
    }

    #[test]
    fn like_patterns_take_wildcards_literally() {
        assert_eq!(like_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
        assert_eq!(like_pattern("退货"), "%退货%");
    }

    #[test]
    fn cards_are_searchable_by_their_numbers_and_activity_is_not() {
        let card = Body::ReturnCard {
            return_id: "RMA-7".into(),
            order_id: "ORD-1001".into(),
            status: "open".into(),
            item_count: 1,
            refund_minor: 100,
            currency: "CNY".into(),
        };
        assert_eq!(searchable_text(&card).as_deref(), Some("RMA-7 ORD-1001"));
        let system = Body::System {
            kind: "closed".into(),
            text: "closed by agent".into(),
        };
        assert_eq!(searchable_text(&system), None);
    }
}
