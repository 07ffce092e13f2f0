//! Service levels: which open conversations are past their first-response or resolution
//! target (`[service_levels]`, `docs/service-levels.md`).
//!
//! Both clocks start when the conversation was opened. The first-response clock stops at
//! the first public message of a human agent, the resolution clock at closing. With
//! `[plugins.business_hours]` on, they run only in opening hours: a conversation opened on
//! Friday evening is not late on Saturday.
//!
//! A sweeper on the node doing the cluster's chores reads the open conversations that can
//! still breach (one query over open conversations), works out their due times, and
//! records each target newly missed as an `sla_breach` row. Only the call that inserted
//! the row announces it — `conversation.sla_breached` to plugins and webhooks,
//! `kefu_sla_breaches_total` — so a breach fires once per conversation and target even
//! when sweeps overlap or two nodes both think they lead. The row is written before the
//! announcement: a crash between the two loses the announcement, never duplicates it.
//!
//! `missed` and `due` are pure; `sweep` is the store round; `sweeper` the task.

use std::{sync::Weak, time::Duration};

use uuid::Uuid;

use super::Sessions;
use crate::{
    config::service_levels::ServiceLevelSettings,
    events::Lifecycle,
    plugins::builtin::hours::{self, Schedule},
    store::{OpenClock, Store, StoreResult, Target, now_ms},
};

/// When a target of `target_ms` on a clock started at `start` falls due: `target_ms` later,
/// or later still by the closed hours in between. `None`: never (no opening hours ahead).
pub fn due(hours: Option<&Schedule>, start: i64, target_ms: i64) -> Option<i64> {
    match hours {
        None => Some(start.saturating_add(target_ms)),
        Some(schedule) => hours::due_at(schedule, start, target_ms),
    }
}

/// The targets `clock` has missed by `now` that are not recorded yet, with their due times.
pub fn missed(
    clock: &OpenClock,
    levels: &ServiceLevelSettings,
    hours: Option<&Schedule>,
    now: i64,
) -> Vec<(Target, i64)> {
    let targets = levels.targets(&clock.group, clock.priority);
    let running = [
        (
            Target::FirstResponse,
            targets.first_response,
            !clock.answered && !clock.first_response_breached,
        ),
        (
            Target::Resolution,
            targets.resolution,
            !clock.resolution_breached,
        ),
    ];
    running
        .into_iter()
        .filter_map(|(target, span, running)| {
            let due_at = due(hours, clock.created_at, span.filter(|_| running)?.as_ms())?;
            (now >= due_at).then_some((target, due_at))
        })
        .collect()
}

/// A breach one sweep recorded, which that sweep must announce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breach {
    pub conversation_id: Uuid,
    pub target: Target,
    pub due_at: i64,
}

/// One round at `now`: records every target newly missed and calls `announce` for each
/// breach this call recorded, right after recording it (so an error later in the round
/// loses no announcement).
pub async fn sweep(
    store: &dyn Store,
    levels: &ServiceLevelSettings,
    hours: Option<&Schedule>,
    now: i64,
    mut announce: impl FnMut(Breach),
) -> StoreResult<()> {
    let Some(shortest) = levels.shortest() else {
        return Ok(());
    };
    // Nothing opened more recently than the shortest target can be due yet.
    let opened_by = now.saturating_sub(shortest.as_millis() as i64);
    let resolution = levels.tracks_resolution();
    for clock in store.open_clocks(opened_by, resolution).await? {
        for (target, due_at) in missed(&clock, levels, hours, now) {
            if store
                .record_breach(clock.conversation_id, target, due_at, now)
                .await?
            {
                announce(Breach {
                    conversation_id: clock.conversation_id,
                    target,
                    due_at,
                });
            }
        }
    }
    Ok(())
}

