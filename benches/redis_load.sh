#!/usr/bin/env bash
# Replicas through Redis: event throughput, Redis memory per event and per profile, and
# search throughput for personalized shoppers whose profiles live in Redis.
#
#   benches/redis_load.sh [products=100000] [events=20000] [shoppers=2000] [seconds=20]
#
# Starts its own redis-server on a free loopback port (appendonly yes, appendfsync
# always, in a temporary directory) and one `clerk serve --shopper-store redis://…` on
# the demo catalog; posts `events` events (batches of 100, shoppers drawn from
# `shoppers`), reads Redis's INFO memory before and after, then runs wrk for `seconds`
# with the demo query mix, each request as one of the shoppers. Needs redis-server and
# wrk (apt-get install -y redis-server wrk). CLERK_BIN=path uses that clerk binary instead
# of building target/release/clerk.
set -euo pipefail
cd "$(dirname "$0")/.."
products=${1:-100000}
events=${2:-20000}
shoppers=${3:-2000}
seconds=${4:-20}
for tool in redis-server redis-cli wrk python3; do
  command -v $tool >/dev/null || { echo "$tool is needed (apt-get install -y redis-server wrk)" >&2; exit 1; }
done

clerk=${CLERK_BIN:-}
if [ -z "$clerk" ]; then
  cargo build --release --quiet
  clerk=./target/release/clerk
fi
data="target/bench-data/load-demo-$products"
if [ ! -f "$data/CURRENT" ]; then
  mkdir -p "$data"
  "$clerk" demo-catalog --products "$products" --out "$data/catalog.jsonl"
  "$clerk" index --catalog "$data/catalog.jsonl" --data-dir "$data"
  rm -f "$data/catalog.jsonl"
fi

work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly yes --appendfsync always \
  --dir "$work" >"$work/redis.log" 2>&1 &
redis=$!
cp -r "$data" "$work/data"
"$clerk" serve --addr 127.0.0.1:0 --data-dir "$work/data" \
  --shopper-store "redis://127.0.0.1:$port" 2>"$work/clerk.log" &
server=$!
trap 'kill $server $redis 2>/dev/null || true; wait 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 600); do
  addr=$(grep -o 'http://[0-9.:]*' "$work/clerk.log" | head -1 || true)
  [ -n "$addr" ] && break
  sleep 0.1
done
[ -n "$addr" ] || { cat "$work/clerk.log"; echo "server did not start" >&2; exit 1; }

memory() { redis-cli -p "$port" info memory | awk -F: '/^used_memory:/{print $2}' | tr -d '\r'; }
before=$(memory)
python3 - "$addr" "$events" "$shoppers" "$products" <<'PY'
import json, random, sys, time, urllib.request
addr, events, shoppers, products = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
random.seed(1)
kinds = ["view"] * 6 + ["click"] * 2 + ["add_to_cart", "purchase", "search"]
started, batches = time.time(), []
for _ in range(events // 100):
    batch = []
    for _ in range(100):
        kind = random.choice(kinds)
        event = {"type": kind, "shopper": f"s-{random.randrange(shoppers)}"}
        if kind == "search":
            event["query"] = "linen sofa"
        else:
            event["product"] = f"p-{1001 + random.randrange(products)}"
        batch.append(event)
    t = time.time()
    request = urllib.request.Request(addr + "/v1/events", data=json.dumps(batch).encode())
    assert urllib.request.urlopen(request).status == 202
    batches.append(time.time() - t)
took = time.time() - started
batches.sort()
print(f"events: {events} in {took:.1f} s = {events / took:.0f} events/s; batch of 100 "
      f"p50 {batches[len(batches) // 2] * 1000:.1f} ms, p99 {batches[int(len(batches) * 0.99)] * 1000:.1f} ms")
PY
after=$(memory)
echo "redis used_memory: $before -> $after bytes; $(( (after - before) / events )) bytes per event," \
  "$(( (after - before) / shoppers )) bytes per shopper (profile + events)"
echo "redis: stream $(redis-cli -p "$port" memory usage clerk:events) bytes for $(redis-cli -p "$port" xlen clerk:events) events;" \
  "profile s-1 $(redis-cli -p "$port" memory usage clerk:profile:s-1) bytes;" \
  "append-only file $(du -sk "$work/appendonlydir" | cut -f1) KiB"

script="$work/mix.lua"
cat >"$script" <<LUA
local facets = "&facets=brand,category,price,color,material,style"
local paths = {
  "/v1/search?q=lamp%20", "/v1/search?q=sofa%20", "/v1/search?q=rug%20",
  "/v1/search?q=grey%20linen%20sofa%20modern%20", "/v1/search?q=sofq%20",
  "/v1/search?q=velvit%20chair%20", "/v1/search?q=s",
  "/v1/search?q=&filter=category:Furniture/Living%20Room",
}
local i = 0
request = function()
  i = i + 1
  local shopper = "&shopper=s-" .. (i % $shoppers)
  return wrk.format("GET", paths[(i % #paths) + 1] .. facets .. shopper)
end
done = function(summary, latency, requests)
  io.write(string.format("personalized search through Redis: %.0f req/s; p50 %.2f ms, p99 %.2f ms; non-2xx %d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.errors.status))
end
LUA
wrk -t2 -c4 -d"${seconds}s" --latency -s "$script" "$addr" | grep "personalized search"
echo "server peak RSS: $(grep VmHWM /proc/$server/status | awk '{print $2, $3}')"
