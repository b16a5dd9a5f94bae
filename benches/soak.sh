#!/usr/bin/env bash
# Soak: searches, events and a few product upserts together for a while, sampling the
# server's RSS and the shopper store's size, to show memory flat and disk bounded by
# retention.
#
#   benches/soak.sh DATA_DIR [minutes=30] [retention_days=0.0035] [event_conns=2] [search_conns=2] \
#                   [event_pause_ms=0] [search_pause_ms=0]
#
# DATA_DIR must hold an index (e.g. the Icecat one). The shopper store is started
# fresh. Retention defaults to ~5 minutes so the store reaches its steady size within
# the run; the sweep runs every 10 s. A pause makes each connection wait that long
# between requests, so the event rate (and with it the retention window's size) stays
# steady when other work shares the machine; 0 sends as fast as the server answers.
# Every 10 s one of 20 soak products is upserted
# (a new title each time), and autocomplete is asked for its new word. Prints one
# sample per 30 s (RSS, store size, searches/s, event batches/s and non-2xx responses
# in the interval, from /metrics), then RSS at the 5-minute mark vs the end (flat
# means within ±10 %) and the store's largest size. The server runs with the
# product's own malloc settings; export CLERK_MALLOC_ARENAS=0 to compare with glibc's
# default. CLERK_SOAK_SHOPPERS sets how many distinct shoppers send events (default
# 20000; searches use the first 20000 of them). Profiles of shoppers idle for twice the
# event window are dropped (CLERK_SOAK_PROFILES_DAYS overrides), so with many distinct
# shoppers the store stays bounded by those active recently. Needs wrk (apt-get install -y wrk) and
# a release build. On a shared machine run it under `nice -n 10`.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:?data dir with an index}
minutes=${2:-30}
retention=${3:-0.0035}
event_conns=${4:-2}
search_conns=${5:-2}
event_pause=${6:-0}
search_pause=${7:-0}
shoppers=${CLERK_SOAK_SHOPPERS:-20000}
profiles=${CLERK_SOAK_PROFILES_DAYS:-$(python3 -c "print($retention * 2)")}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }
[ -x target/release/clerk ] || cargo build --release --quiet
rm -f "$data/shoppers.redb"

log=$(mktemp); events_lua=$(mktemp --suffix=.lua); search_lua=$(mktemp --suffix=.lua)
CLERK_RETENTION_EVENTS_DAYS=$retention CLERK_RETENTION_PROFILES_DAYS=$profiles \
  CLERK_RETENTION_SWEEP_INTERVAL_SECONDS=10 \
  ./target/release/clerk serve --addr 127.0.0.1:0 --data-dir "$data" 2>"$log" &
server=$!
trap 'kill $server 2>/dev/null || true; kill $(jobs -p) 2>/dev/null || true; rm -f "$log" "$events_lua" "$search_lua"' EXIT
addr=""
for _ in $(seq 1 1200); do
  addr=$(grep -o 'http://[0-9.:]*' "$log" | head -1 || true)
  [ -n "$addr" ] && break
  sleep 0.1
done
[ -n "$addr" ] || { cat "$log"; echo "server did not start" >&2; exit 1; }

