"""Prints tests/bench/gateway.sh's tables and issue 12's targets from its TSV files.
Usage: gateway_report.py results.tsv [idle.tsv] [idle connections]"""
import csv
import os
import statistics
import sys

rows = [r for r in csv.DictReader(open(sys.argv[1]), delimiter="\t") if r["round"] != "0"]
idle_rows = list(csv.DictReader(open(sys.argv[2]), delimiter="\t")) if len(sys.argv) > 2 and sys.argv[2] else []
idle_n = sys.argv[3] if len(sys.argv) > 3 else "?"

LABEL = {
    "up": "upstream direct", "n1h": "nginx, 1 worker, HTTP", "n1t": "nginx, 1 worker, TLS",
    "n2h": "nginx, 2 workers, HTTP", "n2t": "nginx, 2 workers, TLS",
    "h1h": "HAProxy (+JWT), 1 thread, HTTP", "h1t": "HAProxy (+JWT), 1 thread, TLS",
    "h2h": "HAProxy (+JWT), 2 threads, HTTP", "h2t": "HAProxy (+JWT), 2 threads, TLS",
    "f1h": "ours, no filters, 1 loop, HTTP", "f1t": "ours, no filters, 1 loop, TLS",
    "a1h": "ours, every filter, 1 loop, HTTP", "a1t": "ours, every filter, 1 loop, TLS",
    "f2h": "ours, no filters, 2 loops, HTTP", "f2t": "ours, no filters, 2 loops, TLS",
    "a2h": "ours, every filter, 2 loops, HTTP", "a2t": "ours, every filter, 2 loops, TLS",
    "ours": "ours: gateway + processing + audit, PostgreSQL and Redis", "fastapi": "seed 000 on FastAPI (uvicorn, 1 process)",
}
NGINX_OF = {s: "n" + s[1:] for s in ("f1h", "f1t", "a1h", "a1t", "f2h", "f2t", "a2h", "a2t", "h1h", "h1t", "h2h", "h2t")}
HAPROXY_OF = {s: "h" + s[1:] for s in ("f1h", "f1t", "a1h", "a1t", "f2h", "f2t", "a2h", "a2t")}


def by(part):
    out = {}
    for r in rows:
        if r["part"] == part:
            out.setdefault(r["scen"], []).append(r)
    return out


def med(rs, field):
    return statistics.median(float(r[field]) for r in rs)


def ratio(part, a, b, field="rps"):
    """Median over rounds of a/b, each round's two figures side by side."""
    d = by(part)
    if a not in d or b not in d:
        return None
    pairs = {r["round"]: float(r[field]) for r in d[b]}
    vals = [float(r[field]) / pairs[r["round"]] for r in d[a] if r["round"] in pairs and pairs[r["round"]] > 0]
    return statistics.median(vals) if vals else None


targets = []


def target(text, ok, figure):
    targets.append(f"| {text} | {figure} | {'met' if ok else 'NOT met'} |")


