#!/usr/bin/env python3
"""Load for the fault tests: POST /process through one HTTPS address until a stop file exists.

  load_client.py <url> <ca file> <out file> <stop file> <threads> <api key> <bearer token> <tag> [pause s]

Each thread keeps one connection (opened again after any failure) and sends requests one after
another, each with its own X-Request-ID (<tag>-<thread>-<n>); every attempt is written to the out
file as "<unix time> <request id> <status>" (status 000: no answer, the connection failed). With a
pause, each thread waits that long between requests (a client at a known rate).
"""
import http.client
import os
import ssl
import sys
import threading
import time
from urllib.parse import urlparse


def main():
    url, ca, out_path, stop, threads, key, token, tag = sys.argv[1:9]
    pause = float(sys.argv[9]) if len(sys.argv) > 9 else 0.0
    target = urlparse(url)
    context = ssl.create_default_context(cafile=ca)
    lock = threading.Lock()
    out = open(out_path, "a", buffering=1)

    def run(n):
        conn = None
        i = 0
        while not os.path.exists(stop):
            i += 1
            rid = f"{tag}-{n}-{i}"
            body = '{"dataset_id":"fault","action":"count","payload":{"items":[%d]}}' % i
            status = "000"
            try:
                if conn is None:
                    conn = http.client.HTTPSConnection(target.hostname, target.port, context=context, timeout=10)
                conn.request("POST", "/process", body=body, headers={
                    "X-API-Key": key, "Authorization": "Bearer " + token,
                    "Content-Type": "application/json", "X-Request-ID": rid})
                resp = conn.getresponse()
                resp.read()
                status = "%03d" % resp.status
                if resp.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except Exception:
                if conn is not None:
                    conn.close()
                conn = None
            with lock:
                out.write(f"{time.time():.3f} {rid} {status}\n")
            if pause:
                time.sleep(pause)

    workers = [threading.Thread(target=run, args=(n,)) for n in range(int(threads))]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


if __name__ == "__main__":
    main()
