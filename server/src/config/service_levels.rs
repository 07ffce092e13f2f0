//! `[service_levels]`: how soon a conversation must get its first human answer and how soon
//! it must be closed, per group and priority (`docs/service-levels.md`).
//!
//! ```toml
//! [service_levels]
//! first_response = "2m"        # every group and priority
//! resolution = "4h"
//! [service_levels.priority.urgent]
//! first_response = "1m"        # urgent conversations of every group
//! [service_levels.groups.after-sales]
//! first_response = "5m"
//! [service_levels.groups.after-sales.priority.urgent]
//! first_response = "30s"
//! ```
//!
//! The most specific target wins: the group's table for the priority, then the group's own,
//! then the top level's table for the priority, then the top level. A target set nowhere on
//! that path is not tracked. Durations are text with units (`90s`, `5m`, `1h30m`, `2d`).
//! Whether a group exists is known only once the database is open: [`check_groups`] runs at
//! start-up.

use std::{collections::BTreeMap, fmt, time::Duration};

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

use crate::store::{Group, Priority};

/// `[service_levels]`; empty (the default): no targets, nothing is tracked.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceLevelSettings {
    /// Time to the first public message of a human agent, for every group and priority.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_response: Option<Span>,
    /// Time to closing, for every group and priority.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution: Option<Span>,
    /// Per priority (`low`, `normal`, `high`, `urgent`), for every group.
    pub priority: BTreeMap<String, Targets>,
    /// Per group (its name), each with its own per-priority tables.
    pub groups: BTreeMap<String, GroupTargets>,
    /// How often open conversations are checked against their targets.
    pub sweep_interval: Span,
}

/// One group's targets (`[service_levels.groups.<name>]`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct GroupTargets {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_response: Option<Span>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution: Option<Span>,
    /// Per priority, for this group only.
    pub priority: BTreeMap<String, Targets>,
}

/// The two targets of one table (`[….priority.<name>]`).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Targets {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_response: Option<Span>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution: Option<Span>,
}

impl Targets {
    /// Each of `self`'s targets, else `fallback`'s.
    fn or(self, fallback: Targets) -> Targets {
        Targets {
            first_response: self.first_response.or(fallback.first_response),
            resolution: self.resolution.or(fallback.resolution),
        }
    }
}

impl Default for ServiceLevelSettings {
    fn default() -> Self {
        Self {
            first_response: None,
            resolution: None,
            priority: BTreeMap::new(),
            groups: BTreeMap::new(),
            sweep_interval: Span(Duration::from_secs(5)),
        }
    }
}

/// The priorities' names as `[….priority.<name>]` spells them.
const PRIORITIES: [(&str, Priority); 4] = [
    ("low", Priority::Low),
    ("normal", Priority::Normal),
    ("high", Priority::High),
    ("urgent", Priority::Urgent),
];

fn priority_name(p: Priority) -> &'static str {
    PRIORITIES
        .iter()
        .find(|(_, q)| *q == p)
        .map_or("normal", |(name, _)| name)
}

/// Longest target accepted: a year (a longer one is a typo, `40000h`, not a promise).
const MAX_TARGET: Duration = Duration::from_secs(365 * 86_400);

impl ServiceLevelSettings {
    /// Whether any target is set, i.e. whether there is anything to track.
    pub fn enabled(&self) -> bool {
        self.all_targets().next().is_some()
    }

    /// The targets of a conversation in `group` with `priority` (see the module's order).
    pub fn targets(&self, group: &str, priority: Priority) -> Targets {
        let name = priority_name(priority);
        let top = Targets {
            first_response: self.first_response,
            resolution: self.resolution,
        };
        let top = self.priority.get(name).copied().unwrap_or_default().or(top);
        let Some(g) = self.groups.get(group) else {
            return top;
        };
        let own = Targets {
            first_response: g.first_response,
            resolution: g.resolution,
        };
        g.priority
            .get(name)
            .copied()
            .unwrap_or_default()
            .or(own)
            .or(top)
    }

    /// Whether any table sets a resolution target (without one, an answered conversation
    /// has nothing left to miss).
    pub fn tracks_resolution(&self) -> bool {
        self.keyed_targets()
            .iter()
            .any(|(key, _)| key.ends_with(".resolution"))
    }

    /// The shortest target set anywhere: nothing opened more recently can be due yet
    /// (pausing outside business hours only moves a due time later).
    pub fn shortest(&self) -> Option<Duration> {
        self.all_targets().min()
    }

