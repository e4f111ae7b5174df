#!/usr/bin/env python3
"""Hostile-client regression suite: one case per finding of issue 7, played against a running
stack through the TLS gateway (tests/e2e/hostile.sh starts it with short timeouts and caps).
Standard library only. Prints one line per check; exits 1 when any failed."""
import base64
import hashlib
import hmac
import http.client
import json
import os
import random
import socket
import ssl
import string
import time

E = os.environ
GW = int(E["HTTPS_PORT"])
PLAIN = int(E["HTTP_PORT"])
METRICS = int(E["METRICS_PORT"])
KEY = E["API_KEY"]
CTX = ssl.create_default_context(cafile=E["CA_CERT"])
LOGS = os.path.join(E["HOSTILE_DIR"], "logs")
HEADER_TIMEOUT = 1.5  # HEADER_TIMEOUT_MS of hostile.sh
FAILS = []


def check(name, ok, detail=""):
    print(("  ok   " if ok else "  FAIL ") + name + ("" if ok else f": {detail}"), flush=True)
    if not ok:
        FAILS.append(name)


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256(secret, claims):
    head = b64(b'{"alg":"HS256","typ":"JWT"}') + "." + b64(json.dumps(claims).encode())
    sig = hmac.new(secret.encode(), head.encode(), hashlib.sha256).digest()
    return head + "." + b64(sig)


def now():
    return int(time.time())


def jwt(**extra):
    claims = {"sub": "hostile", "exp": now() + 600}
    claims.update(extra)
    return hs256(E["JWT_SECRET"], claims)


