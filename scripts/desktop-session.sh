#!/usr/bin/env bash
# Runs a command inside a throw-away desktop session, as an agent's machine has one:
# a virtual display (Xvfb), a D-Bus session bus, an unlocked Secret Service (gnome-keyring)
# and a notification server (dunst). The desktop app's tests need all four.
# Usage: scripts/desktop-session.sh <command> [args…]
set -euo pipefail
if [ -z "${DESKTOP_SESSION_WRAPPED:-}" ]; then
  export DESKTOP_SESSION_WRAPPED=1
  exec dbus-run-session -- "$0" "$@"
fi

home="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$home"
}
trap cleanup EXIT

# A free display number.
n=90
while [ -e "/tmp/.X11-unix/X$n" ] || [ -e "/tmp/.X$n-lock" ]; do n=$((n + 1)); done
Xvfb ":$n" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
pids+=($!)
export DISPLAY=":$n"
for _ in $(seq 100); do [ -e "/tmp/.X11-unix/X$n" ] && break; sleep 0.1; done

# The keyring daemon keeps its files under HOME; give it a fresh one, unlocked.
eval "$(printf 'kefu-test' | HOME="$home" gnome-keyring-daemon --unlock --components=secrets --daemonize)"
export GNOME_KEYRING_CONTROL

dunst >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus.NameHasOwner string:org.freedesktop.Notifications 2>/dev/null \
    | grep -q 'boolean true' && break
  sleep 0.1
done

set +e
"$@"
status=$?
set -e
exit "$status"
