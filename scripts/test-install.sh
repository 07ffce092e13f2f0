#!/usr/bin/env bash
# Checks the server's packages end to end on this machine (root; systemd need not be PID 1):
#
#   1. builds the .deb and .rpm (scripts/package-server.sh), and an "older" pair (0.0.1,
#      the same binary under a lower version) for the upgrade check;
#   2. static checks: the binary is stripped and identical in both packages, the .rpm holds
#      the same files as the .deb, the RPM scriptlets are the scripts (not their paths),
#      lintian reports no errors;
#   3. installs the old .deb: the kefu user, /etc/kefu/kefu.toml with fresh secrets (no
#      placeholder), 127.0.0.1:8080, mode 0640 root:kefu, /var/lib/kefu, the unit enabled;
#      then acts as an operator: moves the listen port to a free one and changes
#      server.shutdown_grace_secs by editing /etc/kefu/kefu.toml, adds an admin with
#      `kefu agent add` as the kefu user;
#   4. upgrades to the current .deb: the configuration is byte-for-byte the same, the
#      database is still there;
#   5. runs the installed kefu exactly as the installed unit would (packaging/tools/unit-exec.py
#      applies its User=, Environment=, directories, limits, mount sandbox, NoNewPrivileges and
#      seccomp filter, then executes ExecStart=) with a notify socket: READY=1, /healthz and
#      /readyz answer, the admin added before the upgrade signs in, WATCHDOG=1 keeps coming,
#      SIGHUP (ExecReload=) leaves it serving, SIGTERM gives STOPPING=1 and exit status 0;
#      then `kefu doctor` as the kefu user;
#   6. `systemd-analyze verify` on the installed unit, `systemd-analyze security --offline`
#      (prints the exposure score);
#   7. `dpkg -r` keeps /etc/kefu and /var/lib/kefu; `dpkg -P` deletes both;
#   8. a fresh install of the current .deb writes new secrets (not the first install's);
#      purged again.
#
# The machine is left as found (packages purged, the kefu user deleted if this script made
# it), also on failure. Refuses to run where kefu is installed or /etc/kefu, /var/lib/kefu
# exist: it would delete them. Needs lintian, rpm, python3-seccomp (installed with apt-get
# when missing), cargo-deb and cargo-generate-rpm (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
started=$(date +%s)

if [ "$(id -u)" -ne 0 ]; then
  echo "test-install.sh: must run as root: it installs, upgrades and purges the kefu package (sudo $0)" >&2
  exit 1
fi
source scripts/env.sh
# kefu reads every KEFU_* variable as configuration: none from the caller may leak in.
while read -r v; do unset "$v"; done < <(compgen -e | grep '^KEFU_' || true)

step() { printf '\n== %s\n' "$*"; }
ok() { printf '   ok: %s\n' "$*"; }
fail() { printf '\ntest-install.sh: FAIL: %s\n' "$*" >&2; exit 1; }
soft_failures=()
soft_fail() { printf '   FAIL: %s\n' "$*" >&2; soft_failures+=("$*"); }

if dpkg-query -W -f='${Status}' kefu 2>/dev/null | grep -qv 'not-installed'; then
  fail "the kefu package is installed here ($(dpkg-query -W -f='${Version} ${Status}' kefu)); this test purges it: remove it first (dpkg -P kefu) or run on a throwaway machine"
fi
for d in /etc/kefu /var/lib/kefu; do
  [ ! -e "$d" ] || fail "$d exists; this test deletes it (dpkg -P): move it away first"
done

