//! `keyword_escalation`: when a shopper's message names something that needs a specialist
//! ("投诉", "invoice"), route the conversation, raise its priority and tag it, and tell the
//! agents why in a private note.
//!
//! ```toml
//! [[plugins.keyword_escalation.rules]]
//! keywords = ["投诉", "complaint"]
//! group = "after-sales"
//! priority = "high"
//! tags = ["complaint"]
//!
//! [[plugins.keyword_escalation.rules]]
//! keywords = ["invoice", "发票"]
//! match = "word"   # "invoice" but not "invoices2go"
//! tags = ["invoice"]
//! ```

use anyhow::{bail, ensure};
use async_trait::async_trait;
use serde::Deserialize;

use super::faq::HANDOFF_TAG;
use crate::{
    plugins::{Context, HookResult, Plugin, Registry},
    store::{Body, Priority, SenderRole, StoredMessage},
};

pub(super) fn register(registry: Registry) -> Registry {
    registry.register("keyword_escalation", KeywordEscalation::new)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    rules: Vec<RuleSettings>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSettings {
    keywords: Vec<String>,
    #[serde(rename = "match", default)]
    mode: Match,
    group: Option<String>,
    priority: Option<Priority>,
    #[serde(default)]
    tags: Vec<String>,
}

/// How a keyword must appear in a message (always ignoring case).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Match {
    /// Anywhere, even inside a longer word.
    #[default]
    Substring,
    /// As a whole word. Keywords in Chinese, Japanese or Korean script still match anywhere:
    /// those languages do not separate words with spaces.
    Word,
}

struct Rule {
    /// Lowercased, for matching.
    keywords: Vec<String>,
    /// As configured, for the note.
    shown: Vec<String>,
    mode: Match,
    group: Option<String>,
    priority: Option<Priority>,
    tags: Vec<String>,
    /// `keyword:<first keyword>`: a rule fires once per conversation, and this tag says it
    /// has. Agents see which rule fired, and removing the tag re-arms the rule.
    marker: String,
}

struct KeywordEscalation {
    rules: Vec<Rule>,
}

impl KeywordEscalation {
    fn new(settings: Settings) -> anyhow::Result<Self> {
        ensure!(
            !settings.rules.is_empty(),
            "rules: expected at least one rule"
        );
        let mut rules: Vec<Rule> = Vec::new();
        for (i, r) in settings.rules.into_iter().enumerate() {
            let rule = Rule::new(r).map_err(|e| e.context(format!("rules[{i}]")))?;
            if let Some(j) = rules.iter().position(|o| o.marker == rule.marker) {
                bail!(
                    "rules[{i}]: its first keyword `{}` is also the first keyword of rules[{j}]; \
                     the first keyword names the rule, so make them differ",
                    rule.shown[0]
                );
            }
            rules.push(rule);
        }
        Ok(Self { rules })
    }
}

impl Rule {
    fn new(r: RuleSettings) -> anyhow::Result<Self> {
        ensure!(
            !r.keywords.is_empty(),
            "keywords: expected at least one keyword"
        );
        if let Some(blank) = r.keywords.iter().position(|k| k.trim().is_empty()) {
            bail!("keywords[{blank}]: a keyword must not be blank");
        }
        ensure!(
            r.group.is_some() || r.priority.is_some() || !r.tags.is_empty(),
            "nothing to do: set `group`, `priority` or `tags`"
        );
        if let Some(bad) = r.tags.iter().find(|t| t.trim().is_empty() || t.len() > 64) {
            bail!("tags: `{bad}` must be 1 to 64 bytes");
        }
        if let Some(g) = &r.group {
            ensure!(!g.trim().is_empty(), "group: must not be blank");
        }
        let keywords: Vec<String> = r.keywords.iter().map(|k| k.trim().to_lowercase()).collect();
        let marker = format!("keyword:{}", keywords[0]);
        ensure!(
            marker.len() <= 64,
            "keywords[0]: `{}` is too long to name the rule (at most 56 bytes)",
            r.keywords[0]
        );
        Ok(Self {
            keywords,
            shown: r
                .keywords
                .into_iter()
                .map(|k| k.trim().to_string())
                .collect(),
            mode: r.mode,
            group: r.group,
            priority: r.priority,
            tags: r.tags,
            marker,
        })
    }

    /// The first keyword (as configured) found in `text`, which must be lowercased.
    fn find(&self, text: &str) -> Option<&str> {
        let whole_word = self.mode == Match::Word;
        let i = self
            .keywords
            .iter()
            .position(|k| contains_keyword(text, k, whole_word))?;
        Some(&self.shown[i])
    }

    /// What firing does, for the agents' note: `after-sales, priority high, tagged complaint`.
    fn describe(&self) -> String {
        let mut done = Vec::new();
        done.extend(self.group.clone());
        if let Some(p) = self.priority {
            done.push(format!("priority {}", format!("{p:?}").to_lowercase()));
        }
        if !self.tags.is_empty() {
            done.push(format!("tagged {}", self.tags.join(", ")));
        }
        done.join(", ")
    }
}

#[async_trait]
impl Plugin for KeywordEscalation {
    fn name(&self) -> &str {
        "keyword_escalation"
    }

    fn sender_name(&self) -> &str {
        "Keyword escalation"
    }

