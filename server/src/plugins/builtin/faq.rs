//! `faq`: answers common questions from a small knowledge base while the shopper waits for
//! an agent, and hands off to a human when asked or when it has no good answer.
//!
//! ```toml
//! [plugins.faq]
//! handoff_group = "pre-sales"
//!
//! [[plugins.faq.entries]]
//! questions = ["运费怎么算", "how much is shipping"]
//! keywords = ["运费", "邮费", "shipping"]
//! answer = "满99元包邮，否则运费10元。/ Free shipping over ¥99, otherwise ¥10."
//! ```
//!
//! The bot speaks only while the conversation waits in a queue: once an agent has it, or
//! once the bot handed it off, it stays silent. Every hand-off is a human's job, so even a
//! plain "你好" with no matching entry hands off; add a greeting entry to answer it.

use std::collections::HashMap;

use anyhow::{bail, ensure};
use async_trait::async_trait;
use serde::Deserialize;

use super::keywords::contains_keyword;
use crate::{
    plugins::{Context, HookResult, Plugin, Registry},
    store::{Body, ConvState, Priority, SenderRole, StoredMessage},
};

/// Marks a conversation handed to humans; the bot says nothing more in it. Keyword
/// escalation sets it too when it routes a conversation to specialists.
pub(super) const HANDOFF_TAG: &str = "handoff";
/// Marks a conversation the bot answered at least once (for reports).
const ANSWERED_TAG: &str = "faq-answered";
/// What an entry's keyword in the question adds to its score: alone it reaches the default
/// threshold; a stricter threshold also asks for similar wording.
const KEYWORD_BONUS: f64 = 0.5;