ids=$(curl -s "$addr/v1/search?q=&per_page=100" | python3 -c '
import json, sys
print(",".join(json.dumps(h["id"]) for h in json.load(sys.stdin)["hits"]))')
cat >"$events_lua" <<LUA
local ids = { $ids }
local kinds = { "view", "view", "click", "view", "add_to_cart", "view", "search", "view", "purchase", "view" }
local n = 0
delay = function() return $event_pause end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  n = n + 1
  local parts = {}
  for i = 1, 10 do
    local id = ids[((n * 7 + i * 13) % #ids) + 1]
    if kinds[i] == "search" then
      parts[i] = string.format('{"type":"search","shopper":"soak-%d","query":"q%d"}', n % $shoppers, n % 300)
    else
      parts[i] = string.format('{"type":"%s","shopper":"soak-%d","product":"%s"}', kinds[i], n % $shoppers, id)
    end
  end
  return wrk.format(nil, "/v1/events", nil, "[" .. table.concat(parts, ",") .. "]")
end
LUA
cat >"$search_lua" <<LUA
delay = function() return $search_pause end
LUA
cat >>"$search_lua" <<'LUA'
local qs = { "laptop", "hp%20toner", "usb%20cable", "monitor%2027", "wireless%20mouse", "notebok", "canon%20printer", "" }
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "/v1/search?q=" .. qs[(n % #qs) + 1] .. "&facets=brand,category,price&shopper=soak-" .. (n % 20000))
end
LUA

# requests by route and status so far: "searches events errors"
counts() {
  curl -s "$addr/metrics" | awk '/^clerk_http_requests_total/ {
    n = $NF; if ($0 ~ /route="\/v1\/search"/) s += n; if ($0 ~ /route="\/v1\/events"/) e += n
    if ($0 !~ /status="2/) err += n } END { printf "%d %d %d\n", s, e, err }'
}
upserts() {
  local i=0 end=$((SECONDS + seconds - 10)) offered
  while [ $SECONDS -lt $end ]; do
    sleep 10; i=$((i + 1))
    curl -s -o /dev/null -X PUT "$addr/v1/products" -H 'Content-Type: application/json' \
      -d "[{\"id\":\"soak-up-$((i % 20))\",\"title\":\"Soakword$i desk lamp\",\"brand\":\"Soak\",\"price\":$((i % 90 + 10)).5,\"category\":[\"Lighting\",\"Lamps\"]}]"
    offered=$(curl -s "$addr/v1/autocomplete?q=soakword$i" || true)
    case "$offered" in *"\"soakword$i\""*) ;; *) echo "upsert $i not in autocomplete: $offered" >>"$log.upserts" ;; esac
  done
}

seconds=$((minutes * 60))
wrk -t1 -c"$event_conns" -d"${seconds}s" -s "$events_lua" "$addr" >"$log.events" 2>&1 &
event_wrk=$!
wrk -t1 -c"$search_conns" -d"${seconds}s" -s "$search_lua" "$addr" >"$log.search" 2>&1 &
search_wrk=$!
upserts &
upserter=$!
echo "== soak: ${minutes} min, events on $event_conns connections (pause ${event_pause} ms), searches on $search_conns (pause ${search_pause} ms), retention $retention days (idle profiles $profiles days), $shoppers shopper ids"
printf "%6s %10s %12s %10s %10s %8s\n" "min" "RSS MB" "store MB" "search/s" "batches/s" "non-2xx"
rss_at_5=""; store_max=0; rss_max=0
read -r s0 e0 x0 < <(counts)
for i in $(seq 1 $((seconds / 30))); do
  sleep 30
  rss=$(awk '/VmRSS/ {print $2}' /proc/$server/status)
  store=$(stat -c %s "$data/shoppers.redb" 2>/dev/null || echo 0)
  read -r s1 e1 x1 < <(counts)
  [ "$store" -gt "$store_max" ] && store_max=$store
  [ "$rss" -gt "$rss_max" ] && rss_max=$rss
  [ $((i * 30)) -eq 300 ] && rss_at_5=$rss
  printf "%6.1f %10.1f %12.1f %10d %10d %8d\n" "$(echo "$i * 0.5" | bc)" "$(echo "$rss / 1024" | bc -l)" \
    "$(echo "$store / 1048576" | bc -l)" $(((s1 - s0) / 30)) $(((e1 - e0) / 30)) $((x1 - x0))
  s0=$s1; e0=$e1; x0=$x1
done
wait $event_wrk $search_wrk $upserter 2>/dev/null || true
echo "== upserts: $(cat "$log.upserts" 2>/dev/null | wc -l) of about $((seconds / 10)) not offered by autocomplete right after the upsert"
head -3 "$log.upserts" 2>/dev/null || true
echo "== events:"; grep -E "Requests/sec|Non-2xx|Socket" "$log.events" || true
echo "== searches:"; grep -E "Requests/sec|Latency|Non-2xx|Socket" "$log.search" || true
rss_end=$(awk '/VmRSS/ {print $2}' /proc/$server/status)
echo "== RSS at 5 min ${rss_at_5:-n/a} kB, at the end $rss_end kB, peak $rss_max kB; store peak $((store_max / 1048576)) MB"
rm -f "$log.events" "$log.search" "$log.upserts"
kill -TERM $server; wait $server 2>/dev/null || true