    /// Every duration of every table.
    fn all_targets(&self) -> impl Iterator<Item = Duration> {
        self.keyed_targets().into_iter().map(|(_, d)| d.0)
    }

    /// Every duration of every table, with the key it is set under.
    fn keyed_targets(&self) -> Vec<(String, Span)> {
        fn table(out: &mut Vec<(String, Span)>, key: &str, first: Option<Span>, res: Option<Span>) {
            out.extend(first.map(|d| (format!("{key}.first_response"), d)));
            out.extend(res.map(|d| (format!("{key}.resolution"), d)));
        }
        fn priorities(out: &mut Vec<(String, Span)>, key: &str, map: &BTreeMap<String, Targets>) {
            for (p, t) in map {
                table(
                    out,
                    &format!("{key}.priority.{p}"),
                    t.first_response,
                    t.resolution,
                );
            }
        }
        let mut out = Vec::new();
        table(
            &mut out,
            "service_levels",
            self.first_response,
            self.resolution,
        );
        priorities(&mut out, "service_levels", &self.priority);
        for (name, g) in &self.groups {
            let key = format!("service_levels.groups.{name}");
            table(&mut out, &key, g.first_response, g.resolution);
            priorities(&mut out, &key, &g.priority);
        }
        out
    }

    /// The checks serde cannot express; returns the key at fault and what it expects.
    pub(super) fn validate(&self) -> Result<(), (String, String)> {
        let bad = |k: String, e: String| Err((k, e));
        let interval = self.sweep_interval.0;
        if !(Duration::from_millis(100)..=Duration::from_secs(600)).contains(&interval) {
            return bad(
                "service_levels.sweep_interval".into(),
                "expected between 100ms and 10m".into(),
            );
        }
        let known = || {
            PRIORITIES
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let tables = std::iter::once(("service_levels".to_string(), &self.priority)).chain(
            self.groups
                .iter()
                .map(|(g, t)| (format!("service_levels.groups.{g}"), &t.priority)),
        );
        for (key, map) in tables {
            if let Some(p) = map.keys().find(|p| !PRIORITIES.iter().any(|(n, _)| n == p)) {
                return bad(
                    format!("{key}.priority.{p}"),
                    format!("unknown priority `{p}`; expected one of {}", known()),
                );
            }
        }
        for name in self.groups.keys() {
            if name.trim().is_empty() {
                return bad(
                    "service_levels.groups".into(),
                    "a group's name must not be blank".into(),
                );
            }
        }
        for (key, d) in self.keyed_targets() {
            if d.0.is_zero() || d.0 > MAX_TARGET {
                return bad(
                    key,
                    format!("expected more than 0s and at most 365d, got {d}"),
                );
            }
        }
        Ok(())
    }
}

/// Refuses targets for a group that does not exist (`groups` are the database's), so a
/// misspelt name is a start-up error rather than a target silently never applied.
pub fn check_groups(settings: &ServiceLevelSettings, groups: &[Group]) -> anyhow::Result<()> {
    for name in settings.groups.keys() {
        if !groups.iter().any(|g| &g.name == name) {
            let known: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
            anyhow::bail!(
                "config key `service_levels.groups.{name}`: group `{name}` does not exist; \
                 create it first (POST /api/v1/groups) or name an existing one ({})",
                known.join(", ")
            );
        }
    }
    Ok(())
}

/// A duration written with units: `500ms`, `30s`, `5m`, `4h`, `2d`, or several together
/// (`1h30m`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span(pub Duration);

impl Span {
    /// Milliseconds, as the store counts time.
    pub fn as_ms(self) -> i64 {
        i64::try_from(self.0.as_millis()).unwrap_or(i64::MAX)
    }
}

const EXPECTED_SPAN: &str =
    "a duration with units such as \"30s\", \"5m\", \"4h\", \"2d\" or \"1h30m\"";

impl std::str::FromStr for Span {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("expected {EXPECTED_SPAN}, got `{text}`");
        let mut rest = text.trim();
        if rest.is_empty() {
            return Err(bad());
        }
        let mut total = Duration::ZERO;
        while !rest.is_empty() {
            let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
            let number: u64 = rest[..digits].parse().map_err(|_| bad())?;
            rest = &rest[digits..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(rest.len());
            let unit_ms: u64 = match rest[..unit_len].trim() {
                "ms" => 1,
                "s" => 1000,
                "m" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                _ => return Err(bad()),
            };
            rest = &rest[unit_len..];
            let ms = number.checked_mul(unit_ms).ok_or_else(bad)?;
            total = total
                .checked_add(Duration::from_millis(ms))
                .ok_or_else(bad)?;
        }
        Ok(Span(total))
    }
}

/// The shortest text that reads back as the same duration (`1h30m`, `500ms`).
impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ms = self.0.as_millis();
        if ms == 0 {
            return f.write_str("0s");
        }
        for (unit, size) in [
            ("d", 86_400_000),
            ("h", 3_600_000),
            ("m", 60_000),
            ("s", 1000),
            ("ms", 1),
        ] {
            if ms >= size {
                write!(f, "{}{unit}", ms / size)?;
                ms %= size;
            }
        }
        Ok(())
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = Span;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(EXPECTED_SPAN)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Span, E> {
                v.parse().map_err(E::custom)
            }
            // A bare number (an environment variable `=30`, or `30` in TOML) has no unit:
            // seconds or minutes? Refused rather than guessed.
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Span, E> {
                Err(E::custom(format!(
                    "expected {EXPECTED_SPAN}, got the number {v} (add a unit: \"{v}s\" or \"{v}m\")"
                )))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Span, E> {
                self.visit_i64(v as i64)
            }
        }
        d.deserialize_any(Visitor)
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment's Jail closures return figment::Error
mod tests {
    use super::*;
    use crate::config::{EXAMPLE, Settings};

