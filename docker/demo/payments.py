"""PLACEHOLDER upstream for the compose demo: a fake "payments" service (stdlib only).

Stands in for the real dependency that stuntman sits in front of. Answers:
  GET  /health              200 {"status": "ok"}
  POST /api/payments        201 {"id": "pay_N", "status": "accepted", "amount": ...}
  GET  /api/payments/{id}   200 {"id": ..., "status": "accepted"}
  anything else             404
Listens on $HOST:$PORT (default 0.0.0.0:8080).
"""
import itertools
import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ids = itertools.count(1)


class Payments(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.path == "/health":
            self.reply(200, {"status": "ok"})
        elif self.path.startswith("/api/payments/"):
            self.reply(200, {"id": self.path.rsplit("/", 1)[1], "status": "accepted"})
        else:
            self.reply(404, {"error": "not found"})

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path != "/api/payments":
            return self.reply(404, {"error": "not found"})
        try:
            amount = json.loads(body or b"{}").get("amount")
        except (ValueError, AttributeError):
            return self.reply(400, {"error": "expected a JSON object"})
        self.reply(201, {"id": f"pay_{next(ids)}", "status": "accepted", "amount": amount})

    def reply(self, status, doc):
        data = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        print(f"payments: {self.address_string()} {fmt % args}", flush=True)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # PID 1 in a container: exit on stop
    server = ThreadingHTTPServer((os.environ.get("HOST", "0.0.0.0"), int(os.environ.get("PORT", "8080"))), Payments)
    print(f"payments (placeholder) on {server.server_address[0]}:{server.server_address[1]}", flush=True)
    server.serve_forever()