proxy = by("proxy")
if proxy:
    print(f"\n## Proxy: POST /process, wrk -t2, medians of {len(proxy.get('up', []))} rounds\n")
    print("| target | req/s | p50 ms | p99 ms | proxy CPU-µs/req | × nginx req/s (same protocol, workers = loops) "
          "| × HAProxy req/s (threads = loops) | upstream CPU-µs/req | Redis CPU-µs/req | Redis calls/req |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for s in LABEL:
        if s not in proxy:
            continue
        rs = proxy[s]
        x = ratio("proxy", s, NGINX_OF[s]) if s in NGINX_OF else None
        xh = ratio("proxy", s, HAPROXY_OF[s]) if s in HAPROXY_OF else None
        cpu = "" if s == "up" else "%.1f" % med(rs, "cpu_proxy")
        xs = "" if x is None else "%.2f" % x
        xhs = "" if xh is None else "%.2f" % xh
        calls = "%.3f" % med(rs, "redis_calls") if rs[0].get("redis_calls") not in (None, "") else ""
        print(f"| {LABEL[s]} | {med(rs, 'rps'):,.0f} | {med(rs, 'p50_us') / 1000:.2f} | {med(rs, 'p99_us') / 1000:.2f} "
              f"| {cpu} | {xs} | {xhs} "
              f"| {med(rs, 'cpu_upstream'):.1f} | {med(rs, 'cpu_redis'):.1f} | {calls} |")
    for s in ("a1h", "a1t", "a2h", "a2t"):
        x = ratio("proxy", s, NGINX_OF[s])
        if x is None:
            continue
        cpu, ncpu = med(proxy[s], "cpu_proxy"), med(proxy[NGINX_OF[s]], "cpu_proxy")
        redis = med(proxy[s], "cpu_redis")
        target(f"{LABEL[s]}: ≥ 1.0× nginx's req/s", x >= 1.0, f"{x:.2f}×")
        xh = ratio("proxy", s, HAPROXY_OF[s])
        if xh is not None:
            target(f"{LABEL[s]}: ≥ 1.0× HAProxy's req/s", xh >= 1.0, f"{xh:.2f}×")
        target(f"{LABEL[s]}: gateway + Redis ≤ nginx's CPU-µs per request", cpu + redis <= ncpu,
               f"{cpu:.1f} + {redis:.1f} vs {ncpu:.1f} µs")
    for s in ("f1h", "f1t"):
        if s in proxy and NGINX_OF[s] in proxy:
            cpu, ncpu = med(proxy[s], "cpu_proxy"), med(proxy[NGINX_OF[s]], "cpu_proxy")
            target(f"{LABEL[s]}: ≤ 0.8× nginx's CPU-µs per request", cpu <= 0.8 * ncpu, f"{cpu / ncpu:.2f}×")
    for a, f in (("a1h", "f1h"), ("a1t", "f1t"), ("a2h", "f2h"), ("a2t", "f2t")):
        x = ratio("proxy", a, f)
        if x is not None:
            where = LABEL[a].split(", ", 2)[2]
            target(f"every filter costs ≤ 15% of no-filter throughput ({where})", 1 - x <= 0.15, f"{(1 - x) * 100:.0f}%")

h2 = by("h2")
if h2:
    print(f"\n## HTTP/2 over TLS: POST /process, h2load -c{os.environ.get('CONNS', '64')} -m{os.environ.get('STREAMS', '10')} -t2, "
          f"medians of {len(h2.get('n1t', []))} rounds\n")
    print("| target | req/s | proxy CPU-µs/req | × nginx req/s (workers = loops) | × HAProxy req/s (threads = loops) "
          "| upstream CPU-µs/req | Redis CPU-µs/req |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for s_ in ("n1t", "h1t", "a1t", "n2t", "h2t", "a2t"):
        if s_ not in h2:
            continue
        rs = h2[s_]
        x = ratio("h2", s_, "n" + s_[1:]) if s_[0] != "n" else None
        xh = ratio("h2", s_, "h" + s_[1:]) if s_[0] == "a" else None
        print(f"| {LABEL[s_]} | {med(rs, 'rps'):,.0f} | {med(rs, 'cpu_proxy'):.1f} | {'' if x is None else '%.2f' % x} "
              f"| {'' if xh is None else '%.2f' % xh} | {med(rs, 'cpu_upstream'):.1f} | {med(rs, 'cpu_redis'):.1f} |")
    for a in ("a1t", "a2t"):
        if a not in h2:
            continue
        cpu = med(h2[a], "cpu_proxy") + med(h2[a], "cpu_redis")
        for peer, name in (("n" + a[1:], "nginx"), ("h" + a[1:], "HAProxy")):
            x = ratio("h2", a, peer)
            if x is None:
                continue
            pcpu = med(h2[peer], "cpu_proxy")
            target(f"HTTP/2, {LABEL[a].split(', ', 1)[1]}: ≥ 1.0× {name}'s req/s at no more CPU per request",
                   x >= 1.0 and cpu <= pcpu, f"{x:.2f}×, {cpu:.1f} vs {pcpu:.1f} µs")

sys_path, alloc_path = os.environ.get("SYS_TSV"), os.environ.get("ALLOC_TSV")
if sys_path and os.path.exists(sys_path):
    sys_rows = list(csv.DictReader(open(sys_path), delimiter="\t"))
    if sys_rows:
        print("\n## System calls per request (strace -c -f, 3 s at the proxy part's load, HTTP)\n")
        print("| target | calls/req | the most frequent |")
        print("|---|---:|---|")
        by_id = {r["scen"]: float(r["calls_per_request"]) for r in sys_rows}
        for r in sys_rows:
            print(f"| {LABEL.get(r['scen'], r['scen'])} | {float(r['calls_per_request']):.2f} | {r['top'].rstrip(', ')} |")
        if "a1h" in by_id and "n1h" in by_id:
            target("system calls per request ≤ nginx's", by_id["a1h"] <= by_id["n1h"],
                   f"{by_id['a1h']:.2f} vs {by_id['n1h']:.2f}")
if alloc_path and os.path.exists(alloc_path):
    for r in csv.DictReader(open(alloc_path), delimiter="\t"):
        print(f"\nHeap allocations of our gateway's loop per proxied POST /process through every filter: "
              f"{r['allocations_per_request']} (gateway_alloc_tests)")

half = by("half")
if half:
    print(f"\n## Latency at half of our peak (paced connections), medians of {len(half.get('up', []))} rounds\n")
    print("| target | req/s | p50 ms | p99 ms | p99 added over the upstream direct | proxy CPU-µs/req |")
    print("|---|---:|---:|---:|---:|---:|")
    up99 = med(half["up"], "p99_us") if "up" in half else None
    for s in ("up", "n1h", "a1h"):
        if s not in half:
            continue
        rs = half[s]
        added = "" if s == "up" or up99 is None else "%.2f ms" % ((med(rs, "p99_us") - up99) / 1000)
        cpu = "" if s == "up" else "%.1f" % med(rs, "cpu_proxy")
        print(f"| {LABEL[s]} | {med(rs, 'rps'):,.0f} | {med(rs, 'p50_us') / 1000:.2f} | {med(rs, 'p99_us') / 1000:.2f} "
              f"| {added} | {cpu} |")
    if up99 is not None and "a1h" in half:
        added = (med(half["a1h"], "p99_us") - up99) / 1000
        target("p99 at half load: < 1 ms added over the upstream direct", added < 1.0, f"{added:.2f} ms")

e2e = by("e2e")
if e2e:
    print(f"\n## POST /process end to end, medians of {len(e2e.get('ours', []))} rounds\n")
    print("| target | req/s | p50 ms | p99 ms | CPU-µs/req (our three services / uvicorn) |")
    print("|---|---:|---:|---:|---:|")
    for s in ("ours", "fastapi"):
        if s in e2e:
            rs = e2e[s]
            print(f"| {LABEL[s]} | {med(rs, 'rps'):,.0f} | {med(rs, 'p50_us') / 1000:.2f} | {med(rs, 'p99_us') / 1000:.2f} "
                  f"| {med(rs, 'cpu_proxy'):.1f} |")
    x = ratio("e2e", "ours", "fastapi")
    if x is not None:
        target("POST /process end to end: ≥ 25× FastAPI's req/s", x >= 25, f"{x:.1f}×")

STREAM_LABEL = {"up": "upstream direct", "n1h": "nginx, 1 worker, HTTP", "n1t": "nginx, 1 worker, TLS",
                "a1h": "ours, every filter, 1 loop, HTTP", "a1t": "ours, every filter, 1 loop, TLS"}
stream_bytes = int(os.environ.get("STREAM_BYTES", "10485760"))
for part, what in (("upload", "PUT /jobs/upload"), ("download", "GET /jobs/big")):
    d = by(part)
    if not d:
        continue
    print(f"\n## Streaming: {what}, {stream_bytes / 2**20:g} MiB bodies, wrk -t1 -c4, medians of "
          f"{len(d.get('up', []))} rounds\n")
    print("| through | MiB/s | p50 ms | p99 ms | proxy CPU-ms per GiB | × nginx MiB/s (same protocol) | × nginx CPU |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for s_ in STREAM_LABEL:
        if s_ not in d:
            continue
        rs = d[s_]
        mibs = med(rs, "rps") * stream_bytes / 2**20
        cpu = "" if s_ == "up" else "%.0f" % (med(rs, "cpu_proxy") / 1000 * 2**30 / stream_bytes)
        n = "n" + s_[1:] if s_.startswith("a") else None
        x = ratio(part, s_, n) if n else None
        xc = ratio(part, s_, n, "cpu_proxy") if n else None
        print(f"| {STREAM_LABEL[s_]} | {mibs:,.0f} | {med(rs, 'p50_us') / 1000:.1f} | {med(rs, 'p99_us') / 1000:.1f} | {cpu} "
              f"| {'' if x is None else '%.2f' % x} | {'' if xc is None else '%.2f' % xc} |")

if idle_rows:
    print(f"\n## {idle_n} idle keep-alive connections (one request each)\n")
    print("| server | protocol | open | RSS before MB | RSS with them MB | KB per connection |")
    print("|---|---|---:|---:|---:|---:|")
    for r in idle_rows:
        n, b, a = int(r["open"]), int(r["rss_before_kb"]), int(r["rss_kb"])
        per = f"{(a - b) / n:.1f}" if n else ""
        print(f"| {r['target']} | {r['proto']} | {n:,} | {b / 1024:.1f} | {a / 1024:.1f} | {per} |")
        if r["target"] == "ours" and r["proto"] == "h2":
            peer = [x for x in idle_rows if x["target"] == "nginx" and x["proto"] == "h2"]
            if peer and n and int(peer[0]["open"]):
                mine = (a - b) / n
                theirs = (int(peer[0]["rss_kb"]) - int(peer[0]["rss_before_kb"])) / int(peer[0]["open"])
                target(f"{idle_n} idle HTTP/2 connections: KB per connection ≤ nginx's + 25%", mine <= 1.25 * theirs,
                       f"{mine:.1f} vs {theirs:.1f} KB")
        elif r["target"] == "ours":
            cap = 100 if r["proto"] == "plain" else 250
            target(f"{idle_n} idle connections, {r['proto']}: RSS < {cap} MB", a / 1024 < cap and str(n) == idle_n,
                   f"{a / 1024:.1f} MB, {n:,} open")

if targets:
    print("\n## Targets (issues 12, 24 and 25)\n")
    print("| target | this run | |")
    print("|---|---:|---|")
    print("\n".join(targets))
