#!/usr/bin/env python3
"""Pathological query shapes against a running clerk: CPU per request, and a normal
query's latency while clients send the worst shapes.

    benches/pathological.py BASE_URL PID [--clients 8] [--seconds 20] [--repeat 10]
                            [--server-log FILE]

BASE_URL is the server (http://127.0.0.1:7878), PID its process id (CPU time is read
from /proc/PID/stat). Part 1 sends every shape `repeat` times, one at a time, and
reports the server CPU per request (utime+stime delta / repeat), the status and
took_ms; the largest is the figure to hold under 50 ms. Part 2 runs `clients`
processes looping over the five costliest shapes while one client sends normal queries
and records their latency; it prints p50/p99 of the normal queries, after the same
client's figures with nothing else running (the machine's noise floor). Each worst-shape
client is its own process: as threads they shared the normal client's interpreter lock,
and its waits (up to Python's 5 ms switch interval) were counted as server latency.
With --server-log (the server started with CLERK_LOG_FORMAT=json, stderr to FILE) it
also reports the server's own latency for those requests, tagged by x-request-id: the
client's figures include Python's HTTP handling, about 1 ms a request here.

Shapes use the Icecat schema's fields when present (brand, category, price,
attributes.*); with the demo schema, unknown fields simply get their 400s.
"""
import argparse, http.client, json, multiprocessing, os, random, time, urllib.parse

TICK = os.sysconf("SC_CLK_TCK")
rng = random.Random(7)
letters = "abcdefghijklmnopqrstuvwxyz"


def words(n, lo, hi):
    return " ".join("".join(rng.choice(letters) for _ in range(rng.randint(lo, hi))) for _ in range(n))


def typo(word):
    i = rng.randrange(len(word))
    return word[:i] + rng.choice(letters) + word[i + 1:]


REAL = "laptop notebook printer toner cartridge monitor keyboard mouse cable adapter camera lens " \
       "tablet smartphone headphones speaker battery charger router switch projector memory".split()


def shapes():
    facets_all = "brand,category,price,attributes.product_colour,attributes.connectivity_technology," \
                 "attributes.form_factor,attributes.processor_family,attributes.print_technology," \
                 "attributes.display_diagonal,attributes.internal_memory"
    huge_any = "|".join(f"Brand{i}" for i in range(100))
    yield "500 one-letter words", {"q": " ".join(rng.choice(letters) for _ in range(499))}
    yield "330 two-letter words", {"q": words(330, 2, 2)}
    yield "160 random 5-letter words", {"q": words(160, 5, 5)}
    yield "100 misspelt real words", {"q": " ".join(typo(rng.choice(REAL)) for _ in range(100))[:999]}
    yield "60 real words, no trailing space (prefix)", {"q": " ".join(rng.choice(REAL)[:3] for _ in range(60))}
    yield "one 999-letter word", {"q": "a" * 999}
    yield "one 31-letter word (typo limit)", {"q": words(1, 31, 31)}
    yield "300 repeated word", {"q": " ".join(["laptop"] * 140)}
    yield "digits and units", {"q": " ".join(f"{rng.randint(1, 9999)}gb" for _ in range(120))[:999]}
    yield "unicode soup", {"q": ("💻ノートパソコン Ωmega ß straße " * 30)[:990]}
    yield "10 real words, typos", {"q": " ".join(typo(rng.choice(REAL)) for _ in range(10))}
    # Long words cost typo lookups whatever their number: ten at the typo limit, ten
    # shorter, four (few enough words to look light), accented and hyphenated ones.
    common = "aeiorstnl"
    long_words = lambda n, length, alphabet=common: " ".join(
        "".join(rng.choice(alphabet) for _ in range(length)) for _ in range(n))
    yield "10 random 31-letter words", {"q": long_words(10, 31)}
    yield "10 random 20-letter words", {"q": long_words(10, 20)}
    yield "10 random 9-letter words", {"q": long_words(10, 9)}
    yield "4 random 31-letter words", {"q": long_words(4, 31)}
    yield "10 accented 15-letter words", {"q": long_words(10, 15, "àéîõüçñ")}
    yield "10 hyphenated words", {"q": " ".join("-".join(long_words(1, 5, "aeiorst") for _ in range(5)) for _ in range(10))}
    yield "10 long real words, 2 typos each", {"q": " ".join(typo(typo(w)) for w in rng.sample([w for w in REAL if len(w) >= 8] * 2, 10))}
    yield "10 random 31-letter words, every facet, sorted", {"q": long_words(10, 31), "facets": facets_all, "sort": "price_asc"}
    yield "browse, every facet", {"q": "", "facets": facets_all}
    yield "browse, every facet, deep page", {"q": "", "facets": facets_all, "page": "100", "per_page": "100"}
    yield "query, every facet, deep page, sort", {"q": "cable", "facets": facets_all, "page": "100", "per_page": "100", "sort": "price_asc"}
    yield "32 any-of filters of 100 values", {"q": "laptop", "filter": [f"brand:{huge_any}"] * 32, "facets": facets_all}
    yield "32 range filters", {"q": "", "filter": [f"price:{i}..{i + 500}" for i in range(32)], "facets": facets_all}
    yield "negated filters, every facet", {"q": "a", "filter": [f"-brand:Brand{i}" for i in range(32)], "facets": facets_all}
    yield "many words + every facet + filters", {"q": words(100, 3, 6), "facets": facets_all, "filter": ["price:0..100000"] * 10}
    yield "explain, many words", {"q": words(120, 3, 5), "explain": "true", "per_page": "100"}
    yield "20 facets requested (cap 16)", {"q": "", "facets": ",".join(["brand"] * 20)}
    for i in range(20):
        yield f"mixed random {i}", {"q": words(rng.randint(20, 150), 1, 8)[:999],
                                    "facets": facets_all if i % 2 else "brand",
                                    "page": str(rng.randint(1, 50)), "per_page": "100"}


def cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def get(conn, params, headers=None):
    query = urllib.parse.urlencode(params, doseq=True)
    conn.request("GET", "/v1/search?" + query, headers=headers or {})
    response = conn.getresponse()
    body = response.read()
    return response.status, body


def connect(base):
    url = urllib.parse.urlparse(base)
    return http.client.HTTPConnection(url.hostname, url.port, timeout=30)


def measure(base, pid, repeat):
    conn = connect(base)
    rows = []
    for name, params in shapes():
        before = cpu(pid)
        started = time.perf_counter()
        status, body = 0, b""
        for _ in range(repeat):
            status, body = get(conn, params)
        wall = (time.perf_counter() - started) / repeat * 1000
        cost = (cpu(pid) - before) / repeat * 1000
        took = json.loads(body).get("took_ms", 0) if status == 200 else 0
        rows.append((cost, wall, status, took, name, params))
        print(f"{cost:8.2f} ms cpu {wall:8.2f} ms wall  {status}  took {took:7.2f}  {name}", flush=True)
    rows.sort(key=lambda r: -r[0])
    print(f"max CPU per request: {rows[0][0]:.2f} ms ({rows[0][4]}); over 50 ms: {sum(r[0] > 50 for r in rows)} of {len(rows)}")
    return [r[5] for r in rows[:5]]


def hammer(base, shapes, offset, stop, sent):
    """One worst-shape client: its own process, so it never holds the normal client's GIL."""
    conn = connect(base)
    n = 0
    while time.time() < stop:
        try:
            get(conn, shapes[(offset + n) % len(shapes)])
        except Exception:
            conn = connect(base)
        n += 1
    with sent.get_lock():
        sent.value += n


def normal_latencies(base, seconds, phase):
    conn = connect(base)
    normal = ["laptop", "hp toner", "usb cable", "samsung monitor 27", "wireless mouse", "notebok", "canon printer"]
    latencies, statuses = [], {}
    stop = time.time() + seconds
    while time.time() < stop:
        started = time.perf_counter()
        tag = {"x-request-id": f"normal-{phase}-{len(latencies)}"}
        status, _ = get(conn, {"q": rng.choice(normal), "facets": "brand,category,price"}, tag)
        latencies.append((time.perf_counter() - started) * 1000)
        statuses[status] = statuses.get(status, 0) + 1
        time.sleep(0.002)
    latencies.sort()
    return latencies, statuses


def percentiles(values):
    values = sorted(values)
    p = lambda q: values[min(len(values) - 1, int(q * len(values)))]
    return f"n={len(values)} p50 {p(0.5):.2f} ms p99 {p(0.99):.2f} ms max {values[-1]:.2f} ms"


def server_latencies(log, phase):
    """The server's own latency_ms for this phase's normal requests, from its JSON log."""
    if not log:
        return None
    prefix = f"normal-{phase}-"
    found = []
    with open(log) as f:
        for line in f:
            if prefix not in line:
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if str(entry.get("request_id", "")).startswith(prefix):
                found.append(float(entry["latency_ms"]))
    return found or None


def report(label, latencies, statuses, server):
    print(f"{label}: client {percentiles(latencies)}; statuses {statuses}", flush=True)
    if server:
        print(f"{label}: server {percentiles(server)}", flush=True)


def contention(base, worst, clients, seconds, log):
    # The noise floor first: the same normal client with nothing else running.
    report("normal queries alone", *normal_latencies(base, seconds, "alone"),
           server_latencies(log, "alone"))
    stop = time.time() + seconds
    sent = multiprocessing.Value("l", 0)
    workers = [multiprocessing.Process(target=hammer, args=(base, worst, i, stop, sent))
               for i in range(clients)]
    for w in workers:
        w.start()
    latencies, statuses = normal_latencies(base, seconds, "contended")
    for w in workers:
        w.join()
    report(f"normal queries under {clients} worst-shape clients ({sent.value} worst requests)",
           latencies, statuses, server_latencies(log, "contended"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("base")
    parser.add_argument("pid", type=int)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--server-log", help="the server's log, written with CLERK_LOG_FORMAT=json: "
                        "also report its own latency for the normal queries (no client in it)")
    args = parser.parse_args()
    worst = measure(args.base, args.pid, args.repeat)
    contention(args.base, worst, args.clients, args.seconds, args.server_log)