def https(method, path, body=None, headers=None, timeout=10):
    c = http.client.HTTPSConnection("localhost", GW, context=CTX, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        c.close()


def envelope(data):
    try:
        return json.loads(data)
    except ValueError:
        return {}


def tls_socket(timeout=10, source=None):
    raw = socket.create_connection(("127.0.0.1", GW), timeout=timeout, source_address=source)
    return CTX.wrap_socket(raw, server_hostname="localhost")


def read_all(s, limit=5.0):
    """Everything until the server closes (or `limit` seconds)."""
    s.settimeout(limit)
    out = b""
    end = time.monotonic() + limit
    try:
        while time.monotonic() < end:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except (socket.timeout, ConnectionResetError, ssl.SSLError, OSError):
        pass
    return out


def metrics_text():
    c = http.client.HTTPConnection("127.0.0.1", METRICS, timeout=5)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    c.close()
    return text


def metric(text, prefix):
    for line in text.splitlines():
        if line.startswith(prefix):
            return float(line.rsplit(" ", 1)[1])
    return None


def log_lines(service, needle):
    with open(os.path.join(LOGS, service + ".log"), errors="replace") as f:
        return sum(1 for line in f if needle in line)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def alive_ready(port):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
        c.request("GET", "/ready")
        ok = c.getresponse().status == 200
        c.close()
        return ok
    except OSError:
        return False


# ---------------------------------------------------------------------------------------- 1
def nested_json():
    print("1. nested JSON")
    deep = "[" * 48000 + "]" * 48000
    status, _, data = https("POST", "/api/test", deep, {"X-API-Key": KEY, "Content-Type": "application/json"})
    err = envelope(data).get("error", {})
    check("48,000 levels to /api/test: 422", status == 422, f"{status} {data[:200]!r}")
    check("the envelope names the depth limit", "too_deep" in json.dumps(err.get("details")), err)
    body = '{"dataset_id":"d","action":"summarize","payload":{"rows":' + deep + "}}"
    status, _, data = https("POST", "/process", body, {"X-API-Key": KEY, "Authorization": "Bearer " + jwt(),
                                                        "Content-Type": "application/json"})
    check("48,000 levels inside /process payload: 422", status == 422, f"{status} {data[:200]!r}")
    many = "[" + ",".join(["1"] * 150000) + "]"
    status, _, _ = https("POST", "/api/test", '{"a":' + many + "}", {"X-API-Key": KEY})
    check("150,000 elements: 422", status == 422, status)
    check("processing still alive", alive_ready(int(E["PROCESSING_PORT"])))
    ok, _, _ = https("POST", "/api/test", '{"a":[[1]]}', {"X-API-Key": KEY})
    check("ordinary nesting still served", ok == 200, ok)


# ---------------------------------------------------------------------------------------- 2
def fd_exhaustion():
    print("2. file descriptors exhausted (gateway limited to 200)")
    pid = int(E["GATEWAY_PID"])
    failing_before = log_lines("gateway", "accept failing")
    socks = []
    for i in range(320):  # 8 source addresses, 40 each: under the per-client cap of 50
        s = socket.socket()
        s.bind((f"127.0.0.{10 + i % 8}", 0))
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", PLAIN))
        except BlockingIOError:
            pass
        socks.append(s)
    time.sleep(0.2)
    cpu0 = cpu_seconds(pid)
    time.sleep(1.0)  # descriptors stay exhausted until the header timeout frees them
    cpu = cpu_seconds(pid) - cpu0
    check("no busy loop while out of descriptors (CPU < 0.3 s in 1 s)", cpu < 0.3, f"{cpu:.2f} s")
    for s in socks:
        s.close()
    time.sleep(HEADER_TIMEOUT + 1.0)
    failing = log_lines("gateway", "accept failing") - failing_before
    check("one log line per episode", 1 <= failing <= 3, f"{failing} lines")
    check("accept resumed, logged", log_lines("gateway", "accept resumed") >= 1)
    status, _, _ = https("GET", "/health")
    check("served again afterwards", status == 200, status)
    m = metric(metrics_text(), 'http_connections_refused_total{reason="fd_exhausted"}')
    check("fd_exhausted refusals counted", m is not None and m >= 1, m)


# ---------------------------------------------------------------------------------------- 3
def metric_labels():
    print("3. metric label sets are closed")
    c = http.client.HTTPSConnection("localhost", GW, context=CTX, timeout=10)

    def send(method, path):
        c.request(method, path)
        c.getresponse().read()

    send("XWARMUP", "/warm-up-" + "x")
    send("XWARMUP", "/process")
    send("GET", "/nope")
    text = metrics_text()
    before = sum(1 for line in text.splitlines() if line and not line.startswith("#"))
    size = len(text)
    rnd = random.Random(7)
    for _ in range(300):
        method = "".join(rnd.choice(string.ascii_uppercase) for _ in range(12))
        path = "/" + "".join(rnd.choice(string.ascii_lowercase) for _ in range(16))
        send(method, path)
        send(method, "/process")
        send("GET", path)
    c.close()
    text = metrics_text()
    after = sum(1 for line in text.splitlines() if line and not line.startswith("#"))
    check("900 random methods and paths add no series", after == before, f"{before} -> {after}")
    check("exposition did not grow", len(text) < size + 2000, f"{size} -> {len(text)}")


# ---------------------------------------------------------------------------------------- 4
def slow_clients():
    print("4. slow clients")
    head = b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Pad: " + b"a" * 60 + b"\r\n"

    def trickle(s):
        start = time.monotonic()
        try:
            for i in range(len(head)):
                s.send(head[i:i + 1])
                time.sleep(0.1)  # the whole head would take 8 s
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            pass
        s.settimeout(3)
        try:
            while s.recv(1024):
                pass
        except (socket.timeout, OSError, ssl.SSLError):
            pass
        return time.monotonic() - start

    s = tls_socket()
    took = trickle(s)
    check("new TLS connection, head trickled: cut near the header timeout", took < HEADER_TIMEOUT + 1.5, f"{took:.1f} s")
    s.close()

    s = tls_socket()
    s.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
    first = s.recv(65536)
    time.sleep(HEADER_TIMEOUT + 0.5)  # idle longer than the header timeout: still open
    s.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
    second = read_until_body(s)
    check("keep-alive waits the idle timeout, not the header timeout", first.startswith(b"HTTP/1.1 200")
          and second.startswith(b"HTTP/1.1 200"), second[:40])
    took = trickle(s)
    check("keep-alive connection, next head trickled: cut near the header timeout", took < HEADER_TIMEOUT + 1.5,
          f"{took:.1f} s")
    s.close()

    s = tls_socket()
    start = time.monotonic()
    left = read_all(s, 6)
    took = time.monotonic() - start
    check("idle TLS connection after the handshake: closed at the header timeout", took < HEADER_TIMEOUT + 1.5 and not left,
          f"{took:.1f} s")
    s.close()

    held, refused = [], 0
    for _ in range(60):
        s = socket.socket()
        s.bind(("127.0.0.5", 0))
        s.connect(("127.0.0.1", PLAIN))
        held.append(s)
    time.sleep(0.3)
    for s in held:
        s.setblocking(False)
        try:
            if s.recv(1) == b"":
                refused += 1
        except BlockingIOError:
            pass
        except ConnectionResetError:
            refused += 1
    check("per-client cap: 10 of 60 connections refused at once", refused == 10, refused)
    other = socket.create_connection(("127.0.0.1", PLAIN), source_address=("127.0.0.6", 0), timeout=5)
    other.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    check("another client is still served", read_all(other).startswith(b"HTTP/1.1 200"))
    other.close()
    for s in held:
        s.close()
    m = metric(metrics_text(), 'http_connections_refused_total{reason="per_client"}')
    check("per_client refusals counted", m is not None and m >= 10, m)


def read_until_body(s):
    s.settimeout(5)
    out = b""
    while b"\r\n\r\n" not in out:
        chunk = s.recv(65536)
        if not chunk:
            break
        out += chunk
    head, _, rest = out.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    while len(rest) < length:
        chunk = s.recv(65536)
        if not chunk:
            break
        rest += chunk
    return out


# ---------------------------------------------------------------------------------------- 5, 6
def framing():
    print("5/6. framing: Transfer-Encoding and Host")
    smuggled = b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n"
    auth = f"X-API-Key: {KEY}\r\n".encode()
    for te in [b"xchunked", b"chunked, identity", b"identity"]:
        for cl in [b"", b"Content-Length: 4\r\n"]:
            s = tls_socket()
            s.sendall(b"POST /api/test HTTP/1.1\r\nHost: localhost\r\n" + auth + b"Transfer-Encoding: " + te + b"\r\n" + cl +
                      b"\r\n" + (b"{}\r\n" if cl else b"") + smuggled)
            out = read_all(s)
            s.close()
            name = f"TE {te.decode()!r}{' + CL' if cl else ''}: 400, closed, nothing smuggled"
            check(name, out.startswith(b"HTTP/1.1 400") and out.count(b"HTTP/1.1 ") == 1, out[:60])
    s = tls_socket()
    s.sendall(b"POST /api/test HTTP/1.1\r\nHost: localhost\r\n" + auth +
              b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + smuggled)
    out = read_all(s)
    check("TE chunked + CL: 400, closed", out.startswith(b"HTTP/1.1 400") and out.count(b"HTTP/1.1 ") == 1, out[:60])
    for name, head in [("no Host", b"GET /health HTTP/1.1\r\n\r\n"),
                       ("two Hosts", b"GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")]:
        s = tls_socket()
        s.sendall(head)
        out = read_all(s)
        check(f"HTTP/1.1 with {name}: 400", out.startswith(b"HTTP/1.1 400"), out[:60])


# ---------------------------------------------------------------------------------------- 7, 8
def methods(admin_token):
    print("7/8. HEAD, TRACE and unknown methods")
    start = time.monotonic()
    status, headers, body = https("HEAD", "/audit/requests?limit=1", headers={"Authorization": "Bearer " + admin_token})
    took = time.monotonic() - start
    check("HEAD forwarded to a service: answered at once", status == 200 and took < 2 and not body, f"{status} {took:.1f} s")
    check("HEAD keeps the GET body's length", int(headers.get("content-length", "0")) > 0, headers.get("content-length"))
    start = time.monotonic()
    status, headers, _ = https("HEAD", "/auth/login")
    check("HEAD on POST-only /auth/login: 405 at once", status == 405 and time.monotonic() - start < 2, status)
    check("405 names what is allowed", headers.get("allow") == "POST", headers.get("allow"))
    status, headers, data = https("TRACE", "/process", "secret-body", {"X-API-Key": KEY})
    err = envelope(data).get("error", {})
    check("TRACE with a body: 405 with Allow", status == 405 and headers.get("allow") == "POST", f"{status} {headers.get('allow')}")
    check("the 405 carries its request id", err.get("request_id") and err.get("request_id") == headers.get("x-request-id"), err)
    status, _, _ = https("FROB", "/audit/requests")
    check("unknown method: 405 before forwarding", status == 405, status)


# ---------------------------------------------------------------------------------------- 9
def text_inputs():
    print("9. text inputs")
    status, _, data = https("POST", "/auth/login", "username=%b7&password=x",
                            {"Content-Type": "application/x-www-form-urlencoded"})
    check("invalid UTF-8 in a form field: 422", status == 422, f"{status} {data[:120]!r}")
    status, _, _ = https("POST", "/auth/login", "username=a%00b&password=x",
                         {"Content-Type": "application/x-www-form-urlencoded"})
    check("NUL in a form field: 422", status == 422, status)
    status, _, _ = https("POST", "/auth/login", '{"username":"a\\u0000b","password":"x"}',
                         {"Content-Type": "application/json"})
    check("U+0000 in a JSON field: 422", status == 422, status)
    status, _, _ = https("POST", "/auth/register", b'{"username":"\xb7\xb7\xb7","email":"a@b.io","password":"Aa1!aaaa"}',
                         {"Content-Type": "application/json"})
    check("invalid UTF-8 in JSON: 422", status == 422, status)
    status, _, _ = https("POST", "/process", '{"dataset_id":"a\\u0000","action":"count"}',
                         {"X-API-Key": KEY, "Authorization": "Bearer " + jwt()})
    check("U+0000 in a /process field: 422 (never reaches the audit store)", status == 422, status)


# ------------------------------------------------------------------------------------ body limit
def oversized_body():
    print("an oversized body, sent whole before the answer is read; limits by tier (seed 003)")
    # http.client sends the entire body, then reads: the 413 must survive the refused upload
    # (before, the connection was reset and the client saw only an EOF). The free key's cap is
    # 5 MiB, an anonymous caller's 2 MiB.
    free_key = E["API_KEY_2"]
    for size, chunked, path, key, cap in ((6_000_000, False, "/api/test", free_key, 5 << 20),
                                          (6_000_000, True, "/api/test", free_key, 5 << 20),
                                          (3_000_000, False, "/auth/login", None, 2 << 20)):
        who = "free key" if key else "anonymous"
        name = f"{size // 1_000_000} MB {who} ({'chunked' if chunked else 'Content-Length'}): a complete 413 naming the cap"
        c = http.client.HTTPSConnection("localhost", GW, context=CTX, timeout=20)
        try:
            body = (b"a" * 65536 for _ in range(size // 65536)) if chunked else b"a" * size
            headers = {"Content-Type": "application/json"}
            if key:
                headers["X-API-Key"] = key
            c.request("POST", path, body=body, headers=headers, encode_chunked=chunked)
            r = c.getresponse()
            data = envelope(r.read()).get("error", {})
            check(name, r.status == 413 and data.get("code") == "PAYLOAD_TOO_LARGE"
                  and data.get("details", {}).get("limit_bytes") == cap, (r.status, data))
        except OSError as e:
            check(name, False, f"{type(e).__name__}: {e}")
        finally:
            c.close()
    # Expect: 100-continue is answered only once the head passed authentication: a caller without
    # credentials gets its 401 at once and is never invited to send the body.
    for label, auth, want in (("no credentials", b"", b"HTTP/1.1 401"),
                              ("a valid key", f"X-API-Key: {KEY}\r\n".encode(), b"HTTP/1.1 100")):
        s = tls_socket()
        s.sendall(b"POST /api/test HTTP/1.1\r\nHost: localhost\r\n" + auth +
                  b"Content-Type: application/json\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n")
        s.settimeout(5)
        try:
            first = s.recv(65536)
        except OSError as e:
            first = repr(e).encode()
        check(f"Expect: 100-continue with {label}: {want.decode()[9:]} first", first.startswith(want), first[:40])
        s.close()


# ---------------------------------------------------------------------------------------- 10, 11
def credentials():
    print("10/11. credentials")
    status, _, _ = https("POST", f"/api/test?api%5Fkey={KEY}", "{}")
    check("api%5Fkey authenticates like api_key", status == 200, status)
    status, _, data = https("POST", f"/api/test?api_key={KEY}&x=%zz", "{}")
    check("malformed query string: 400", status == 400, f"{status} {data[:100]!r}")
    status, _, data = https("POST", "/api/test", "{}", {"Authorization": "Bearer " + jwt(exp=1e308)})
    check("exp 1e308: 401", status == 401 and b"not an integer" in data, f"{status} {data[:120]!r}")
    status, _, data = https("POST", "/api/test", "{}", {"Authorization": "Bearer " + jwt(exp=now() + 2 * 86400)})
    check("exp two days ahead: 401 (lifetime cap)", status == 401 and b"lifetime" in data, f"{status} {data[:120]!r}")
    status, _, _ = https("POST", "/api/test", "{}", {"Authorization": "Bearer " + jwt()})
    check("a ten-minute token still works", status == 200, status)
    # Guessing issued keys (sk_<prefix>_<secret>) at line rate: each unknown one costs auth-user a
    # look-up, so an address gets 30 a minute, then 429 without any.
    statuses = []
    for _ in range(40):
        guess = "sk_" + os.urandom(4).hex() + "_" + base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
        status, _, _ = https("GET", "/api/status", None, {"X-API-Key": guess})
        statuses.append(status)
    # (The budget refills smoothly, one look-up per 2 s: a slow run sees an occasional 401 later.)
    check("40 guessed issued keys: 30 looked up (401), then 429", statuses[:31] == [401] * 30 + [429] and
          statuses[30:].count(429) >= 7, f"{statuses}")


# ---------------------------------------------------------------------------------------- 12
def identity_replay():
    print("12. internal identity bound to its request")
    audit = int(E["AUDIT_PORT"])
    processing = int(E["PROCESSING_PORT"])

    def token(rid, method, path, ttl=30):
        return hs256(E["INTERNAL_TOKEN_SECRET"], {
            "iss": "suite-gateway", "aud": "suite-internal", "sub": "admin", "roles": ["admin"], "tier": "pro",
            "amr": "jwt", "kid": "", "cip": "127.0.0.1", "rid": rid, "mth": method, "pth": path,
            "iat": now(), "exp": now() + ttl})

    def direct(port, method, path, tok, rid, body=None):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request(method, path, body=body, headers={"X-Internal-Identity": tok, "X-Request-ID": rid})
        status = c.getresponse().status
        c.close()
        return status

    t = token("hostile-rid-1", "GET", "/audit/requests")
    check("the token works for its own request", direct(audit, "GET", "/audit/requests", t, "hostile-rid-1") == 200)
    check("replayed with another request id: 401", direct(audit, "GET", "/audit/requests", t, "hostile-rid-2") == 401)
    check("replayed on another path and method: 401",
          direct(processing, "POST", "/process", t, "hostile-rid-1", "{}") == 401)
    long = token("hostile-rid-3", "GET", "/audit/requests", ttl=3600)
    check("a token claiming an hour: 401", direct(audit, "GET", "/audit/requests", long, "hostile-rid-3") == 401)


# ---------------------------------------------------------------------------------------- auth
def login_throttle():
    print("login attempts per client address (LOGIN_RATE_PER_MINUTE=8)")
    codes, retry = [], None
    # 20 attempts (plus the 4 earlier logins): over any split across two one-minute windows of
    # 8 each, at least 8 are refused.
    for _ in range(20):
        status, headers, _ = https("POST", "/auth/login", "username=nobody&password=Wrong-pass1!",
                                   {"Content-Type": "application/x-www-form-urlencoded"})
        codes.append(status)
        if status == 429:
            retry = headers.get("retry-after")
    check("a guessing client is throttled with 429", 429 in codes, codes)
    check("the 429 says when to come back", retry is not None and 1 <= int(retry) <= 60, retry)


def main():
    status, _, data = https("POST", "/auth/login", json.dumps({"username": E["ADMIN_USERNAME"], "password": E["ADMIN_PASSWORD"]}),
                            {"Content-Type": "application/json"})
    admin = envelope(data).get("access_token", "")
    check("admin login", status == 200 and admin, status)
    nested_json()
    fd_exhaustion()
    metric_labels()
    slow_clients()
    framing()
    methods(admin)
    text_inputs()
    oversized_body()
    credentials()
    identity_replay()
    login_throttle()
    print(f"hostile: {len(FAILS)} failure(s)")
    raise SystemExit(1 if FAILS else 0)


if __name__ == "__main__":
    main()
