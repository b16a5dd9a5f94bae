#!/usr/bin/env bash
# HTTP load: clerk serve on the 100k demo catalog, the query mix at fixed concurrency.
#
#   benches/load.sh [products=100000] [connections=4] [seconds=30]
#
# Reports wrk's throughput and latency percentiles (p50/p99/p99.9), non-2xx responses
# (must be 0) and the server's peak RSS. Needs wrk (apt-get install wrk).
# CLERK_BIN=path runs another build; CLERK_LOAD_DATA=dir keeps its index apart (a build
# indexes in its own document order, so compare each build on the index it made).
set -euo pipefail
cd "$(dirname "$0")/.."
products=${1:-100000}
connections=${2:-4}
seconds=${3:-30}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }

bin=${CLERK_BIN:-./target/release/clerk}
[ -n "${CLERK_BIN:-}" ] || cargo build --release --quiet
data="${CLERK_LOAD_DATA:-target/bench-data/load-demo-$products}"
if [ ! -f "$data/CURRENT" ]; then
  mkdir -p "$data"
  "$bin" demo-catalog --products "$products" --out "$data/catalog.jsonl"
  "$bin" index --catalog "$data/catalog.jsonl" --data-dir "$data"
  rm -f "$data/catalog.jsonl"
fi

log=$(mktemp)
"$bin" serve --addr 127.0.0.1:0 --data-dir "$data" 2>"$log" &
server=$!
trap 'kill $server 2>/dev/null || true; rm -f "$log" "$script"' EXIT
for _ in $(seq 1 600); do
  addr=$(grep -o 'http://[0-9.:]*' "$log" | head -1 || true)
  [ -n "$addr" ] && break
  sleep 0.1
done
[ -n "$addr" ] || { cat "$log"; echo "server did not start" >&2; exit 1; }

# The query mix: head, tail, typo'd, one-letter prefixes, filtered browsing; facets on.
script=$(mktemp --suffix=.lua)
cat >"$script" <<'LUA'
local facets = "&facets=brand,category,price,color,material,style"
local paths = {
  "/v1/search?q=lamp%20", "/v1/search?q=sofa%20", "/v1/search?q=rug%20",
  "/v1/search?q=grey%20linen%20sofa%20modern%20", "/v1/search?q=brass%20floor%20lamp%2065%20",
  "/v1/search?q=oak%20dining%20table%20extendable%20", "/v1/search?q=sofq%20",
  "/v1/search?q=velvit%20chair%20", "/v1/search?q=chandelir%20", "/v1/search?q=s", "/v1/search?q=b",
  "/v1/search?q=&filter=category:Furniture/Living%20Room",
  "/v1/search?q=&filter=brand:Nordby&filter=price:100..500",
  "/v1/search?q=&filter=color:Grey|Navy&filter=in_stock:true",
}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1] .. facets)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "clerk-load: %.0f req/s; p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms; errors %d (non-2xx %d, timeouts %d)\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency:percentile(99.9) / 1000,
    e.connect + e.read + e.write + e.status + e.timeout, e.status, e.timeout))
end
LUA

echo "== wrk: $connections connections, ${seconds}s, $products products at $addr"
threads=$(( connections < 2 ? connections : 2 ))
result=$(wrk -t"$threads" -c"$connections" -d"${seconds}s" --latency -s "$script" "$addr")
echo "$result"
if echo "$result" | grep -q "Non-2xx\|Socket errors"; then
  echo "FAIL: errors during the load" >&2
  exit 1
fi
echo "== server peak RSS: $(grep VmHWM /proc/$server/status | awk '{print $2, $3}')"
kill -TERM $server
wait $server 2>/dev/null || true
