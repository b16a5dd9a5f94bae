#!/usr/bin/env bash
# Queries per CPU-second: the server's own CPU time during an HTTP load, so the figure
# holds on a shared machine where wall-clock throughput depends on the neighbours.
#
#   benches/cpu_per_query.sh DATA_DIR [seconds=20] [extra clerk serve args...]
#
# Serves DATA_DIR (an indexed data directory, e.g. one benches/load.sh built) with the
# release binary (or CLERK_BIN), warms up for 5 s, then runs benches/load.sh's query mix
# with wrk (2 threads, 4 connections) and reads the server's utime+stime around it.
# Prints wrk's line, requests per CPU-second of the server, and its peak RSS. Needs wrk.
set -euo pipefail
cd "$(dirname "$0")/.."
data=$1
seconds=${2:-20}
shift $(( $# >= 2 ? 2 : 1 ))
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }
clerk=${CLERK_BIN:-}
if [ -z "$clerk" ]; then
  cargo build --release --quiet
  clerk=./target/release/clerk
fi
work=$(mktemp -d)
sed -n '/^cat >"\$script" <<.LUA.$/,/^LUA$/p' benches/load.sh | sed '1d;$d' >"$work/mix.lua"
"$clerk" serve --addr 127.0.0.1:0 --data-dir "$data" "$@" 2>"$work/log" &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 600); do
  addr=$(grep -o 'http://[0-9.:]*' "$work/log" | head -1 || true)
  [ -n "$addr" ] && break
  sleep 0.1
done
[ -n "$addr" ] || { cat "$work/log"; echo "server did not start" >&2; exit 1; }
cpu() { awk '{print $14 + $15}' "/proc/$server/stat"; }
wrk -t1 -c2 -d5s -s "$work/mix.lua" "$addr" >/dev/null
before=$(cpu)
out=$(wrk -t2 -c4 -d"${seconds}s" --latency -s "$work/mix.lua" "$addr")
after=$(cpu)
echo "$out" | grep clerk-load
requests=$(echo "$out" | awk '/requests in/{print $1}')
python3 -c "r=$requests; c=($after-$before)/$(getconf CLK_TCK); print(f'{r} requests, server CPU {c:.1f} s: {r/c:.0f} queries per CPU-second, {1000*c/r:.1f} ms CPU per query')"
echo "server peak RSS: $(grep VmHWM "/proc/$server/status" | awk '{print $2, $3}')"
