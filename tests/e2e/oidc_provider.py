"""The issuers test's identity provider and upstream, Python's standard library only.
Over HTTPS on `https_port` (the test's certificate): /.well-known/openid-configuration names
https://localhost:<https_port> as issuer and its /jwks; /jwks serves <state>/jwks.json as it is
now (the test rewrites it to rotate keys) and counts each fetch in <state>/fetches. Over HTTP on
`http_port`, the gateway's upstream: every request is answered with the headers it carried, as
JSON. Usage: oidc_provider.py https_port http_port cert key state_dir (a port of 0: not served)"""
import json
import os
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HTTPS_PORT, HTTP_PORT, CERT, KEY, STATE = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
ISSUER = f"https://localhost:{HTTPS_PORT}"

LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class Provider(Handler):
    def do_GET(self):
        if self.path == "/.well-known/openid-configuration":
            self.answer(200, json.dumps({"issuer": ISSUER, "jwks_uri": ISSUER + "/jwks",
                                         "id_token_signing_alg_values_supported": ["RS256"]}))
        elif self.path == "/huge":  # a JWKS past any sane cap
            self.answer(200, '{"keys": [' + ",".join(['{"kty":"oct","kid":"%d","k":"AAAA"}' % i for i in range(20000)]) + "]}")
        elif self.path == "/slow":  # an issuer that never answers in time
            threading.Event().wait(30)
            self.answer(200, '{"keys": []}')
        elif self.path == "/jwks":
            with LOCK:
                path = os.path.join(STATE, "fetches")
                n = int(open(path).read()) if os.path.exists(path) else 0
                with open(path + ".tmp", "w") as f:
                    f.write(str(n + 1))
                os.replace(path + ".tmp", path)
                body = open(os.path.join(STATE, "jwks.json")).read()
            self.answer(200, body)
        else:
            self.answer(404, "{}")


class Upstream(Handler):
    def echo(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.answer(200, json.dumps({k.lower(): v for k, v in self.headers.items()}))

    do_GET = do_POST = echo


def serve(server):
    server.serve_forever()


# A port of 0: that side is not served (the test stops the provider while the upstream stays).
if HTTPS_PORT:
    https = ThreadingHTTPServer(("127.0.0.1", HTTPS_PORT), Provider)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(CERT, KEY)
    https.socket = context.wrap_socket(https.socket, server_side=True)
    threading.Thread(target=serve, args=(https,), daemon=True).start()
if HTTP_PORT:
    serve(ThreadingHTTPServer(("127.0.0.1", HTTP_PORT), Upstream))
else:
    threading.Event().wait()
