#!/usr/bin/env bash
# Checks the operations files: Prometheus alerts (promtool check rules, and their unit tests
# with promtool test rules), the scrape example (promtool check config), the Grafana
# dashboard (JSON, layout, and every PromQL expression through promtool), every YAML file
# parses, docker-compose.yml mounts only files that exist and names only services and
# volumes it defines, the Dockerfile's COPY sources exist and are not in .dockerignore, and
# ops/docker/kefu.toml passes `kefu config check` (when a built kefu is at hand; else it
# parses as TOML).
#
# No container engine runs here: nothing is built or started. `docker compose config` and
# hadolint run too where they are installed.
#
# Needs promtool (Debian package `prometheus`, installed if missing) and Python 3 with
# PyYAML (the python3 on PATH if it has it, else Debian's python3-yaml, installed if missing).
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

apt_install() {
  local sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "$@" >&2
}

if ! command -v promtool >/dev/null; then
  echo "check-ops: installing promtool (Debian package prometheus)"
  apt_install prometheus || { echo "check-ops: FAILED: no promtool"; exit 1; }
fi
python=""
for candidate in python3 /usr/bin/python3; do
  if command -v "$candidate" >/dev/null && "$candidate" -c 'import yaml' 2>/dev/null; then
    python="$(command -v "$candidate")"
    break
  fi
done
if [ -z "$python" ]; then
  echo "check-ops: installing PyYAML (Debian package python3-yaml)"
  apt_install python3-yaml && python=/usr/bin/python3
fi
[ -n "$python" ] || { echo "check-ops: FAILED: no Python with PyYAML"; exit 1; }
echo "check-ops: $(promtool --version 2>&1 | head -n 1); $python with PyYAML $("$python" -c 'import yaml; print(yaml.__version__)')"

passed=0
failed=0
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# check NAME COMMAND...: runs one check, prints its output on failure.
check() {
  local name="$1"
  shift
  if "$@" >"$work/out" 2>&1; then
    echo "check-ops: ok      $name"
    passed=$((passed + 1))
  else
    echo "check-ops: FAILED  $name"
    sed 's/^/    /' "$work/out"
    failed=$((failed + 1))
  fi
}

check "promtool check rules ops/prometheus/kefu.rules.yml" \
  promtool check rules ops/prometheus/kefu.rules.yml
check "promtool test rules ops/prometheus/kefu.rules.test.yml (every alert fires on bad data, stays quiet on good)" \
  promtool test rules ops/prometheus/kefu.rules.test.yml
check "promtool check config ops/prometheus/prometheus.yml" \
  promtool check config ops/prometheus/prometheus.yml

# The structural checks, in Python. Writes the dashboard's expressions as recording rules
# to $work/dashboard.rules.yml for promtool.
check "YAML files parse; compose mounts, services and volumes; Dockerfile COPY sources; Grafana dashboard and provisioning" \
  "$python" - "$work" <<'PY'
import fnmatch, glob, json, os, re, sys

import yaml

work = sys.argv[1]
errors = []
def fail(msg):
    errors.append(msg)

# Every YAML file of ours parses.
yamls = sorted(set(glob.glob("ops/**/*.yml", recursive=True) + glob.glob("ops/**/*.yaml", recursive=True)
                   + ["docker-compose.yml"]))
docs = {}
for path in yamls:
    try:
        with open(path) as f:
            docs[path] = yaml.safe_load(f)
        print(f"parsed {path}")
    except Exception as e:
        fail(f"{path}: does not parse: {e}")

# docker-compose.yml: the services it promises, mounts that exist, volumes it declares.
compose = docs.get("docker-compose.yml") or {}
services = compose.get("services") or {}
for want in ["kefu-1", "kefu-2", "postgres", "nats", "prometheus", "grafana"]:
    if want not in services:
        fail(f"docker-compose.yml: no service {want}")
declared_volumes = set((compose.get("volumes") or {}).keys())
mounted_files = {}
for name, svc in services.items():
    svc = svc or {}
    build = svc.get("build")
    if build is not None:
        ctx = build if isinstance(build, str) else build.get("context", ".")
        dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
        if not os.path.isfile(os.path.join(ctx, dockerfile)):
            fail(f"docker-compose.yml: {name}: build context {ctx} has no {dockerfile}")
    for dep in (svc.get("depends_on") or []):
        if dep not in services:
            fail(f"docker-compose.yml: {name} depends on unknown service {dep}")
    for v in svc.get("volumes") or []:
        if isinstance(v, dict):
            source, target, kind = v.get("source", ""), v.get("target", ""), v.get("type", "volume")
        else:
            parts = v.split(":")
            source, target = parts[0], parts[1] if len(parts) > 1 else ""
            kind = "bind" if source.startswith((".", "/", "~")) else "volume"
        if kind == "bind":
            if not os.path.exists(source):
                fail(f"docker-compose.yml: {name} mounts {source}, which does not exist")
            else:
                mounted_files.setdefault(name, {})[target] = source
                print(f"{name}: mounts {source} -> {target} (exists)")
        elif source and source not in declared_volumes:
            fail(f"docker-compose.yml: {name} uses volume {source}, not declared under volumes:")

