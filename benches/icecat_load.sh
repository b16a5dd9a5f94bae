#!/usr/bin/env bash
# Throughput on the Icecat catalog, measured the way ../shared/PEERS.md measured the peers:
# `clerk serve --schema icecat`, the 80 judged queries of ../shared/eval/icecat-dev,
# per_page 20, facets brand, category and price, a closed loop of N clients (wrk).
#
#   benches/icecat_load.sh [connections=4] [seconds=30]
#
# CLERK_BIN=path runs another build; CLERK_LOAD_DATA=dir keeps its index apart (a build
# whose schema differs cannot read the other's index). Extra environment is passed to the server (e.g. CLERK_MALLOC_ARENAS=4 to compare
# allocator settings). Prints wrk's throughput and percentiles, non-2xx responses
# (must be 0) and the server's CPU seconds. Needs wrk (apt-get install -y wrk) and
# ../shared beside the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
connections=${1:-4}
seconds=${2:-30}
shared=../shared
catalog="$shared/data/icecat_chorus_19k/catalog.jsonl.gz"
queries="$shared/eval/icecat-dev/queries.tsv"
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }
[ -f "$catalog" ] && [ -f "$queries" ] || { echo "needs $catalog and $queries" >&2; exit 1; }

# CLERK_BIN=path compares another build (e.g. before/after a change) on the same index.
bin=${CLERK_BIN:-./target/release/clerk}
[ -n "${CLERK_BIN:-}" ] || cargo build --release --quiet
data="${CLERK_LOAD_DATA:-target/bench-data/icecat-load}"
if [ ! -f "$data/CURRENT" ]; then
  mkdir -p "$data"
  "$bin" index --catalog "$catalog" --schema icecat --data-dir "$data" >/dev/null
fi

log=$(mktemp)
script=$(mktemp --suffix=.lua)
"$bin" serve --addr 127.0.0.1:0 --schema icecat --data-dir "$data" 2>"$log" &
server=$!
trap 'kill $server 2>/dev/null || true; rm -f "$log" "$script"' EXIT
for _ in $(seq 1 600); do
  addr=$(grep -o 'http://[0-9.:]*' "$log" | head -1 || true)
  [ -n "$addr" ] && break
  sleep 0.1
done
[ -n "$addr" ] || { cat "$log"; echo "server did not start" >&2; exit 1; }

# The judged queries, URL-encoded, as a Lua table.
paths=$(cut -f2 "$queries" | python3 -c '
import sys, urllib.parse
for q in sys.stdin.read().splitlines():
    print("  \"/v1/search?q=%s&per_page=20&facets=brand,category,price\"," % urllib.parse.quote(q))
')
cat >"$script" <<LUA
local paths = {
$paths
}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "icecat-load: %.0f req/s; p50 %.2f ms, p99 %.2f ms; errors %d (non-2xx %d, timeouts %d)\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.connect + e.read + e.write + e.status + e.timeout, e.status, e.timeout))
end
LUA

# Warm up (first queries load the index pages), then measure.
wrk -t1 -c1 -d2s -s "$script" "$addr" >/dev/null
cpu_before=$(awk '{print $14 + $15}' "/proc/$server/stat")
wrk -t2 -c"$connections" -d"${seconds}s" -s "$script" "$addr" | grep 'icecat-load'
cpu_after=$(awk '{print $14 + $15}' "/proc/$server/stat")
ticks=$(getconf CLK_TCK)
echo "server CPU: $(( (cpu_after - cpu_before) / ticks )) s over ${seconds} s"
