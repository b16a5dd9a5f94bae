#!/usr/bin/env python3
"""The crowd teaches ranking, measured through the real server: simulated shoppers
search, click and buy over HTTP while `clerk serve` learns in the background, and
NDCG@10 of anonymous searches is compared before and after.

    benches/learning_http.py [--bin target/release/clerk] [--set ../shared/eval/icecat-dev]
                             [--catalog ../shared/data/icecat_chorus_19k/catalog.jsonl.gz]
                             [--schema icecat] [--models cascade,pbm] [--seeds 3]
                             [--sessions 15]

It is a second opinion on `clerk eval --suites learning`, with its own click models
and nothing shared with the engine but HTTP:

* every session is a new shopper who runs `GET /v1/search` (the page they are served,
  learned or not, or unlearned for holdout shoppers), then posts a `search` event and
  their clicks (with the position they clicked at) and carts in one `POST /v1/events`
  batch; sessions of all the queries with traffic arrive shuffled, and the server's
  background refresh (every second) learns while they arrive, as in a live store;
* `cascade`: the shopper reads down the page, going on past each position with
  probability 0.8, clicks by grade (0.05, 0.3, 0.7), carts a third of the grade-2
  clicks and stops after a click with probability 0.6;
* `pbm` (position-based): each position is looked at independently with probability
  k^-0.9 and clicked by grade, several clicks a session.

Each trial (model × seed × half) gets a fresh copy of the index and a fresh shopper
store; traffic goes to every other judged query (the half), the others have none. It
prints, per model, the mean lift on queries with traffic and without, with the trials'
range, and the queries whose NDCG@10 moved.
"""
import argparse, json, math, os, random, shutil, socket, subprocess, tempfile, time
import urllib.parse, urllib.request

CLICK = {0: 0.05, 1: 0.3, 2: 0.7}


def judged(folder):
    queries = [l.rstrip("\n").split("\t") for l in open(os.path.join(folder, "queries.tsv")) if l.strip()]
    grades = {}
    for line in open(os.path.join(folder, "qrels.tsv")):
        parts = line.split()
        if len(parts) == 4:
            grades.setdefault(parts[0], {})[parts[2]] = int(parts[3])
    return queries, grades


