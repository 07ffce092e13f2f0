//! systemd's notify protocol for `Type=notify` units (packaging/systemd/kefu.service):
//! READY once the port is open and the schema migrated, STOPPING when shutdown begins, and
//! WATCHDOG pings while the runtime answers. Without systemd (`NOTIFY_SOCKET` unset) each
//! call does nothing, so tests and bare-binary installs run the same code.

use std::time::Duration;

use sd_notify::NotifyState;

fn notify(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(false, states) {
        tracing::warn!(error = %e, "telling systemd our state");
    }
}

/// The server accepts connections: `systemctl start` returns and dependent units start.
pub fn ready() {
    notify(&[NotifyState::Ready, NotifyState::Status("serving")]);
}

/// Shutdown has begun: systemd waits for the exit instead of calling it a crash.
pub fn stopping() {
    notify(&[
        NotifyState::Stopping,
        NotifyState::Status("draining connections"),
    ]);
}

/// When the unit sets `WatchdogSec`, pings systemd at half that interval from a task on
/// the runtime: a runtime that stops scheduling tasks (a deadlock, a blocked worker pool)
/// stops the pings, and systemd restarts the service.
pub fn spawn_watchdog() {
    let Some(interval) = watchdog_interval() else {
        return;
    };
    let every = interval / 2;
    tracing::info!(every_ms = every.as_millis() as u64, "systemd watchdog");
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            notify(&[NotifyState::Watchdog]);
        }
    });
}

/// `WATCHDOG_USEC` when it is meant for this process. As libsystemd's
/// `sd_watchdog_enabled`: a `WATCHDOG_PID` naming another process (the variables were
/// inherited) disables it, an absent one does not. (sd-notify's `watchdog_enabled`
/// requires the PID, so a service started through a wrapper that execs kefu would lose it.)
fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID")
        && pid.parse() != Ok(std::process::id())
    {
        return None;
    }
    (usec > 0).then(|| Duration::from_micros(usec))
}