pub(super) fn register(registry: Registry) -> Registry {
    registry.register("faq", Faq::new)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    #[serde(default = "defaults::bot_name")]
    bot_name: String,
    entries: Vec<EntrySettings>,
    /// The score (0 to 1) an entry needs to be given as the answer.
    #[serde(default = "defaults::threshold")]
    threshold: f64,
    /// A message containing one of these (whole words in Latin script) asks for a person.
    #[serde(default = "defaults::handoff_phrases")]
    handoff_phrases: Vec<String>,
    handoff_group: Option<String>,
    #[serde(default = "defaults::handoff_message")]
    handoff_message: String,
    #[serde(default = "defaults::unsure_message")]
    unsure_message: String,
    /// Appended to every answer so shoppers know how to reach a person; may be empty.
    #[serde(default = "defaults::human_hint")]
    human_hint: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntrySettings {
    questions: Vec<String>,
    #[serde(default)]
    keywords: Vec<String>,
    answer: String,
}

mod defaults {
    pub fn bot_name() -> String {
        "Kefu Assistant".into()
    }
    pub fn threshold() -> f64 {
        0.5
    }
    pub fn handoff_phrases() -> Vec<String> {
        [
            "人工",
            "转人工",
            "真人",
            "客服",
            "human",
            "agent",
            "talk to a human",
            "real person",
        ]
        .map(String::from)
        .to_vec()
    }
    pub fn handoff_message() -> String {
        "好的，正在为您转接人工客服。/ Connecting you to a human agent.".into()
    }
    pub fn unsure_message() -> String {
        "这个问题我不太确定，正在为您转接人工客服。/ \
         I'm not sure about that — connecting you to a human agent."
            .into()
    }
    pub fn human_hint() -> String {
        "回复“人工”转人工客服 · Reply “human” to talk to a person.".into()
    }
}

struct Faq {
    bot_name: String,
    matcher: Matcher,
    answers: Vec<String>,
    threshold: f64,
    /// Lowercased.
    handoff_phrases: Vec<String>,
    handoff_group: Option<String>,
    handoff_message: String,
    unsure_message: String,
    human_hint: String,
}

impl Faq {
    fn new(s: Settings) -> anyhow::Result<Self> {
        ensure!(
            !s.entries.is_empty(),
            "entries: expected at least one entry"
        );
        ensure!(
            s.threshold > 0.0 && s.threshold <= 1.0,
            "threshold: expected a number above 0 and at most 1, got {}",
            s.threshold
        );
        for (key, text) in [
            ("bot_name", &s.bot_name),
            ("handoff_message", &s.handoff_message),
            ("unsure_message", &s.unsure_message),
        ] {
            ensure!(!text.trim().is_empty(), "{key}: must not be blank");
        }
        if let Some(i) = s.handoff_phrases.iter().position(|p| p.trim().is_empty()) {
            bail!("handoff_phrases[{i}]: must not be blank");
        }
        let mut answers = Vec::new();
        let mut entries = Vec::new();
        for (i, e) in s.entries.into_iter().enumerate() {
            ensure!(
                !e.answer.trim().is_empty(),
                "entries[{i}].answer: must not be blank"
            );
            let entry = Entry::new(&e.questions, &e.keywords)
                .map_err(|err| err.context(format!("entries[{i}]")))?;
            entries.push(entry);
            answers.push(e.answer);
        }
        Ok(Self {
            bot_name: s.bot_name,
            matcher: Matcher { entries },
            answers,
            threshold: s.threshold,
            handoff_phrases: s
                .handoff_phrases
                .iter()
                .map(|p| p.trim().to_lowercase())
                .collect(),
            handoff_group: s.handoff_group,
            handoff_message: s.handoff_message,
            unsure_message: s.unsure_message,
            human_hint: s.human_hint,
        })
    }

    /// Marks the conversation for humans, moves it up its queue, replies `message` and moves
    /// it to `handoff_group` if set. The plugins after this one do not hear the message.
    fn hand_off(&self, ctx: &mut Context, message: &str, why: &str) {
        // The mark goes first: once the shopper reads the reply they may write again, and
        // that message must find the bot already out of the conversation.
        ctx.tag(HANDOFF_TAG);
        if ctx.conversation.priority < Priority::High {
            ctx.set_priority(Priority::High);
        }
        ctx.reply(message);
        ctx.note(format!("FAQ bot handed off: {why}."));
        if let Some(group) = &self.handoff_group {
            ctx.route_to_group(group.clone());
        }
        ctx.stop();
    }
}

#[async_trait]
impl Plugin for Faq {
    fn name(&self) -> &str {
        "faq"
    }

    fn sender_name(&self) -> &str {
        &self.bot_name
    }

    fn groups(&self) -> Vec<String> {
        self.handoff_group.iter().cloned().collect()
    }

    /// After keyword escalation (100), so escalated conversations are left to humans.
    fn priority(&self) -> i32 {
        50
    }

    async fn on_message(&self, ctx: &mut Context, message: &StoredMessage) -> HookResult {
        let Body::Text { text } = &message.body else {
            return Ok(());
        };
        if message.sender_role != SenderRole::Shopper
            || ctx.conversation.state != ConvState::Queued
            || ctx.has_tag(HANDOFF_TAG)
        {
            return Ok(());
        }
        let lower = text.to_lowercase();
        if self
            .handoff_phrases
            .iter()
            .any(|p| contains_keyword(&lower, p, true))
        {
            self.hand_off(ctx, &self.handoff_message, "the shopper asked for a person");
            return Ok(());
        }
        let query = normalize(text);
        if query.is_empty() {
            return Ok(()); // only emoji or punctuation: nothing to answer or escalate
        }
        match self.matcher.best(&query) {
            Some((i, score)) if score >= self.threshold => {
                let answer = &self.answers[i];
                if self.human_hint.trim().is_empty() {
                    ctx.reply(answer.clone());
                } else {
                    ctx.reply(format!("{answer}\n\n{}", self.human_hint));
                }
                ctx.tag(ANSWERED_TAG);
            }
            best => {
                let why = format!(
                    "no answer scored {} or more (best {:.2})",
                    self.threshold,
                    best.map_or(0.0, |(_, s)| s)
                );
                self.hand_off(ctx, &self.unsure_message, &why);
            }
        }
        Ok(())
    }
}

/// Scores questions against the knowledge base. Text is compared as character bigrams
/// (Sørensen–Dice), which needs no word segmentation, so Chinese without spaces and English
/// work alike.
struct Matcher {
    entries: Vec<Entry>,
}

/// One knowledge-base entry, normalized.
struct Entry {
    questions: Vec<Vec<char>>,
    keywords: Vec<String>,
}

impl Entry {
    fn new(questions: &[String], keywords: &[String]) -> anyhow::Result<Self> {
        ensure!(
            !questions.is_empty(),
            "questions: expected at least one question"
        );
        let questions: Vec<Vec<char>> = questions
            .iter()
            .map(|q| normalize(q).chars().collect())
            .collect();
        if let Some(i) = questions.iter().position(Vec::is_empty) {
            bail!("questions[{i}]: has no letters, digits or characters to match");
        }
        let keywords: Vec<String> = keywords.iter().map(|k| normalize(k)).collect();
        if let Some(i) = keywords.iter().position(String::is_empty) {
            bail!("keywords[{i}]: has no letters, digits or characters to match");
        }
        Ok(Self {
            questions,
            keywords,
        })
    }

    /// How well normalized `query` matches: the best question's similarity, plus
    /// [`KEYWORD_BONUS`] when a keyword appears in it; at most 1.
    fn score(&self, query: &str, query_chars: &[char]) -> f64 {
        let similar = self
            .questions
            .iter()
            .map(|q| dice(q, query_chars))
            .fold(0.0, f64::max);
        let keyword = self.keywords.iter().any(|k| query.contains(k.as_str()));
        (similar + if keyword { KEYWORD_BONUS } else { 0.0 }).min(1.0)
    }
}

impl Matcher {
    /// The best-scoring entry for normalized `query` and its score (first wins a tie).
    fn best(&self, query: &str) -> Option<(usize, f64)> {
        let chars: Vec<char> = query.chars().collect();
        self.entries
            .iter()
            .map(|e| e.score(query, &chars))
            .enumerate()
            .fold(None, |best, (i, s)| match best {
                Some((_, b)) if b >= s => best,
                _ => Some((i, s)),
            })
    }
}

/// Lowercase letters, digits and CJK characters only: spaces and punctuation (ASCII and
/// full-width, e.g. ？！，。) say nothing about which question was asked. Full-width Latin
/// letters and digits become their ASCII forms.
fn normalize(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Sørensen–Dice coefficient over character bigrams, counting repeats: 2·shared / (|A|+|B|).
///
/// Not `strsim::sorensen_dice`: as of strsim 0.11.1 it divides by UTF-8 byte lengths
/// rather than character counts, so every Chinese comparison scores about a third of its
/// true value (rapidfuzz/strsim-rs#79, still open).
fn dice(a: &[char], b: &[char]) -> f64 {
    if a == b {
        return 1.0;
    }
    if a.len() < 2 || b.len() < 2 {
        return 0.0;
    }
    let mut unmatched: HashMap<(char, char), usize> = HashMap::new();
    for w in a.windows(2) {
        *unmatched.entry((w[0], w[1])).or_default() += 1;
    }
    let mut shared = 0;
    for w in b.windows(2) {
        if let Some(n) = unmatched.get_mut(&(w[0], w[1]))
            && *n > 0
        {
            *n -= 1;
            shared += 1;
        }
    }
    (2 * shared) as f64 / (a.len() + b.len() - 2) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kb() -> Matcher {
        let entry = |q: &[&str], k: &[&str]| {
            let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
            Entry::new(&s(q), &s(k)).unwrap()
        };
        Matcher {
            entries: vec![
                entry(
                    &["运费怎么算", "shipping cost"],
                    &["运费", "邮费", "shipping"],
                ),
                entry(
                    &["怎么退货", "如何申请退货", "how do I return an item"],
                    &["退货"],
                ),
                entry(&["多久能发货", "how long does delivery take"], &[]),
            ],
        }
    }

    fn best(q: &str) -> (usize, f64) {
        kb().best(&normalize(q)).unwrap()
    }

    #[test]
    fn normalizing_drops_case_spaces_and_full_width_punctuation() {
        assert_eq!(normalize("运费 怎么算？！，。"), "运费怎么算");
        assert_eq!(normalize("How much is SHIPPING?"), "howmuchisshipping");
        assert_eq!(normalize("ＡＢＣ１２３"), "abc123");
        assert_eq!(normalize("？！…"), "");
    }

    #[test]
    fn chinese_questions_phrased_differently_find_their_entry() {
        // Exact question with punctuation: a perfect match.
        assert_eq!(best("运费怎么算？"), (0, 1.0));
        // Only "运费" in common with the question; the keyword carries it.
        let (i, s) = best("运费多少钱");
        assert_eq!(i, 0);
        assert!(s >= 0.5, "keyword plus shared bigram: {s}");
        let (i, s) = best("我想退货，怎么弄");
        assert_eq!(i, 1);
        assert!(s >= 0.5, "{s}");
        // No keyword: similar wording alone.
        let (i, s) = best("多久发货");
        assert_eq!(i, 2);
        assert!(s >= 0.5, "{s}");
    }

    #[test]
    fn english_questions_phrased_differently_find_their_entry() {
        let (i, s) = best("How much is shipping?");
        assert_eq!(i, 0);
        assert!(s >= 0.5, "{s}");
        let (i, s) = best("how long will delivery take");
        assert_eq!(i, 2);
        assert!(s >= 0.5, "{s}");
        let (i, s) = best("How can I return an item?");
        assert_eq!(i, 1);
        assert!(s >= 0.5, "{s}");
    }

    #[test]
    fn unrelated_questions_score_below_the_default_threshold() {
        for q in [
            "你们的实体店在哪里",
            "可以开发票吗",
            "Can I pay with PayPal?",
            "hello",
        ] {
            let (_, s) = best(q);
            assert!(s < defaults::threshold(), "{q} scored {s}");
        }
    }

    #[test]
    fn dice_counts_characters_not_bytes() {
        let c = |s: &str| s.chars().collect::<Vec<_>>();
        // 运费 费怎 怎么 么算 vs 运费 费多 多少 少钱: one of four bigrams each.
        assert_eq!(dice(&c("运费怎么算"), &c("运费多少钱")), 0.25);
        assert_eq!(dice(&c("feris"), &c("ferris")), 8.0 / 9.0);
        assert_eq!(dice(&c("a"), &c("ab")), 0.0);
    }
}
