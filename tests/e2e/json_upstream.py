"""The e2e tests' upstream: HTTP/1.1 keep-alive, {"ok":true} to every POST. For the streaming
test: POST /jobs/sum reads its body (declared or chunked) a piece at a time and answers its
size and SHA-256; GET /jobs/big?n=N answers N bytes of a pattern with a Content-Length,
/jobs/chunked?n=N the same chunked; GET /jobs/stats counts the sums made. Usage: json_upstream.py port"""
import hashlib
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PATTERN = bytes(range(256)) * 4096  # 1 MiB
STATS = {"sums": 0}
LOCK = threading.Lock()


def pattern_pieces(n):
    while n > 0:
        piece = PATTERN[:min(n, len(PATTERN))]
        n -= len(piece)
        yield piece


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self, body, status=200):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def pieces(self, left):
        while left > 0:
            piece = self.rfile.read(min(left, 1 << 20))
            if not piece:
                raise ConnectionError("truncated body")
            left -= len(piece)
            yield piece

    def body_pieces(self):
        if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
            yield from self.pieces(int(self.headers.get("Content-Length", 0)))
            return
        while True:
            size = int(self.rfile.readline().split(b";")[0], 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return
            yield from self.pieces(size)
            self.rfile.readline()

    def do_POST(self):
        if not self.path.startswith("/jobs/sum"):
            for _ in self.body_pieces():
                pass
            return self.answer(b'{"ok":true}')
        digest, size = hashlib.sha256(), 0
        try:
            for piece in self.body_pieces():
                digest.update(piece)
                size += len(piece)
        except (ConnectionError, ValueError):
            self.close_connection = True
            return  # an incomplete request is never acted on
        with LOCK:
            STATS["sums"] += 1
        self.answer(json.dumps({"bytes": size, "sha256": digest.hexdigest()}).encode())

    def do_GET(self):
        url = urlsplit(self.path)
        n = int(parse_qs(url.query).get("n", ["0"])[0])
        if url.path == "/jobs/stats":
            with LOCK:
                return self.answer(json.dumps(STATS).encode())
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if url.path == "/jobs/chunked":
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for piece in pattern_pieces(n):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("Content-Length", str(n))
            self.end_headers()
            for piece in pattern_pieces(n):
                self.wfile.write(piece)

    def log_message(self, *a):
        pass


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