/// Starts the sweeper if any target is set. The opening hours are those of
/// `[plugins.business_hours]` (start-up has checked them).
pub(super) fn spawn(sessions: &std::sync::Arc<Sessions>) {
    let levels = &sessions.settings.service_levels;
    if !levels.enabled() {
        return;
    }
    let hours = hours::configured(&sessions.settings.plugins).unwrap_or_else(|e| {
        tracing::warn!(error = %format!("{e:#}"), "service levels: business hours ignored");
        None
    });
    tracing::info!(
        business_hours = hours.is_some(),
        every = %levels.sweep_interval,
        "service levels tracked"
    );
    tokio::spawn(sweeper(std::sync::Arc::downgrade(sessions), hours));
}

/// Sweeps every `service_levels.sweep_interval` while this node does the chores; ends with
/// the sessions.
async fn sweeper(sessions: Weak<Sessions>, hours: Option<Schedule>) {
    loop {
        let Some(s) = sessions.upgrade() else { return };
        let levels = &s.settings.service_levels;
        let interval: Duration = levels.sweep_interval.0;
        if s.does_chores() {
            let round = sweep(s.store.as_ref(), levels, hours.as_ref(), now_ms(), |b| {
                s.announce_breach(b)
            });
            if let Err(e) = round.await {
                tracing::warn!(error = %e, "checking service levels; trying again next round");
            }
        }
        drop(s);
        tokio::time::sleep(interval).await;
    }
}

