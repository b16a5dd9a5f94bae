#!/usr/bin/env bash
# Event ingest: POST /v1/events in batches of 10 at fixed concurrency, against a
# release build, with every acknowledged batch durable (group commit, one fsync per
# group). Reports events/s, latency percentiles and non-2xx (must be 0).
#
#   benches/events_load.sh [connections=32] [seconds=30] [data-dir=target/bench-data/events]
#
# The data directory gets the demo catalog (20k products) when it has no index; a
# fresh shopper store is used for every run. Needs wrk (apt-get install -y wrk).
set -euo pipefail
cd "$(dirname "$0")/.."
connections=${1:-32}
seconds=${2:-30}
data=${3:-target/bench-data/events}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }
[ -x target/release/clerk ] || cargo build --release --quiet
mkdir -p "$data"
rm -f "$data/shoppers.redb"

log=$(mktemp)
script=$(mktemp --suffix=.lua)
./target/release/clerk serve --addr 127.0.0.1:0 --data-dir "$data" 2>"$log" &
server=$!
trap 'kill $server 2>/dev/null || true; rm -f "$log" "$script"' EXIT
addr=""
for _ in $(seq 1 1200); do
  addr=$(grep -o 'http://[0-9.:]*' "$log" | head -1 || true)
  [ -n "$addr" ] && break
  sleep 0.1
done
[ -n "$addr" ] || { cat "$log"; echo "server did not start" >&2; exit 1; }

# 100 real product ids, embedded in the wrk script.
ids=$(curl -s "$addr/v1/search?q=&per_page=100" | python3 -c '
import json, sys
print(",".join(json.dumps(h["id"]) for h in json.load(sys.stdin)["hits"]))')
cat >"$script" <<LUA
local ids = { $ids }
local kinds = { "view", "view", "view", "click", "add_to_cart", "purchase", "view", "view", "view", "view" }
local n = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  n = n + 1
  local parts = {}
  for i = 1, 10 do
    local id = ids[((n * 7 + i * 13) % #ids) + 1]
    parts[i] = string.format('{"type":"%s","shopper":"load-%d","product":"%s"}', kinds[i], n % 5000, id)
  end
  return wrk.format(nil, "/v1/events", nil, "[" .. table.concat(parts, ",") .. "]")
end
done = function(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    "events-load: %.0f batches/s = %.0f events/s; p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms; errors %d (non-2xx %d, timeouts %d)\n",
    summary.requests / secs, 10 * summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency:percentile(99.9) / 1000,
    e.connect + e.read + e.write + e.status + e.timeout, e.status, e.timeout))
end
LUA

echo "== wrk: $connections connections, ${seconds}s, batches of 10 events at $addr"
result=$(wrk -t2 -c"$connections" -d"${seconds}s" --latency -s "$script" "$addr")
echo "$result"
echo "== store: $(du -h "$data/shoppers.redb" | cut -f1); server peak RSS: $(grep VmHWM /proc/$server/status | awk '{print $2, $3}')"
if echo "$result" | grep -q "Non-2xx\|Socket errors"; then
  echo "FAIL: errors during the load" >&2
  exit 1
fi
kill -TERM $server
wait $server 2>/dev/null || true