# Prometheus in compose reads the scrape config and the rules it names, from where it mounts them.
prom = services.get("prometheus") or {}
prom_mounts = mounted_files.get("prometheus", {})
config_flag = next((c.split("=", 1)[1] for c in prom.get("command", []) if c.startswith("--config.file=")),
                   "/etc/prometheus/prometheus.yml")
if config_flag not in prom_mounts:
    fail(f"docker-compose.yml: prometheus reads {config_flag}, which it does not mount")
else:
    scrape = docs.get(prom_mounts[config_flag]) or {}
    for rule_file in scrape.get("rule_files", []):
        in_container = os.path.join(os.path.dirname(config_flag), rule_file)
        if in_container not in prom_mounts:
            fail(f"prometheus.yml names rule file {rule_file}; compose does not mount it at {in_container}")
    # Scrape targets are compose services on kefu's [metrics] port.
    metrics_port = None
    kefu_toml = "ops/docker/kefu.toml"
    try:
        import tomllib
        with open(kefu_toml, "rb") as f:
            listen = tomllib.load(f).get("metrics", {}).get("listen", "")
        metrics_port = listen.rsplit(":", 1)[-1] if listen else None
    except Exception as e:
        fail(f"{kefu_toml}: {e}")
    for job in scrape.get("scrape_configs", []):
        if job.get("job_name") != "kefu":
            continue
        for sc in job.get("static_configs", []):
            for t in sc.get("targets", []):
                host, _, port = t.partition(":")
                if host not in services:
                    fail(f"prometheus.yml: target {t} is not a compose service")
                if metrics_port and port != metrics_port:
                    fail(f"prometheus.yml: target {t}: kefu serves /metrics on port {metrics_port}")

# Grafana: provisioning points at the mounted dashboard and at the compose Prometheus.
graf_mounts = mounted_files.get("grafana", {})
for target, source in graf_mounts.items():
    if source.endswith("dashboards") and os.path.isdir(source):
        for f in glob.glob(os.path.join(source, "*.yml")):
            for p in (docs.get(f) or {}).get("providers", []):
                path = p.get("options", {}).get("path")
                if not any(t.startswith(path.rstrip("/") + "/") for t in graf_mounts):
                    fail(f"{f}: provider reads {path}; compose mounts no dashboard there")
    if source.endswith("datasources") and os.path.isdir(source):
        for f in glob.glob(os.path.join(source, "*.yml")):
            for ds in (docs.get(f) or {}).get("datasources", []):
                host = re.sub(r"^\w+://", "", ds.get("url", "")).split(":")[0].split("/")[0]
                if host not in services:
                    fail(f"{f}: data source url {ds.get('url')} is not a compose service")

# The dashboard: JSON, unique ids, a 24-column grid without overlaps, every panel on the
# ${datasource} variable with a PromQL expression.
dash_path = "ops/grafana/kefu.json"
try:
    with open(dash_path) as f:
        dash = json.load(f)
    print(f"parsed {dash_path}: {len(dash['panels'])} panels")
except Exception as e:
    fail(f"{dash_path}: {e}")
    dash = {"panels": []}
ids, cells, exprs = set(), set(), []
for p in dash["panels"]:
    if p["id"] in ids:
        fail(f"{dash_path}: panel id {p['id']} twice")
    ids.add(p["id"])
    g = p["gridPos"]
    if g["x"] + g["w"] > 24:
        fail(f"{dash_path}: panel {p['title']!r} is wider than the grid")
    for x in range(g["x"], g["x"] + g["w"]):
        for y in range(g["y"], g["y"] + g["h"]):
            if (x, y) in cells:
                fail(f"{dash_path}: panel {p['title']!r} overlaps another at {x},{y}")
                break
            cells.add((x, y))
    if p["type"] == "row":
        continue
    if p.get("datasource", {}).get("uid") != "${datasource}":
        fail(f"{dash_path}: panel {p['title']!r} does not use the $datasource variable")
    if not p.get("targets"):
        fail(f"{dash_path}: panel {p['title']!r} has no query")
    for t in p.get("targets", []):
        exprs.append((p["title"], t["refId"], t["expr"]))
for v in dash.get("templating", {}).get("list", []):
    if v.get("type") == "query":
        exprs.append((f"variable {v['name']}", "q", re.sub(r"^label_values\((.*), *\w+\)$", r"\1", v["definition"])))
