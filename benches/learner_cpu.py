#!/usr/bin/env python3
"""What the crowd's learning costs a running server: CPU while events arrive.

    benches/learner_cpu.py [--bin target/release/clerk] [--compare OTHER_BIN]
                           [--queries 3000] [--rate 10] [--seconds 60]
                           [--catalog ../shared/data/icecat_chorus_19k/catalog.jsonl.gz]
                           [--schema icecat]

It indexes the catalog once, then per binary starts `clerk serve` on a copy of the
index and teaches it `--queries` queries (two-word title prefixes of the catalog's
products; three shoppers each search and click, so every one is learnable). Once the
server has learned them all (`GET /v1/admin/learned` reports them), it posts `--rate`
new search sessions a second (a search and a click, on queries drawn at random) for
`--seconds`, and reads the server's CPU time (`/proc/PID/stat`) over that window;
then the same window without events, for the idle baseline. The difference is what
ingest and the background learner cost per second of traffic; ingest is the same for
both binaries, so comparing two of them shows the learner's share.
"""

import argparse
import gzip
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def catalog_queries(path, n):
    """Distinct two-word title prefixes, with a product of each."""
    seen = {}
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as f:
        for line in f:
            product = json.loads(line)
            words = [w for w in product.get("title", "").lower().split() if w.isalpha()]
            if len(words) >= 2:
                seen.setdefault(" ".join(words[:2]), product["id"])
            if len(seen) >= n:
                break
    return list(seen.items())


class Server:
    def __init__(self, binary, index, schema, port):
        self.dir = tempfile.mkdtemp(prefix="clerk-learner-cpu-")
        shutil.copytree(index, self.dir, dirs_exist_ok=True)
        self.base = f"http://127.0.0.1:{port}"
        self.log = open(os.path.join(self.dir, "serve.log"), "w")
        self.proc = subprocess.Popen(
            [binary, "serve", "--data-dir", self.dir, "--config-dir", ".", "--schema", schema,
             "--addr", f"127.0.0.1:{port}"], stdout=self.log, stderr=self.log)
        for _ in range(300):
            try:
                urllib.request.urlopen(self.base + "/health").read()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        sys.exit("the server did not start; see " + self.log.name)

    def post(self, events):
        request = urllib.request.Request(self.base + "/v1/events", json.dumps(events).encode(),
                                         {"content-type": "application/json"})
        urllib.request.urlopen(request).read()

    def learned_queries(self):
        with urllib.request.urlopen(self.base + "/v1/admin/learned?limit=1") as r:
            return json.load(r)["learned_queries"]

    def stop(self):
        self.proc.terminate()
        self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def session(query, product, shopper, rng):
    return [{"type": "search", "shopper": shopper, "query": query},
            {"type": "click", "shopper": shopper, "product": product, "query": query,
             "position": rng.randint(1, 10)}]


def measure(binary, index, args, queries, port):
    server = Server(binary, index, args.schema, port)
    try:
        rng = random.Random(7)
        events = []
        for i, (query, product) in enumerate(queries):
            for s in range(3):
                events += session(query, product, f"seed-{i}-{s}", rng)
        for start in range(0, len(events), 1000):
            server.post(events[start:start + 1000])
        deadline = time.time() + 600
        while server.learned_queries() < len(queries) * 0.9:
            if time.time() > deadline:
                sys.exit(f"{binary}: learning did not catch up")
            time.sleep(1)
        time.sleep(3)
        learned = server.learned_queries()
        # Idle: no events.
        before = cpu_seconds(server.proc.pid)
        time.sleep(args.seconds)
        idle = (cpu_seconds(server.proc.pid) - before) / args.seconds
        # Traffic: `rate` new sessions a second.
        before = cpu_seconds(server.proc.pid)
        start = time.time()
        n = 0
        while time.time() - start < args.seconds:
            batch = []
            for _ in range(args.rate):
                query, product = rng.choice(queries)
                batch += session(query, product, f"new-{n}", rng)
                n += 1
            server.post(batch)
            time.sleep(max(0.0, start + n / args.rate - time.time()))
        busy = (cpu_seconds(server.proc.pid) - before) / (time.time() - start)
        return learned, idle, busy
    finally:
        server.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bin", default="target/release/clerk")
    parser.add_argument("--compare")
    parser.add_argument("--catalog", default="../shared/data/icecat_chorus_19k/catalog.jsonl.gz")
    parser.add_argument("--schema", default="icecat")
    parser.add_argument("--queries", type=int, default=3000)
    parser.add_argument("--rate", type=int, default=10)
    parser.add_argument("--seconds", type=int, default=60)
    args = parser.parse_args()
    if not os.path.exists(args.catalog):
        sys.exit(f"{args.catalog} not found (the shared data sits beside the repository)")
    queries = catalog_queries(args.catalog, args.queries)
    work = tempfile.mkdtemp(prefix="clerk-learner-index-")
    try:
        subprocess.run([args.bin, "index", "--catalog", args.catalog, "--schema", args.schema,
                        "--data-dir", work], check=True, stdout=subprocess.DEVNULL)
        binaries = [args.bin] + ([args.compare] if args.compare else [])
        print(f"{len(queries)} taught queries, {args.rate} new sessions a second, "
              f"{args.seconds} s windows; server CPU in cores (CPU seconds a second)")
        for i, binary in enumerate(binaries):
            learned, idle, busy = measure(binary, work, args, queries, 7890 + i)
            print(f"  {binary}: {learned} learned queries; idle {idle:.3f}, "
                  f"with traffic {busy:.3f} (+{busy - idle:.3f})")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
