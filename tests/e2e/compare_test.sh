#!/usr/bin/env bash
# The regression diff end to end (--compare-report, --compare-html): intercept --payload in the
# lab, tcpcopy replaying the lab-made fixtures http_keepalive.pcap and redis_pipeline.pcap (both
# directions captured from the lab's nginx and redis-server) against the same servers in the
# target namespace.
#   1. the target is identical to the online server: every request compared, 0 differences;
#   2. the target is changed (/hello.txt serves another file, nginx answers 500 under
#      /api/session/, redis has "counter" pre-set): exactly those requests are reported, with
#      samples holding both answers; the HTML page has its sections and the same counts.
# Usage: compare_test.sh BUILD_DIR   (root)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=$(realpath "${1:-$here/../../build}")
fixtures=$(realpath "$here/../fixtures")
# shellcheck source=lib/lab.sh
source "$here/lib/lab.sh"
# shellcheck source=lib/checks.sh
source "$here/lib/checks.sh"

tcpcopy_bin=$(lab_daemon "$build" tcpcopy)
intercept_bin=$(lab_daemon "$build" intercept)
lab_require_cmd python3 curl redis-cli

lab_init compare
lab_up
lab_start_nginx "$LAB_NS_TARGET" "$LAB_TARGET_IP" 80
lab_start_redis "$LAB_NS_TARGET" "$LAB_TARGET_IP" 6379

lab_bg intercept "$LAB_NS_ASSIST" "$intercept_bin" -i "$LAB_IF_ASSIST_TARGET" \
  -F "tcp and (src port 80 or src port 6379)" -p "$LAB_TUNNEL_PORT" -b "$LAB_ASSIST_TUNNEL_IP" \
  --allow "$LAB_TUNNEL_ALLOW" --payload 4096
lab_wait_port "$LAB_NS_ASSIST" "$LAB_ASSIST_TUNNEL_IP" "$LAB_TUNNEL_PORT" 15
run_tcpcopy_args=(-x "80-$LAB_TARGET_IP:80,6379-$LAB_TARGET_IP:6379")

e2e_begin compare_test

redis_target() { ip netns exec "$LAB_NS_TARGET" redis-cli -h "$LAB_TARGET_IP" -p 6379 "$@"; }

# replay NAME FIXTURE ARGS... : one replay with both reports, $LAB_DIR/NAME.cmp.json and .html.
replay() {
  local name=$1 fixture=$2
  shift 2
  run_tcpcopy "$name" -i "$fixtures/$fixture.pcap" --compare-report "$LAB_DIR/$name.cmp.json" \
    --compare-html "$LAB_DIR/$name.html" "$@"
  if ((tc_rc != 0)); then
    fail "$name: tcpcopy exited $tc_rc"
    tail -20 "$LAB_DIR/tcpcopy-$name.log" >&2
  fi
}