    fn groups(&self) -> Vec<String> {
        self.rules.iter().filter_map(|r| r.group.clone()).collect()
    }

    /// Before the FAQ bot, so an escalated conversation is not also answered by it.
    fn priority(&self) -> i32 {
        100
    }

    async fn on_message(&self, ctx: &mut Context, message: &StoredMessage) -> HookResult {
        let Body::Text { text } = &message.body else {
            return Ok(());
        };
        if message.sender_role != SenderRole::Shopper {
            return Ok(());
        }
        let text = text.to_lowercase();
        for rule in &self.rules {
            if ctx.has_tag(&rule.marker) {
                continue;
            }
            let Some(keyword) = rule.find(&text) else {
                continue;
            };
            // Tags first, so the next message already finds the rule fired; the note
            // before the route, so whoever is offered the conversation can read it.
            ctx.tag(rule.marker.clone());
            for tag in &rule.tags {
                ctx.tag(tag.clone());
            }
            if rule.group.is_some() {
                // Routed to specialists is a hand-off to humans: the FAQ bot stays out of
                // it, or its own hand-off could send the conversation somewhere else.
                ctx.tag(HANDOFF_TAG);
            }
            if let Some(p) = rule.priority {
                ctx.set_priority(p);
            }
            ctx.note(format!(
                "Keyword escalation: “{keyword}” → {}",
                rule.describe()
            ));
            if let Some(group) = &rule.group {
                ctx.route_to_group(group.clone());
            }
        }
        Ok(())
    }
}

/// Whether lowercased `text` contains lowercased `keyword`. With `whole_word`, a keyword
/// without CJK characters must not touch a letter or digit on either side (CJK characters
/// count as separators, so "我要invoice" matches "invoice"); a CJK keyword matches anywhere.
pub(super) fn contains_keyword(text: &str, keyword: &str, whole_word: bool) -> bool {
    if !whole_word || keyword.chars().any(is_cjk) {
        return text.contains(keyword);
    }
    let is_word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() && !is_cjk(c));
    text.match_indices(keyword).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + keyword.len()..].chars().next();
        !is_word(before) && !is_word(after)
    })
}

/// Characters of scripts written without spaces between words: Han, kana, Hangul.
fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{3040}'..='\u{30FF}'     // hiragana, katakana
        | '\u{3400}'..='\u{4DBF}'   // CJK extension A
        | '\u{4E00}'..='\u{9FFF}'   // CJK unified ideographs
        | '\u{AC00}'..='\u{D7AF}'   // Hangul syllables
        | '\u{F900}'..='\u{FAFF}'   // CJK compatibility ideographs
        | '\u{20000}'..='\u{3FFFF}' // CJK extensions B and later
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(json: serde_json::Value) -> anyhow::Result<Rule> {
        Rule::new(serde_json::from_value(json)?)
    }

    #[test]
    fn substring_rules_match_anywhere_ignoring_case() {
        let r = rule(serde_json::json!({"keywords": ["投诉", "Refund"], "tags": ["x"]})).unwrap();
        assert_eq!(r.find("我要投诉你们"), Some("投诉"));
        assert_eq!(r.find(&"I want a REFUNDING".to_lowercase()), Some("Refund"));
        assert_eq!(r.find("hello"), None);
    }

    #[test]
    fn word_rules_need_whole_latin_words_but_cjk_matches_anywhere() {
        let r = rule(serde_json::json!({
            "keywords": ["invoice", "发票"], "match": "word", "tags": ["invoice"]
        }))
        .unwrap();
        assert_eq!(r.find("need an invoice, please"), Some("invoice"));
        assert_eq!(r.find("invoice"), Some("invoice"));
        assert_eq!(
            r.find("我要invoice谢谢"),
            Some("invoice"),
            "CJK neighbours separate words"
        );
        assert_eq!(r.find("my invoices"), None, "inside a longer word");
        assert_eq!(r.find("preinvoice"), None);
        assert_eq!(r.find("invoice2"), None, "digits are part of a word");
        assert_eq!(r.find("能开发票吗"), Some("发票"), "Chinese has no spaces");
        // A later occurrence may be whole even if an earlier one is not.
        assert_eq!(r.find("invoices? no, the invoice"), Some("invoice"));
    }

    #[test]
    fn rules_without_keywords_or_actions_are_refused() {
        let err = rule(serde_json::json!({"keywords": [], "tags": ["x"]}))
            .err()
            .unwrap();
        assert!(err.to_string().contains("keywords"), "{err}");
        let err = rule(serde_json::json!({"keywords": ["投诉"]}))
            .err()
            .unwrap();
        assert!(err.to_string().contains("nothing to do"), "{err}");
        let err = rule(serde_json::json!({"keywords": ["x"], "priority": "asap"}))
            .err()
            .unwrap();
        assert!(err.to_string().contains("asap"), "{err}");
    }

    #[test]
    fn the_note_says_what_was_done() {
        let r = rule(serde_json::json!({
            "keywords": ["投诉"], "group": "after-sales", "priority": "high", "tags": ["complaint"]
        }))
        .unwrap();
        assert_eq!(r.describe(), "after-sales, priority high, tagged complaint");
        assert_eq!(r.marker, "keyword:投诉");
    }
}