# Grafana's variables become values promtool accepts.
subst = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h", "$instance": ".*", "$job": ".*"}
rules = []
for i, (title, ref, expr) in enumerate(exprs):
    for k, v in subst.items():
        expr = expr.replace(k, v)
    if "$" in expr:
        fail(f"{dash_path}: panel {title!r} uses a variable this check does not know: {expr}")
    rules.append({"record": f"dashboard:expr_{i}", "expr": expr, "labels": {"panel": f"{title} {ref}"}})
with open(os.path.join(work, "dashboard.rules.yml"), "w") as f:
    yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, f, allow_unicode=True)
print(f"{dash_path}: {len(rules)} expressions for promtool")

# The Dockerfile: several stages, a non-root user, a health check on /healthz, and COPY
# sources that exist in the build context and are not ignored by .dockerignore.
with open("Dockerfile") as f:
    lines = f.read().replace("\\\n", " ").splitlines()
instructions = [l.strip() for l in lines if l.strip() and not l.strip().startswith("#")]
stages = [l for l in instructions if l.upper().startswith("FROM ")]
if len(stages) < 2:
    fail("Dockerfile: not multi-stage")
users = [l.split()[1] for l in instructions if l.upper().startswith("USER ")]
if not users or users[-1] in ("root", "0"):
    fail("Dockerfile: the final stage does not run as a non-root USER")
if not any(l.upper().startswith("HEALTHCHECK ") and "/healthz" in l for l in instructions):
    fail("Dockerfile: no HEALTHCHECK on /healthz")
ignore = []
if os.path.exists(".dockerignore"):
    ignore = [l.strip() for l in open(".dockerignore") if l.strip() and not l.startswith("#")]
def ignored(path):
    path = os.path.normpath(path)
    parts = path.split("/")
    hit = False
    for pat in ignore:
        neg = pat.startswith("!")
        pat = pat.lstrip("!").rstrip("/")
        pat = pat[2:] if pat.startswith("**/") else pat
        for i in range(len(parts)):
            for j in range(i + 1, len(parts) + 1):
                sub = "/".join(parts[i:j])
                anchored = i == 0
                if fnmatch.fnmatch(sub, pat) and (anchored or "/" not in pat):
                    hit = not neg
    return hit
copies = 0
for l in instructions:
    if not l.upper().startswith(("COPY ", "ADD ")):
        continue
    args = l.split(None, 1)[1]
    if args.startswith("["):
        words = json.loads(args)
    else:
        words = args.split()
    if any(w.startswith("--from=") for w in words):
        continue
    words = [w for w in words if not w.startswith("--")]
    for src in words[:-1]:
        copies += 1
        matches = glob.glob(src) if src != "." else ["."]
        if not matches:
            fail(f"Dockerfile: COPY source {src} does not exist")
        elif src != "." and all(ignored(m) for m in matches):
            fail(f"Dockerfile: COPY source {src} is excluded by .dockerignore")
        else:
            print(f"Dockerfile: COPY {src} (exists)")
# What `COPY . .` must bring for `cargo build -p kefu-server`: the workspace members.
import tomllib
with open("Cargo.toml", "rb") as f:
    members = tomllib.load(f)["workspace"]["members"]
for m in members + ["Cargo.lock", "server/kefu.example.toml"]:
    if not os.path.exists(m) or ignored(m):
        fail(f"Dockerfile: {m} is needed in the build context but is missing or ignored")

for e in errors:
    print("ERROR:", e)
sys.exit(1 if errors else 0)
PY

check "promtool check rules on the dashboard's PromQL (as recording rules)" \
  promtool check rules "$work/dashboard.rules.yml"

# ops/docker/kefu.toml as the compose file runs it (no connection is made).
kefu_bin=""
for b in "$CARGO_TARGET_DIR/release/kefu" "$CARGO_TARGET_DIR/debug/kefu"; do
  [ -x "$b" ] && { kefu_bin="$b"; break; }
done
if [ -n "$kefu_bin" ]; then
  check "kefu config check on ops/docker/kefu.toml ($kefu_bin)" \
    env -i PATH="$PATH" KEFU_CLUSTER__NODE=kefu-1 \
    KEFU_STORE__URL=postgres://kefu:kefu-change-me@postgres:5432/kefu \
    "$kefu_bin" --config ops/docker/kefu.toml config check
else
  check "ops/docker/kefu.toml parses as TOML (no built kefu for config check)" \
    "$python" -c 'import sys, tomllib; tomllib.load(open(sys.argv[1], "rb"))' ops/docker/kefu.toml
fi

if docker compose version >/dev/null 2>&1; then
  check "docker compose config" docker compose config -q
else
  echo "check-ops: skipped docker compose config (no compose plugin; no container engine here)"
fi
if command -v hadolint >/dev/null; then
  check "hadolint Dockerfile" hadolint Dockerfile
else
  echo "check-ops: skipped hadolint (not installed)"
fi

echo "check-ops: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