missing=()
command -v lintian >/dev/null || missing+=(lintian)
command -v rpm >/dev/null || missing+=(rpm)
command -v systemd-analyze >/dev/null || missing+=(systemd)
command -v curl >/dev/null || missing+=(curl)
/usr/bin/python3 -c 'import seccomp' 2>/dev/null || missing+=(python3-seccomp)
if ((${#missing[@]})); then
  step "installing ${missing[*]} (apt)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

work=$(mktemp -d /tmp/kefu-test-install.XXXXXX)
# The notify socket lives under /run: the sandbox gives kefu a private /tmp.
rundir=$(mktemp -d /run/kefu-test-install.XXXXXX)
chmod 0755 "$rundir"
user_existed=false
getent passwd kefu >/dev/null && user_existed=true
kefu_pid=""
listener_pid=""
cleanup() {
  local rc=$?
  set +e
  [ -n "$kefu_pid" ] && kill -KILL "$kefu_pid" 2>/dev/null && wait "$kefu_pid" 2>/dev/null
  [ -n "$listener_pid" ] && kill "$listener_pid" 2>/dev/null && wait "$listener_pid" 2>/dev/null
  if dpkg-query -W -f='${Status}' kefu 2>/dev/null | grep -qv 'not-installed'; then
    echo "cleanup: purging kefu"
    dpkg -P kefu >/dev/null 2>&1
  fi
  rm -rf /etc/kefu /var/lib/kefu
  if ! $user_existed && getent passwd kefu >/dev/null; then
    userdel kefu 2>/dev/null
    getent group kefu >/dev/null && groupdel kefu 2>/dev/null
  fi
  if [ "$rc" -ne 0 ] && [ -s "$work/kefu.log" ]; then
    echo "--- kefu's output (last 40 lines):" >&2
    tail -n 40 "$work/kefu.log" >&2
  fi
  rm -rf "$work" "$rundir"
  [ "$rc" -eq 0 ] || echo "test-install.sh: FAILED (exit $rc); the machine was cleaned up" >&2
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

unit=/usr/lib/systemd/system/kefu.service
config=/etc/kefu/kefu.toml
as_kefu() { (cd / && runuser -u kefu -- "$@"); }
free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# ---------------------------------------------------------------------------------------
step "1. building the packages (scripts/package-server.sh)"
bash scripts/package-server.sh --out "$work/new" | tee "$work/build-new.log"
deb=$(sed -n 's/^deb=//p' "$work/build-new.log")
rpm=$(sed -n 's/^rpm=//p' "$work/build-new.log")
bash scripts/package-server.sh --version 0.0.1 --out "$work/old" --fast | tee "$work/build-old.log"
old_deb=$(sed -n 's/^deb=//p' "$work/build-old.log")
version=$(dpkg-deb -f "$deb" Version)
[ "$(dpkg-deb -f "$old_deb" Version)" = "0.0.1-1" ] || fail "the old package's version is $(dpkg-deb -f "$old_deb" Version), not 0.0.1-1"
dpkg --compare-versions 0.0.1-1 lt "$version" || fail "0.0.1-1 is not older than $version"
ok "$(basename "$deb"): $(stat -c %s "$deb") bytes; $(basename "$rpm"): $(stat -c %s "$rpm") bytes; old: $(basename "$old_deb")"

# ---------------------------------------------------------------------------------------
step "2. static checks of the packages"
mkdir -p "$work/deb-root"
dpkg-deb -x "$deb" "$work/deb-root"
file "$work/deb-root/usr/bin/kefu" | tee "$work/file.txt" | sed 's/^/   /'
grep -q ', stripped' "$work/file.txt" || soft_fail "usr/bin/kefu in the .deb is not stripped"
# rpm --dump: path size mtime digest(sha256) mode owner group ...
rpm_kefu_sha=$(rpm -qp --dump "$rpm" | awk '$1 == "/usr/bin/kefu" {print $4}')
if [ "$rpm_kefu_sha" = "$(sha256sum <"$work/deb-root/usr/bin/kefu" | cut -d' ' -f1)" ]; then
  ok "the .deb and the .rpm carry the same kefu binary ($(stat -c %s "$work/deb-root/usr/bin/kefu") bytes, stripped)"
else
  soft_fail "usr/bin/kefu differs between the .deb and the .rpm"
fi
cmp -s "$work/deb-root$unit" packaging/systemd/kefu.service || soft_fail "the packaged unit is not packaging/systemd/kefu.service"

# Files (not directories) of each package. The .deb's changelog.Debian.gz is Debian's
# packaging changelog (lintian requires it); RPM keeps its changelog in the header.
dpkg-deb -c "$deb" | awk '$1 !~ /^d/ {print $6}' | sed 's#^\./#/#' |
  grep -vx '/usr/share/doc/kefu/changelog.Debian.gz' | sort >"$work/deb-files"
rpm -qlp "$rpm" | sort >"$work/rpm-files"
echo "   rpm -qlp $(basename "$rpm"):"
sed 's/^/     /' "$work/rpm-files"
if diff -u "$work/deb-files" "$work/rpm-files" >"$work/files.diff"; then
  ok "rpm -qlp lists the same $(wc -l <"$work/rpm-files") files as the .deb (besides changelog.Debian.gz)"
else
  sed 's/^/   /' "$work/files.diff"
  soft_fail "the .rpm's files differ from the .deb's (- deb, + rpm)"
fi
rpm -qp --qf '%{NAME} %{VERSION}-%{RELEASE} %{ARCH} %{LICENSE}\n' "$rpm" | sed 's/^/   rpm: /'
rpm -qp --scripts "$rpm" >"$work/rpm-scripts"
if grep -q 'kefu config init /etc/kefu/kefu.toml' "$work/rpm-scripts" &&
  grep -q 'systemctl --no-reload disable --now kefu.service' "$work/rpm-scripts" &&
  grep -q 'try-restart kefu.service' "$work/rpm-scripts"; then
  ok "the RPM's %post, %preun and %postun hold packaging/rpm/*.sh"
else
  sed 's/^/   /' "$work/rpm-scripts"
  soft_fail "the RPM's scriptlets are not packaging/rpm/*.sh (a path cargo-generate-rpm did not find becomes the script text)"
fi

# lintian as root warns that it should not run as root: run it as nobody on a readable copy.
cp "$deb" "$work/lintian.deb"
chmod 0755 "$work"
chmod 0644 "$work/lintian.deb"
(cd / && runuser -u nobody -- lintian --pedantic -I -E "$work/lintian.deb") >"$work/lintian.txt" 2>&1 || true
sed 's/^/   lintian: /' "$work/lintian.txt"
lintian_e=$(grep -c '^E: ' "$work/lintian.txt" || true)
lintian_w=$(grep -c '^W: ' "$work/lintian.txt" || true)
lintian_i=$(grep -c '^[IP]: ' "$work/lintian.txt" || true)
if [ "$lintian_e" -eq 0 ]; then
  ok "lintian: 0 errors, $lintian_w warnings, $lintian_i info/pedantic"
else
  soft_fail "lintian: $lintian_e errors ($lintian_w warnings, $lintian_i info/pedantic)"
fi

# ---------------------------------------------------------------------------------------
step "3. installing the old package ($(basename "$old_deb"))"
dpkg -i "$old_deb" 2>&1 | tee "$work/install-old.log" | sed 's/^/   dpkg: /'
[ "$(dpkg-query -W -f='${Version}' kefu)" = "0.0.1-1" ] || fail "kefu 0.0.1-1 is not installed"
grep -q 'agent add' "$work/install-old.log" || fail "postinst printed no 'kefu agent add' hint"
ok "postinst printed the first step (kefu agent add)"
getent passwd kefu >/dev/null || fail "no kefu user after install"
IFS=: read -r _ _ kefu_uid _ _ kefu_home kefu_shell < <(getent passwd kefu)
[ "$kefu_uid" -lt 1000 ] || fail "kefu is not a system user (uid $kefu_uid)"
case "$kefu_shell" in */nologin | */false) ;; *) fail "the kefu user has a login shell ($kefu_shell)" ;; esac
ok "system user kefu (uid $kefu_uid, home $kefu_home, shell $kefu_shell)"
[ -f "$config" ] || fail "$config was not written"
[ "$(stat -c '%a %U:%G' "$config")" = "640 root:kefu" ] || fail "$config is $(stat -c '%a %U:%G' "$config"), not 640 root:kefu"
[ "$(stat -c '%a %U:%G' /etc/kefu)" = "750 root:kefu" ] || fail "/etc/kefu is $(stat -c '%a %U:%G' /etc/kefu)"
[ "$(stat -c '%a %U:%G' /var/lib/kefu)" = "750 kefu:kefu" ] || fail "/var/lib/kefu is $(stat -c '%a %U:%G' /var/lib/kefu)"
ok "$config 0640 root:kefu, /etc/kefu 0750 root:kefu, /var/lib/kefu 0750 kefu:kefu"
if grep -n 'change-me\|a-long-random-string' "$config" | grep -v '^[0-9]*:[[:space:]]*#'; then
  fail "$config holds the example's placeholder secret"
fi
first_secret=$(sed -n 's/^identity_secret = "\([^"]*\)"/\1/p' "$config" | head -n1)
[[ "$first_secret" =~ ^[0-9a-f]{64}$ ]] || fail "identity_secret is not a fresh 256-bit secret: '$first_secret'"
ok "identity_secret is fresh (64 hex digits), no placeholder left"
as_kefu kefu --config "$config" config check >"$work/config-check.json"
/usr/bin/python3 - "$work/config-check.json" <<'EOF' || fail "kefu config check: unexpected settings (above)"
import json, sys
s = json.load(open(sys.argv[1]))
server = s["server"]
print(f"   kefu config check: server.listen={server['listen']} server.data_dir={server['data_dir']}")
assert server["listen"] == "127.0.0.1:8080", server["listen"]
assert server["data_dir"] == "/var/lib/kefu", server["data_dir"]
EOF
ok "listens on 127.0.0.1:8080 by default, data in /var/lib/kefu (kefu config check as kefu)"
[ -L /etc/systemd/system/multi-user.target.wants/kefu.service ] || fail "kefu.service was not enabled"
ok "kefu.service enabled (multi-user.target.wants); not started: systemd is not PID 1 here"

port=$(free_port)
# As an operator would: edit the [server] listen line (the first `listen =` of the file).
sed -i "0,/^listen = \"127.0.0.1:8080\"\$/s//listen = \"127.0.0.1:$port\"/" "$config"
sed -i 's/^shutdown_grace_secs = 10$/shutdown_grace_secs = 3/' "$config"
grep -q "^listen = \"127.0.0.1:$port\"\$" "$config" || fail "could not move the listen port in $config"
grep -q '^shutdown_grace_secs = 3$' "$config" || fail "could not change shutdown_grace_secs in $config"
ok "edited $config: listen = \"127.0.0.1:$port\" (a free port), shutdown_grace_secs = 3"
password="install-check-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
printf '%s\n' "$password" | as_kefu kefu --config "$config" agent add --username ops-admin --role admin 2>&1 |
  sed 's/^/   kefu agent add: /'
ls /var/lib/kefu/kefu.db >/dev/null || fail "kefu agent add wrote no /var/lib/kefu/kefu.db"
ok "added admin ops-admin as the kefu user (/var/lib/kefu/kefu.db $(stat -c '%U:%G' /var/lib/kefu/kefu.db))"
config_sum=$(sha256sum <"$config")

# ---------------------------------------------------------------------------------------
step "4. upgrading to $(basename "$deb")"
dpkg -i "$deb" 2>&1 | tee "$work/install-new.log" | sed 's/^/   dpkg: /'
[ "$(dpkg-query -W -f='${Version}' kefu)" = "$version" ] || fail "kefu $version is not installed after the upgrade"
! grep -q "wrote $config" "$work/install-new.log" || fail "the upgrade wrote a new $config"
[ "$(sha256sum <"$config")" = "$config_sum" ] || fail "the upgrade changed $config"
[ "$(stat -c '%a %U:%G' "$config")" = "640 root:kefu" ] || fail "the upgrade changed $config's mode/owner"
[ -s /var/lib/kefu/kefu.db ] || fail "the upgrade lost /var/lib/kefu/kefu.db"
ok "kefu $version installed; $config unchanged (port $port, grace 3 s); /var/lib/kefu/kefu.db kept"

# ---------------------------------------------------------------------------------------
step "5. running the installed kefu as $unit would"
sed -n 's/^\(ExecStart\|User\|Group\|Environment\|EnvironmentFile\|WorkingDirectory\)=/   unit: &/p' "$unit"
notify="$rundir/notify"
/usr/bin/python3 - "$notify" "$work/notify.log" <<'EOF' &
import os, socket, sys
path, log = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o777)  # kefu (not root) sends to it, as to systemd's /run/systemd/notify
with open(log, "a", buffering=1) as out:
    while True:
        msg = s.recv(4096).decode(errors="replace")
        out.write(" ".join(msg.split("\n")) + "\n")
EOF
listener_pid=$!
for _ in $(seq 50); do [ -S "$notify" ] && break; sleep 0.1; done
[ -S "$notify" ] || fail "the notify listener did not start"
/usr/bin/python3 packaging/tools/unit-exec.py --notify-socket "$notify" --watchdog-usec 2000000 \
  "$unit" >"$work/kefu.log" 2>&1 &
kefu_pid=$!
for _ in $(seq 600); do
  grep -q 'READY=1' "$work/notify.log" 2>/dev/null && break
  kill -0 "$kefu_pid" 2>/dev/null || { wait "$kefu_pid" || true; fail "kefu exited before READY=1"; }
  sleep 0.1
done
grep -q 'READY=1' "$work/notify.log" || fail "no READY=1 on the notify socket within 60 s"
sed 's/^/   kefu: /' "$work/kefu.log" | grep 'unit-exec\|listening' || true
ok "READY=1 on NOTIFY_SOCKET: $(grep -m1 'READY=1' "$work/notify.log")"
runs_as=$(ps -o user= -p "$kefu_pid" | tr -d ' ')
[ "$runs_as" = "kefu" ] || fail "kefu runs as '$runs_as', not kefu"
ok "pid $kefu_pid runs as user kefu, $(grep -m1 '^Max open files' "/proc/$kefu_pid/limits" | awk '{print "open files " $4 "/" $5}'), NoNewPrivs $(awk '/^NoNewPrivs/ {print $2}' "/proc/$kefu_pid/status"), Seccomp $(awk '/^Seccomp:/ {print $2}' "/proc/$kefu_pid/status")"
code=$(curl -s -o "$work/healthz" -w '%{http_code}' "http://127.0.0.1:$port/healthz")
[ "$code" = 200 ] || fail "GET /healthz answered $code"
ok "GET http://127.0.0.1:$port/healthz: 200 $(head -c 80 "$work/healthz")"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")
[ "$code" = 200 ] || fail "GET /readyz answered $code"
ok "GET /readyz: 200 (the database answers)"
code=$(curl -s -o "$work/login.json" -w '%{http_code}' -H 'content-type: application/json' \
  -d "{\"username\":\"ops-admin\",\"password\":\"$password\"}" "http://127.0.0.1:$port/api/v1/auth/login")
[ "$code" = 200 ] && grep -q '"token"' "$work/login.json" || fail "the admin added before the upgrade cannot sign in: $code $(cat "$work/login.json")"
ok "ops-admin (added under 0.0.1-1) signs in after the upgrade: POST /api/v1/auth/login 200"
# kefu pings every WATCHDOG_USEC/2 = 1 s: two pings show they keep coming.
for _ in $(seq 50); do
  [ "$(grep -c 'WATCHDOG=1' "$work/notify.log")" -ge 2 ] && break
  sleep 0.1
done
[ "$(grep -c 'WATCHDOG=1' "$work/notify.log")" -ge 2 ] || fail "fewer than 2 WATCHDOG=1 within 5 s (WATCHDOG_USEC=2 s)"
ok "WATCHDOG=1 pings keep coming (WATCHDOG_USEC=2000000): $(grep -c 'WATCHDOG=1' "$work/notify.log") so far"
# ExecReload= sends SIGHUP (`systemctl reload kefu`): kefu must keep serving.
kill -HUP "$kefu_pid"
sleep 0.5
kill -0 "$kefu_pid" 2>/dev/null || fail "SIGHUP (ExecReload=, systemctl reload) stopped kefu"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/healthz")
[ "$code" = 200 ] || fail "GET /healthz answered $code after SIGHUP"
ok "SIGHUP (ExecReload=): kefu keeps serving, /healthz 200"
kill -TERM "$kefu_pid"
status=0
wait "$kefu_pid" || status=$?
kefu_pid=""
[ "$status" -eq 0 ] || fail "kefu exited with status $status on SIGTERM"
grep -q 'STOPPING=1' "$work/notify.log" || fail "no STOPPING=1 on SIGTERM"
ok "SIGTERM: STOPPING=1, exit status 0"
echo "   notify socket received:"
sort "$work/notify.log" | uniq -c | sed 's/^/     /'
kill "$listener_pid" 2>/dev/null || true
wait "$listener_pid" 2>/dev/null || true
listener_pid=""
if [ -n "$(find /var/lib/kefu ! -user kefu -print -quit)" ]; then
  fail "files in /var/lib/kefu not owned by kefu: $(find /var/lib/kefu ! -user kefu)"
fi
ok "everything in /var/lib/kefu belongs to kefu"
status=0
as_kefu kefu doctor --config "$config" >"$work/doctor.txt" 2>&1 || status=$?
sed 's/^/   kefu doctor: /' "$work/doctor.txt"
[ "$status" -eq 0 ] || fail "kefu doctor --config $config (as kefu) exited with $status"
ok "kefu doctor as the kefu user: exit 0"

# ---------------------------------------------------------------------------------------
step "6. systemd-analyze"
if systemd-analyze verify "$unit" >"$work/verify.txt" 2>&1; then
  sed 's/^/   verify: /' "$work/verify.txt"
  ok "systemd-analyze verify $unit: no complaints"
else
  sed 's/^/   verify: /' "$work/verify.txt"
  soft_fail "systemd-analyze verify $unit"
fi
systemd-analyze security --offline=true "$unit" >"$work/security.txt" 2>&1 || true
grep -E '^[[:space:]]*✗' "$work/security.txt" | sed 's/^/   security: /' || true
exposure=$(grep -o 'Overall exposure level for kefu.service: .*' "$work/security.txt" || true)
[ -n "$exposure" ] || { cat "$work/security.txt"; soft_fail "systemd-analyze security printed no exposure level"; }
ok "systemd-analyze security --offline=true: ${exposure#Overall exposure level for }"

# ---------------------------------------------------------------------------------------
step "7. dpkg -r (remove) keeps configuration and data; dpkg -P (purge) deletes them"
dpkg -r kefu 2>&1 | sed 's/^/   dpkg: /'
dpkg-query -W -f='${Status}\n' kefu | grep -q 'config-files' || fail "kefu is not in state config-files after dpkg -r"
[ ! -e /usr/bin/kefu ] && [ ! -e "$unit" ] || fail "dpkg -r left /usr/bin/kefu or the unit"
[ "$(sha256sum <"$config")" = "$config_sum" ] || fail "dpkg -r changed or removed $config"
[ -s /var/lib/kefu/kefu.db ] || fail "dpkg -r removed /var/lib/kefu/kefu.db"
ok "removed: binary and unit gone; $config and /var/lib/kefu/kefu.db kept"
dpkg -P kefu 2>&1 | sed 's/^/   dpkg: /'
! dpkg-query -W -f='${Status}\n' kefu 2>/dev/null | grep -qv 'not-installed' || fail "kefu still known to dpkg after purge"
[ ! -e /etc/kefu ] || fail "dpkg -P left /etc/kefu"
[ ! -e /var/lib/kefu ] || fail "dpkg -P left /var/lib/kefu"
[ ! -e /etc/systemd/system/multi-user.target.wants/kefu.service ] || fail "dpkg -P left the unit enabled"
ok "purged: /etc/kefu, /var/lib/kefu and the enablement symlink gone (the kefu user stays, as Debian does)"

# ---------------------------------------------------------------------------------------
step "8. a fresh install of $(basename "$deb") writes new secrets"
dpkg -i "$deb" 2>&1 | sed 's/^/   dpkg: /'
second_secret=$(sed -n 's/^identity_secret = "\([^"]*\)"/\1/p' "$config" | head -n1)
[[ "$second_secret" =~ ^[0-9a-f]{64}$ ]] || fail "identity_secret after a fresh install: '$second_secret'"
[ "$second_secret" != "$first_secret" ] || fail "two installs wrote the same identity_secret"
grep -q '^listen = "127.0.0.1:8080"$' "$config" || fail "a fresh install does not listen on 127.0.0.1:8080"
ok "new identity_secret (differs from the first install's), listen 127.0.0.1:8080"
dpkg -P kefu >/dev/null
[ ! -e /etc/kefu ] && [ ! -e /var/lib/kefu ] || fail "dpkg -P left /etc/kefu or /var/lib/kefu"
ok "purged again"

# ---------------------------------------------------------------------------------------
step "summary ($(($(date +%s) - started)) s)"
echo "   packages: $(basename "$deb") $(stat -c %s "$deb") bytes, $(basename "$rpm") $(stat -c %s "$rpm") bytes"
echo "   lintian: $lintian_e errors, $lintian_w warnings, $lintian_i info/pedantic"
echo "   systemd-analyze security: ${exposure#Overall exposure level for }"
if ((${#soft_failures[@]})); then
  printf 'test-install.sh: FAIL: %s\n' "${soft_failures[@]}" >&2
  exit 1
fi
echo "test-install.sh: all checks passed"