# check NAME WANT_COMPARED WANT_DIFFER 'ENDPOINT=DIFFER:CATEGORY:ONLINE_KIND:TARGET_KIND:TARGET_TEXT' ...
# The comparison report of replay NAME: every request compared, the differences exactly at the
# endpoints given (each with that many mismatches in that category, and a sample whose answers
# are of those kinds, the target's showing TARGET_TEXT); the --report JSON, the summary line
# and the HTML page agree with it.
check() {
  local name=$1 compared=$2 differ=$3 out
  shift 3
  if out=$(python3 - "$LAB_DIR/$name.cmp.json" "$LAB_DIR/$name.json" "$LAB_DIR/$name.html" \
    "$compared" "$differ" "$@" <<'PY'
import json, sys
from html.parser import HTMLParser

cmp_path, report_path, html_path, want_compared, want_differ, *want = sys.argv[1:]
want_compared, want_differ = int(want_compared), int(want_differ)
doc = json.load(open(cmp_path))
problems = []
s = doc["summary"]
if doc["schema"] != "tcpcopy-compare/1":
    problems.append("schema %r" % doc["schema"])
if (s["exchanges"], s["compared"], s["differ"]) != (want_compared, want_compared, want_differ):
    problems.append("exchanges %d, compared %d, differ %d (want %d, %d, %d); not compared: %s" % (
        s["exchanges"], s["compared"], s["differ"], want_compared, want_compared, want_differ,
        {k: v for k, v in s["not_compared"].items() if v}))
expected = {}
for item in want:
    endpoint, rest = item.split("=", 1)
    count, category, online_kind, target_kind, text = rest.split(":", 4)
    expected[endpoint] = (int(count), category, online_kind, target_kind, text)
# Both latencies measured: online from the capture's timestamps, target from the replay's clock.
for side in ("online", "target"):
    lat = doc["latency"][side]
    if lat["count"] == 0 or not lat["p50_us"] > 0:
        problems.append("%s latency: %d timed, p50 %s us" % (side, lat["count"], lat["p50_us"]))
for e in doc["endpoints"]:
    name = e["endpoint"]
    if name not in expected:
        if e["differ"]:
            problems.append("endpoint %s: %d differ, none expected" % (name, e["differ"]))
        continue
    count, category, online_kind, target_kind, text = expected.pop(name)
    if e["differ"] != count or e["differences"].get(category) != count:
        problems.append("endpoint %s: differ %d, %s %s (want %d)" % (
            name, e["differ"], category, e["differences"].get(category), count))
    if not e["samples"]:
        problems.append("endpoint %s: no sample" % name)
    for sample in e["samples"]:
        o, t = sample["online"], sample["target"]
        if (o["kind"], t["kind"]) != (online_kind, target_kind) or text not in t["text"]:
            problems.append("endpoint %s: sample %s/%s %r (want %s/%s with %r)" % (
                name, o["kind"], t["kind"], t["text"][:80], online_kind, target_kind, text))
        if not o["present"] or not t["present"] or not sample["differences"]:
            problems.append("endpoint %s: a sample lacks an answer or its differences" % name)
for name in expected:
    problems.append("endpoint %s not reported (endpoints: %s)" % (
        name, [e["endpoint"] for e in doc["endpoints"]]))

# The --report JSON (the registry) counts the same.
r = json.load(open(report_path))["responses"]
if (r["compared"], r["mismatched"]) != (want_compared, want_differ):
    problems.append("--report responses: compared %s, mismatched %s" % (r["compared"], r["mismatched"]))

# The HTML page: its sections, the summary's counts and one article per endpoint that differs.
class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.sections, self.fields, self.articles = [], {}, []
        self.field = None
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section":
            self.sections.append(a.get("id"))
        if "data-field" in a:
            self.field = a["data-field"]
        if tag == "article" and "data-endpoint" in a:
            self.articles.append((a["data-endpoint"], int(a["data-differ"]), int(a["data-samples"])))
    def handle_data(self, data):
        if self.field and data.strip():
            self.fields[self.field] = data.strip()
            self.field = None
page = Page()
page.feed(open(html_path).read())
if page.sections != ["summary", "mismatches", "status", "latency", "not-compared"]:
    problems.append("html sections %s" % page.sections)
for key, value in (("compared", want_compared), ("differ", want_differ)):
    if page.fields.get(key, "").replace(",", "") != str(value):
        problems.append("html %s %r (want %d)" % (key, page.fields.get(key), value))
if sum(d for _, d, _ in page.articles) != want_differ or len(page.articles) != len(want):
    problems.append("html articles %s" % page.articles)
if problems:
    print("; ".join(problems))
    sys.exit(1)
print("%d compared, %d differ%s" % (want_compared, want_differ,
      "".join(", %s %d" % (e["endpoint"], e["differ"]) for e in doc["endpoints"] if e["differ"])))
PY
  ); then
    ok "$name: $out"
  else
    fail "$name: $out"
  fi
  if grep -q "responses: $compared compared, $differ differ" "$LAB_DIR/tcpcopy-$name.log"; then
    ok "$name: the summary says responses: $compared compared, $differ differ"
  else
    fail "$name: summary line: $(grep 'responses:' "$LAB_DIR/tcpcopy-$name.log" || echo none)"
  fi
}