    fn span(text: &str) -> Span {
        text.parse().unwrap()
    }

    #[test]
    fn durations_read_units_and_print_back_the_same() {
        assert_eq!(span("30s").0, Duration::from_secs(30));
        assert_eq!(span("5m").0, Duration::from_secs(300));
        assert_eq!(span("1h30m").0, Duration::from_secs(5400));
        assert_eq!(span("2d").0, Duration::from_secs(172_800));
        assert_eq!(span("250ms").0, Duration::from_millis(250));
        assert_eq!(
            span(" 1h 5s ").0,
            Duration::from_secs(3605),
            "spaces between parts"
        );
        for text in ["1h30m", "250ms", "2d", "1m1s", "0s"] {
            assert_eq!(span(text).to_string(), text);
        }
        for bad in [
            "",
            "5",
            "m",
            "5 minutes",
            "1.5h",
            "-5m",
            "5mm",
            "99999999999999999d",
        ] {
            let err = bad.parse::<Span>().expect_err(bad);
            assert!(
                err.contains("\"1h30m\""),
                "{bad}: says what is expected: {err}"
            );
        }
    }

    fn settings(toml: &str) -> Result<Settings, crate::config::ConfigError> {
        let mut result = None;
        figment::Jail::expect_with(|_| {
            result = Some(Settings::load_str(toml));
            Ok(())
        });
        result.unwrap()
    }

    #[test]
    fn the_most_specific_target_wins() {
        let s = settings(
            r#"
            [service_levels]
            first_response = "2m"
            resolution = "4h"
            [service_levels.priority.urgent]
            first_response = "1m"
            [service_levels.groups.after-sales]
            first_response = "5m"
            [service_levels.groups.after-sales.priority.urgent]
            first_response = "30s"
            [service_levels.groups.after-sales.priority.low]
            resolution = "1d"
            "#,
        )
        .unwrap()
        .service_levels;
        let t = |group, p| {
            let t = s.targets(group, p);
            (
                t.first_response.map(|d| d.to_string()),
                t.resolution.map(|d| d.to_string()),
            )
        };
        let some = |a: &str, b: &str| (Some(a.to_string()), Some(b.to_string()));
        assert_eq!(
            t("pre-sales", Priority::Normal),
            some("2m", "4h"),
            "the top level"
        );
        assert_eq!(
            t("pre-sales", Priority::Urgent),
            some("1m", "4h"),
            "top-level priority"
        );
        assert_eq!(
            t("after-sales", Priority::Normal),
            some("5m", "4h"),
            "the group's own"
        );
        assert_eq!(
            t("after-sales", Priority::Urgent),
            some("30s", "4h"),
            "the group's priority table, resolution from the top"
        );
        assert_eq!(t("after-sales", Priority::Low), some("5m", "1d"));
        assert!(s.enabled() && s.tracks_resolution());
        assert_eq!(s.shortest(), Some(Duration::from_secs(30)));
        assert_eq!(s.sweep_interval, span("5s"), "the default sweep");
    }

