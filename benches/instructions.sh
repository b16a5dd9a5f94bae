#!/usr/bin/env bash
# Instructions per search of the latency guard's queries, counted by callgrind: steady
# on a shared machine where wall clock is not. Each query runs twice under callgrind
# (2 and 4 rounds after the warm-up search, in parallel) and the difference / 2 is
# printed, so one-off work (base rates, whole-catalog counts, kept bitsets) drops out.
#
#   benches/instructions.sh [size=1000000] [query index...]   (indexes: benches/guard.rs's
#                                                               mix, 0-13; all by default)
#
# GUARD=path runs an existing guard binary (e.g. a copy of a before build) instead of
# building the bench. The demo index of `size` is built on first use, as the guard does.
# Needs valgrind (apt-get install -y valgrind).
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-1000000}
shift $(( $# >= 1 ? 1 : 0 ))
queries=("$@")
[ ${#queries[@]} -gt 0 ] || queries=(0 1 2 3 4 5 6 7 8 9 10 11 12 13)
command -v valgrind >/dev/null || { echo "valgrind is needed: apt-get install -y valgrind" >&2; exit 1; }
guard=${GUARD:-}
if [ -z "$guard" ]; then
  guard=$(cargo bench --bench guard --no-run 2>&1 | sed -n 's/.*Executable benches\/guard.rs (\(.*\))/\1/p' | tail -1)
fi
[ -x "$guard" ] || { echo "no guard binary ($guard)" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# Build the index (and anything else the guard prepares) outside callgrind.
CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target} CLERK_GUARD_SIZE=$size CLERK_GUARD_ONLY=0 CLERK_GUARD_ROUNDS=1 \
  "$guard" --bench > /dev/null 2>&1 || true
count() {
  CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target} CLERK_GUARD_SIZE=$size CLERK_GUARD_ONLY=$1 \
    CLERK_GUARD_ROUNDS=$2 RAYON_NUM_THREADS=1 \
    valgrind --tool=callgrind --collect-atstart=no \
    --toggle-collect='clerk::engine::Engine::search' \
    --callgrind-out-file="$out/q$1.r$2" "$guard" --bench > /dev/null 2>&1 || true
  # (The guard's own ratio check fails under callgrind's slowdown: that is expected.)
  grep -h '^summary' "$out/q$1.r$2" | cut -d' ' -f2
}
total=0
for q in "${queries[@]}"; do
  count "$q" 2 > "$out/a" & count "$q" 4 > "$out/b" & wait
  per=$(( ($(cat "$out/b") - $(cat "$out/a")) / 2 ))
  total=$(( total + per ))
  printf 'query %2d  %6.1f M instructions per search\n' "$q" "$(echo "$per / 1000000" | bc -l)"
done
printf 'total     %6.1f M\n' "$(echo "$total / 1000000" | bc -l)"