http_requests=$(wc -l <"$fixtures/http_keepalive.requests.txt")
# redis-benchmark's two CONFIG GET are compared too; MONITOR (the golden file) does not show them.
redis_requests=$(($(wc -l <"$fixtures/redis_pipeline.requests.txt") + 2))

# --- 0. flags --------------------------------------------------------------------------------------
# bad PATTERN ARGS... : tcpcopy refuses ARGS with exit 2 and a line matching PATTERN.
bad() {
  local pattern=$1 out rc=0
  shift
  out=$("$tcpcopy_bin" "$@" 2>&1) || rc=$?
  if ((rc == 2)) && grep -q -- "$pattern" <<<"$out"; then
    ok "refused $*: $out"
  else
    fail "$*: exit $rc, output: $out"
  fi
}
pcap=$fixtures/http_keepalive.pcap
bad "response-payload must not be 0" --compare-report x.json --response-payload 0 -x 80-198.18.1.2:80 -s 198.18.3.2 -i "$pcap"
bad "needs the responses: give intercept" --compare-html x.html -x 80-198.18.1.2:80 -L -i "$pcap"
bad "a live capture takes only" --compare-report x.json -x 80-198.18.1.2:80 -s 198.18.3.2 -i lo
bad "compare-protocol expects auto" --compare-protocol ftp -x 80-198.18.1.2:80 -s 198.18.3.2 -i "$pcap"
bad "compare-body expects hash" --compare-body crc -x 80-198.18.1.2:80 -s 198.18.3.2 -i "$pcap"

# --- 1. an identical target ------------------------------------------------------------------------
replay http_same http_keepalive
check http_same "$http_requests" 0
replay redis_same redis_pipeline --compare-protocol 80=http,6379=redis
check redis_same "$redis_requests" 0
if [[ $(report_value http_same response_payloads.received) != 0 ]]; then
  ok "http_same: --compare-report asked for payloads ($(report_value http_same response_payloads.bytes) bytes)"
else
  fail "http_same: no payload received"
fi

# --- 2. a changed target ---------------------------------------------------------------------------
printf 'another file altogether\n' >"$LAB_NGINX_DIR/html/hello.txt"
# A 500 with a body of its own: nginx keeps the connection open after it (a bare "return 500" goes
# through its error page, which closes keep-alive connections, and the rest of the connection's
# requests would then not be replayed at all).
sed -i 's|        location /api/ {|        location /api/session/ { return 500 "broken\\n"; }\n&|' "$LAB_NGINX_DIR/nginx.conf"
old_workers=$(pgrep -P "$LAB_NGINX_PID" || true)
kill -HUP "$LAB_NGINX_PID"
# The reload is done when the new workers answer 500 there and every old worker has exited: until
# then an old worker may still accept a connection and answer it with the old configuration.
for ((i = 0; ; i++)); do
  code=$(ip netns exec "$LAB_NS_TARGET" curl -s -o /dev/null -w '%{http_code}' "http://$LAB_TARGET_IP/api/session/9") || true
  alive=0
  for pid in $old_workers; do
    lab_alive "$pid" && alive=1
  done
  [[ $code == 500 ]] && ((alive == 0)) && break
  ((i < 300)) || lab_die "nginx did not reload (answers $code, old workers alive: $alive)"
  sleep 0.1
done
redis_target FLUSHALL >/dev/null
redis_target SET counter 1000 >/dev/null

replay http_changed http_keepalive
check http_changed "$http_requests" 12 \
  "GET /hello.txt=6:body:200:200:another file altogether" \
  "GET /api/session/{n}=6:status:200:500:broken"
replay redis_changed redis_pipeline --compare-protocol redis
check redis_changed "$redis_requests" 40 "INCRBY=40:value:integer:integer::10"

e2e_end