def ndcg(ids, grades, k=10):
    dcg = sum((2 ** grades.get(i, 0) - 1) / math.log2(r + 2) for r, i in enumerate(ids[:k]))
    ideal = sorted(grades.values(), reverse=True)[:k]
    idcg = sum((2 ** g - 1) / math.log2(r + 2) for r, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


class Server:
    def __init__(self, binary, index, config_dir, schema):
        self.dir = tempfile.mkdtemp(prefix="clerk-learning-")
        shutil.copytree(index, self.dir, dirs_exist_ok=True)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.base = f"http://127.0.0.1:{port}"
        self.log = open(os.path.join(self.dir, "serve.log"), "w")
        self.proc = subprocess.Popen(
            [binary, "serve", "--data-dir", self.dir, "--config-dir", config_dir,
             "--schema", schema, "--addr", f"127.0.0.1:{port}"],
            stdout=self.log, stderr=self.log)
        for _ in range(300):
            try:
                urllib.request.urlopen(self.base + "/health").read()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise SystemExit("the server did not start; see " + self.log.name)

    def search(self, query, shopper=None, n=10):
        params = {"q": query, "per_page": n}
        if shopper:
            params["shopper"] = shopper
        with urllib.request.urlopen(self.base + "/v1/search?" + urllib.parse.urlencode(params)) as r:
            return [h["id"] for h in json.load(r)["hits"]]

    def post(self, events):
        request = urllib.request.Request(self.base + "/v1/events", json.dumps(events).encode(),
                                         {"content-type": "application/json"})
        urllib.request.urlopen(request).read()

    def stop(self):
        self.proc.terminate()
        self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def session(server, model, rng, query, grades, shopper):
    shown = server.search(query, shopper)
    events = [{"type": "search", "shopper": shopper, "query": query}]
    for k, product in enumerate(shown):
        if model == "pbm":
            if rng.random() > (k + 1) ** -0.9:
                continue
        elif k > 0 and rng.random() > 0.8:
            break
        grade = min(grades.get(product, 0), 2)
        if rng.random() < CLICK[grade]:
            events.append({"type": "click", "shopper": shopper, "product": product,
                           "query": query, "position": k + 1})
            if grade == 2 and rng.random() < 1 / 3:
                events.append({"type": "add_to_cart", "shopper": shopper, "product": product})
            if model == "cascade" and rng.random() < 0.6:
                break
    server.post(events)


def trial(args, index, model, seed, half, queries, grades):
    rng = random.Random(seed * 2 + half)
    server = Server(args.bin, index, args.config_dir, args.schema)
    try:
        before = {qid: ndcg(server.search(q), grades.get(qid, {})) for qid, q in queries}
        traffic = [(qid, q) for i, (qid, q) in enumerate(queries) if i % 2 == half]
        arrivals = [(qid, q, s) for s in range(args.sessions) for qid, q in traffic]
        rng.shuffle(arrivals)
        for qid, q, s in arrivals:
            session(server, model, rng, q, grades.get(qid, {}), f"sim-{model}-{seed}-{qid}-{s}")
        time.sleep(2.5)  # the background refresh runs every second
        after = {qid: ndcg(server.search(q), grades.get(qid, {})) for qid, q in queries}
    finally:
        server.stop()
    with_traffic = {qid for qid, _ in traffic}
    mean = lambda d, pick: sum(v for k, v in d.items() if pick(k)) / max(1, sum(1 for k in d if pick(k)))
    return {
        "traffic": mean(after, lambda k: k in with_traffic) - mean(before, lambda k: k in with_traffic),
        "without": mean(after, lambda k: k not in with_traffic) - mean(before, lambda k: k not in with_traffic),
        "moved": {q: (before[qid], after[qid]) for qid, q in traffic if abs(after[qid] - before[qid]) > 0.001},
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bin", default="target/release/clerk")
    p.add_argument("--set", default="../shared/eval/icecat-dev")
    p.add_argument("--catalog", default="../shared/data/icecat_chorus_19k/catalog.jsonl.gz")
    p.add_argument("--schema", default="icecat")
    p.add_argument("--config-dir", default=".")
    p.add_argument("--models", default="cascade,pbm")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--sessions", type=int, default=15)
    args = p.parse_args()
    queries, grades = judged(args.set)
    index = tempfile.mkdtemp(prefix="clerk-learning-index-")
    try:
        subprocess.run([args.bin, "index", "--catalog", args.catalog, "--schema", args.schema,
                        "--config-dir", args.config_dir, "--data-dir", index],
                       check=True, stdout=subprocess.DEVNULL)
        for model in args.models.split(","):
            trials = [trial(args, index, model, seed, half, queries, grades)
                      for seed in range(1, args.seeds + 1) for half in (0, 1)]
            lifts = [t["traffic"] for t in trials]
            quiet = [t["without"] for t in trials]
            print(f"{model}: {args.sessions} sessions a query with traffic, {len(trials)} trials")
            print(f"  queries with traffic: {sum(lifts) / len(lifts):+.4f} "
                  f"(trials {min(lifts):+.4f}…{max(lifts):+.4f})")
            print(f"  queries without:      {sum(quiet) / len(quiet):+.4f} "
                  f"(trials {min(quiet):+.4f}…{max(quiet):+.4f})")
            moved = {}
            for t in trials:
                for q, (b, a) in t["moved"].items():
                    moved.setdefault(q, []).append(a - b)
            for q, d in sorted(moved.items(), key=lambda x: sum(x[1])):
                print(f"    {q:30} {sum(d) / len(d):+.3f} in {len(d)} trial(s)")
    finally:
        shutil.rmtree(index, ignore_errors=True)


if __name__ == "__main__":
    main()
