"""PLACEHOLDER application for the compose demo: your service goes here (stdlib only).

It calls its "payments" dependency at $PAYMENTS_URL, which in the demo is stuntman
(http://stuntman:8080), not the real payments service: stuntman passes the calls through and
injects the faults of docker/stubs/faults.yaml. Every $INTERVAL seconds (default 2) it charges
10 EUR and prints what came back; $REQUESTS > 0 stops after that many calls (default: forever).
"""
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request

URL = os.environ.get("PAYMENTS_URL", "http://stuntman:8080").rstrip("/")
INTERVAL = float(os.environ.get("INTERVAL", "2"))
REQUESTS = int(os.environ.get("REQUESTS", "0"))


def charge(n: int) -> str:
    request = urllib.request.Request(
        f"{URL}/api/payments", data=json.dumps({"amount": 10}).encode(), method="POST",
        headers={"Content-Type": "application/json", "X-Stuntman-Session": "demo-app"})
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            status, fault, body = resp.status, resp.headers.get("X-Stuntman-Fault"), resp.read()
    except urllib.error.HTTPError as exc:  # an injected 503 lands here
        status, fault, body = exc.code, exc.headers.get("X-Stuntman-Fault"), exc.read()
    except OSError as exc:  # resets, timeouts, refused connections
        return f"app: call {n}: failed after {(time.monotonic() - started) * 1000:.0f} ms: {exc}"
    took = (time.monotonic() - started) * 1000
    injected = f" (fault injected: {fault})" if fault else ""
    return f"app: call {n}: {status} in {took:.0f} ms{injected}: {body[:120].decode(errors='replace')}"


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # PID 1 in a container: exit on stop
    print(f"app (placeholder): calling {URL}/api/payments every {INTERVAL:g} s", flush=True)
    n = 0
    while not REQUESTS or n < REQUESTS:
        n += 1
        print(charge(n), flush=True)
        if not REQUESTS or n < REQUESTS:
            time.sleep(INTERVAL)