    #[test]
    fn no_table_tracks_nothing() {
        let s = settings("").unwrap().service_levels;
        assert!(!s.enabled());
        assert_eq!(s.targets("pre-sales", Priority::Urgent), Targets::default());
        let s = settings("[service_levels.groups.vip]\nresolution = \"1h\"\n")
            .unwrap()
            .service_levels;
        assert_eq!(
            s.targets("pre-sales", Priority::Normal),
            Targets::default(),
            "another group's target is not this one's"
        );
        assert!(s.tracks_resolution());
        let s = settings("[service_levels]\nfirst_response = \"1m\"\n")
            .unwrap()
            .service_levels;
        assert!(s.enabled() && !s.tracks_resolution());
    }

    #[test]
    fn mistakes_name_their_key() {
        for (toml, key, says) in [
            (
                "[service_levels]\nfirst_response = \"5 min\"\n",
                "service_levels.first_response",
                "`5 min`",
            ),
            (
                "[service_levels]\nresolution = 30\n",
                "service_levels.resolution",
                "add a unit",
            ),
            (
                "[service_levels.groups.after-sales.priority.urgnt]\nfirst_response = \"1m\"\n",
                "service_levels.groups.after-sales.priority.urgnt",
                "expected one of low, normal, high, urgent",
            ),
            (
                "[service_levels.priority.urgent]\nfirst_response = \"0s\"\n",
                "service_levels.priority.urgent.first_response",
                "more than 0s",
            ),
            (
                "[service_levels.groups.vip]\nresolution = \"400d\"\n",
                "service_levels.groups.vip.resolution",
                "at most 365d",
            ),
            (
                "[service_levels]\nsweep_interval = \"10ms\"\n",
                "service_levels.sweep_interval",
                "100ms",
            ),
        ] {
            let err = settings(toml).expect_err(toml);
            assert_eq!(err.key, key, "{toml}: {err}");
            assert!(err.to_string().contains(says), "{toml}: {err}");
        }
        let typo = "[service_levels]\nfirst_reponse = \"1m\"\n";
        let err = settings(typo).expect_err(typo).to_string();
        assert!(
            err.contains("service_levels.first_reponse") && err.contains("unknown key"),
            "a misspelt key is named: {err}"
        );
    }

    #[test]
    fn an_environment_variable_sets_a_target() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("KEFU_SERVICE_LEVELS__FIRST_RESPONSE", "90s");
            let s = Settings::load_str("").map_err(|e| e.to_string())?;
            assert_eq!(s.service_levels.first_response, Some(span("1m30s")));
            jail.set_env("KEFU_SERVICE_LEVELS__RESOLUTION", "4");
            let err = Settings::load_str("").unwrap_err();
            assert!(
                err.to_string().contains("KEFU_SERVICE_LEVELS__RESOLUTION"),
                "names the variable: {err}"
            );
            Ok(())
        });
    }

    #[test]
    fn unknown_groups_are_refused_at_start_up() {
        let s = settings("[service_levels.groups.after-sale]\nfirst_response = \"1m\"\n")
            .unwrap()
            .service_levels;
        let group = |name: &str| Group {
            name: name.into(),
            display_name: name.into(),
            members: vec![],
        };
        let err = check_groups(&s, &[group("pre-sales"), group("after-sales")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("service_levels.groups.after-sale") && err.contains("after-sales"),
            "names the key and the groups there are: {err}"
        );
        check_groups(&s, &[group("after-sale")]).expect("an existing group");
    }

    /// The example's section is commented out (its groups may not exist in a new
    /// installation); uncommented, it must load.
    #[test]
    fn the_example_section_loads_once_uncommented() {
        let start = EXAMPLE
            .find("# [service_levels]")
            .expect("the example documents [service_levels]");
        let section: String = EXAMPLE[start..]
            .lines()
            .take_while(|l| l.starts_with('#'))
            .filter_map(|l| l.strip_prefix("# "))
            .filter(|l| l.starts_with('[') || l.contains(" = "))
            .map(|l| format!("{l}\n"))
            .collect();
        let s = settings(&section).unwrap().service_levels;
        assert!(s.enabled(), "{section}");
        assert!(!s.groups.is_empty(), "it shows a group's table: {section}");
    }
}