impl Sessions {
    /// Tells plugins, webhooks, `/metrics` and this node's supervisors (the floor lists
    /// breaches) about a breach this node recorded.
    fn announce_breach(&self, b: Breach) {
        tracing::info!(conv = %b.conversation_id, target = b.target.as_str(), due_at = b.due_at, "service level breached");
        metrics::counter!("kefu_sla_breaches_total", "target" => b.target.as_str()).increment(1);
        self.events.lifecycle(
            b.conversation_id,
            Lifecycle::ServiceLevelBreached {
                target: b.target.as_str().into(),
                due_at: b.due_at,
            },
        );
        self.floor_changed();
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment's Jail closures return figment::Error
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::{
        config::Settings,
        store::{Priority, Store, sqlite::SqliteStore, tests::conversation},
    };

    const MIN: i64 = 60_000;
    const HOUR: i64 = 60 * MIN;

    fn levels(toml: &str) -> ServiceLevelSettings {
        let mut found = None;
        figment::Jail::expect_with(|_| {
            found = Some(Settings::load_str(toml).map_err(|e| e.to_string())?);
            Ok(())
        });
        found.unwrap().service_levels
    }

    fn clock(created_at: i64) -> OpenClock {
        OpenClock {
            conversation_id: Uuid::nil(),
            group: "pre-sales".into(),
            priority: Priority::Normal,
            created_at,
            answered: false,
            first_response_breached: false,
            resolution_breached: false,
        }
    }

    const TARGETS: &str = "[service_levels]\nfirst_response = \"2m\"\nresolution = \"1h\"\n";

    #[test]
    fn an_unanswered_conversation_misses_its_first_response_when_due() {
        let l = levels(TARGETS);
        let c = clock(1_000);
        assert_eq!(missed(&c, &l, None, 1_000 + 2 * MIN - 1), []);
        assert_eq!(
            missed(&c, &l, None, 1_000 + 2 * MIN),
            [(Target::FirstResponse, 1_000 + 2 * MIN)]
        );
        assert_eq!(
            missed(&c, &l, None, 1_000 + HOUR),
            [
                (Target::FirstResponse, 1_000 + 2 * MIN),
                (Target::Resolution, 1_000 + HOUR)
            ],
            "both, each with its own due time"
        );
    }

    #[test]
    fn an_answered_or_recorded_target_is_not_missed_again() {
        let l = levels(TARGETS);
        let answered = OpenClock {
            answered: true,
            ..clock(0)
        };
        assert_eq!(
            missed(&answered, &l, None, HOUR),
            [(Target::Resolution, HOUR)],
            "an answer stops the first-response clock only"
        );
        let recorded = OpenClock {
            first_response_breached: true,
            resolution_breached: true,
            ..clock(0)
        };
        assert_eq!(missed(&recorded, &l, None, 10 * HOUR), []);
    }

    #[test]
    fn targets_follow_group_and_priority() {
        let l = levels(
            "[service_levels.groups.after-sales.priority.urgent]\nfirst_response = \"30s\"\n",
        );
        let urgent = OpenClock {
            group: "after-sales".into(),
            priority: Priority::Urgent,
            ..clock(0)
        };
        assert_eq!(
            missed(&urgent, &l, None, 30_000),
            [(Target::FirstResponse, 30_000)]
        );
        assert_eq!(
            missed(&clock(0), &l, None, 100 * HOUR),
            [],
            "no target for pre-sales: never missed"
        );
    }

    #[test]
    fn clocks_pause_outside_business_hours() {
        let l = levels(TARGETS);
        let plugins = serde_json::from_value(serde_json::json!({
            "business_hours": {"utc_offset": "+08:00"}
        }))
        .unwrap();
        let office = hours::configured(&plugins).unwrap().unwrap();
        // Friday 2025-06-06 17:59 in UTC+8 (09:59 UTC); 2025-06-06 is day 20245.
        let friday_1759 = 20_245 * 24 * HOUR + 9 * HOUR + 59 * MIN;
        let monday_0901 = friday_1759 + 3 * 24 * HOUR - 9 * HOUR + 2 * MIN;
        let c = clock(friday_1759);
        assert_eq!(
            missed(&c, &l, Some(&office), friday_1759 + 30 * MIN),
            [],
            "the weekend does not count"
        );
        assert_eq!(
            missed(&c, &l, Some(&office), monday_0901),
            [(Target::FirstResponse, monday_0901)],
            "one minute on Friday, one on Monday morning"
        );
        assert_eq!(
            missed(&c, &l, None, friday_1759 + 30 * MIN).len(),
            1,
            "without business hours the clock runs through the weekend"
        );
    }

    /// Several nodes (or overlapping rounds) sweeping at once announce each breach once.
    #[tokio::test]
    async fn overlapping_sweeps_announce_each_breach_once() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in(dir.path()).await.unwrap());
        let l = levels(TARGETS);
        // Both opened at 0; `noted`'s first response was recorded earlier (another node).
        let late = conversation(store.as_ref()).await;
        let noted = conversation(store.as_ref()).await;
        let heard = Arc::new(Mutex::new(Vec::new()));
        let round = |now: i64| {
            let (store, l, heard) = (store.clone(), l.clone(), heard.clone());
            tokio::spawn(async move {
                sweep(store.as_ref(), &l, None, now, |b| {
                    heard.lock().unwrap().push(b)
                })
                .await
                .unwrap()
            })
        };
        store
            .record_breach(noted, Target::FirstResponse, 2 * MIN, 2 * MIN)
            .await
            .unwrap();
        let rounds: Vec<_> = (0..4).map(|_| round(3 * MIN)).collect();
        for r in rounds {
            r.await.unwrap();
        }
        assert_eq!(
            *heard.lock().unwrap(),
            [Breach {
                conversation_id: late,
                target: Target::FirstResponse,
                due_at: 2 * MIN
            }],
            "one announcement of the one new breach, whichever round recorded it"
        );
        round(2 * HOUR).await.unwrap();
        round(2 * HOUR).await.unwrap();
        let mut later: Vec<_> = heard.lock().unwrap()[1..]
            .iter()
            .map(|b| (b.conversation_id, b.target))
            .collect();
        later.sort();
        let mut expected = vec![(late, Target::Resolution), (noted, Target::Resolution)];
        expected.sort();
        assert_eq!(later, expected, "then each resolution, once");
    }
}
