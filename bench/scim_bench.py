"""Benchmark of the SCIM connector and of apply, against a local server with added latency.

Not a test: it prints its figures. Run it from the repository root:

    python bench/scim_bench.py                 # everything (about ten minutes)
    python bench/scim_bench.py --pull-only     # the pull figures only
    python bench/scim_bench.py --apply-only --actions 2000   # apply, with and without read-back

The server runs in its own process (so it does not share the client's interpreter lock),
serves prepared resources with waitress (which sets TCP_NODELAY, so keep-alive requests
pay no Nagle delay) and sleeps a fixed latency before each answer.

1. Pull: 100,000 users, 1,000 per page, 50 ms a request; users/s for max_workers 1, 4, 8,
   against the round-trip bound pages / workers x latency.
2. Apply: 10,000 disables (a GET to re-check, a PATCH, and a GET to confirm the effect),
   20 ms a request; actions/s for max_workers 1, 4, 8, each also without the confirming
   GET, to show what the confirmation costs.
3. Rate limit: 3,000 disables at rate_limit_per_minute 6000 with 8 workers; the server's
   own arrival times show the most requests seen in any 60 s and any 1 s window.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import platform
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


# --- the server (its own process) ---------------------------------------------------------


def _user(number: int) -> dict[str, Any]:
    return {
        "schemas": [USER],
        "id": f"u{number:06}",
        "externalId": f"E{number:06}" if number % 3 else None,
        "userName": f"user{number:06}",
        "displayName": f"User {number}",
        "active": True,
        "emails": [{"value": f"user{number:06}@example.com", "primary": True}],
        "meta": {
            "resourceType": "User",
            "created": "2025-01-01T00:00:00Z",
            "version": 'W/"1"',
        },
    }


class BenchApp:
    """Prepared users, a fixed latency, PATCH on ``active``, and arrival times."""

    def __init__(self, users: int, latency: float) -> None:
        self.latency = latency
        self.users = {f"u{n:06}": _user(n) for n in range(users)}
        self.order = list(self.users)
        self.encoded = [json.dumps(self.users[key]).encode() for key in self.order]
        self.arrivals: list[float] = []
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ["REQUEST_METHOD"]
        if path == "/_arrivals":
            with self.lock:
                data = json.dumps(self.arrivals).encode()
                self.arrivals = []
            return self._send(start_response, "200 OK", data)
        with self.lock:
            self.arrivals.append(time.time())
        time.sleep(self.latency)
        if path == "/v2/ServiceProviderConfig":
            body = {"patch": {"supported": True}, "etag": {"supported": True}}
            return self._send(start_response, "200 OK", json.dumps(body).encode())
        if path == "/v2/Users" and method == "GET":
            query = parse_qs(environ.get("QUERY_STRING", ""))
            start = int(query.get("startIndex", ["1"])[0])
            count = min(int(query.get("count", ["100"])[0]), 1000)
            chunk = self.encoded[start - 1 : start - 1 + count]
            head = json.dumps(
                {
                    "schemas": [LIST],
                    "totalResults": len(self.encoded),
                    "startIndex": start,
                    "itemsPerPage": len(chunk),
                }
            ).encode()
            data = head[:-1] + b', "Resources": [' + b",".join(chunk) + b"]}"
            return self._send(start_response, "200 OK", data)
        user_id = path.rsplit("/", 1)[-1]
        with self.lock:
            user = self.users.get(user_id)
            if user is None:
                return self._send(start_response, "404 Not Found", b'{"status": "404"}')
            if method == "GET":
                data = json.dumps(user).encode()
                return self._send(start_response, "200 OK", data, user["meta"]["version"])
            if method == "PATCH":
                if environ.get("HTTP_IF_MATCH") not in (None, user["meta"]["version"]):
                    return self._send(start_response, "412 Precondition Failed", b"{}")
                size = int(environ.get("CONTENT_LENGTH") or 0)
                environ["wsgi.input"].read(size)
                user["active"] = False
                version = int(user["meta"]["version"][3:-1]) + 1
                user["meta"]["version"] = f'W/"{version}"'
                return self._send(start_response, "204 No Content", b"")
        return self._send(start_response, "405 Method Not Allowed", b"{}")

    @staticmethod
    def _send(start_response: Any, status: str, data: bytes, etag: str = "") -> list[bytes]:
        headers = [("Content-Type", "application/scim+json"), ("Content-Length", str(len(data)))]
        if etag:
            headers.append(("ETag", etag))
        start_response(status, headers)
        return [data]


def _serve(users: int, latency: float, ready: Any) -> None:
    from waitress.server import create_server

    server = create_server(BenchApp(users, latency), host="127.0.0.1", port=0, threads=24)
    ready.put(server.effective_port)
    server.run()


class Server:
    def __init__(self, users: int, latency: float) -> None:
        queue: Any = multiprocessing.Queue()
        self.process = multiprocessing.Process(
            target=_serve, args=(users, latency, queue), daemon=True
        )
        self.process.start()
        self.port = queue.get(timeout=120)
        self.url = f"http://127.0.0.1:{self.port}/v2"

    def arrivals(self) -> list[float]:
        import urllib3

        response = urllib3.request("GET", f"http://127.0.0.1:{self.port}/_arrivals")
        return [float(value) for value in json.loads(response.data)]

    def stop(self) -> None:
        self.process.terminate()
        self.process.join(timeout=10)


# --- the client side ----------------------------------------------------------------------


def write_config(folder: Path, url: str, workers: int, rate: int | None = None) -> Path:
    (folder / "hr.csv").write_text("employee_id,work_email\nE1,a@example.com\n")
    limit = f"    rate_limit_per_minute: {rate}\n" if rate else ""
    path = folder / f"bench-{workers}-{rate}.yaml"
    path.write_text(
        f"""\
version: 1
source: {{name: hr, connector: csv, path: hr.csv, map: {{id: employee_id, email: work_email}}}}
targets:
  - name: app
    connector: scim
    url: {url}
    page_size: 1000
    max_workers: {workers}
{limit}    remediate: {{orphan: disable, jit-orphan: disable}}
audit_log: {folder}/actions-{workers}-{rate}.jsonl
"""
    )
    return path


def bench_pull(users: int, latency: float, workers_list: list[int]) -> None:
    from nhirecon import config

    server = Server(users, latency)
    pages = math.ceil(users / 1000)
    print(f"\n## Pull: {users:,} users, {pages} pages of 1000, {latency * 1000:.0f} ms a request")
    print("| max_workers | rows s | users/s | records s (mapped) | bound pages/W x lat | ratio |")
    print("|---|---|---|---|---|---|")
    try:
        with tempfile.TemporaryDirectory() as folder:
            for workers in workers_list:
                loaded = config.load(write_config(Path(folder), server.url, workers))
                endpoint = loaded.targets[0].endpoint
                started = time.perf_counter()
                count = sum(1 for _ in endpoint.open().rows())
                rows = time.perf_counter() - started
                assert count == users, count
                started = time.perf_counter()
                count = sum(1 for _ in endpoint.open().records())
                records = time.perf_counter() - started
                bound = pages / workers * latency
                print(
                    f"| {workers} | {rows:.2f} | {users / rows:,.0f} | {records:.2f}"
                    f" ({users / records:,.0f}/s) | {bound:.2f} | {rows / bound:.2f}x |"
                )
                server.arrivals()
            decode = _decode_floor(server.url, pages)
            print(
                f"\nClient CPU floor: decoding the {pages} pages' JSON alone takes {decode:.2f} s"
                " (one interpreter lock: it does not shrink with more workers)."
            )
    finally:
        server.stop()


def _decode_floor(url: str, pages: int) -> float:
    """Seconds this machine needs just to decode every page's JSON, one after another."""
    import urllib3

    bodies = [
        urllib3.request("GET", f"{url}/Users?startIndex={1 + page * 1000}&count=1000").data
        for page in range(pages)
    ]
    started = time.perf_counter()
    for body in bodies:
        json.loads(body)
    return time.perf_counter() - started


def _tasks(users: int) -> list[Any]:
    from nhirecon.core.model import FindingKind, Remediation
    from nhirecon.remediation import plan as planning
    from nhirecon.remediation.actions import Task

    return [
        Task(
            planning.Action(
                target="app",
                account_id=f"u{number:06}",
                action=Remediation.DISABLE,
                findings=(planning.Reason(FindingKind.ORPHAN, "bench"),),
                version='W/"1"',
                username=f"user{number:06}",
            )
        )
        for number in range(users)
    ]


def _windows(arrivals: list[float], width: float) -> int:
    arrivals = sorted(arrivals)
    most = 0
    start = 0
    for end, moment in enumerate(arrivals):
        while moment - arrivals[start] >= width:
            start += 1
        most = max(most, end - start + 1)
    return most


@contextmanager
def _not_read_back() -> Iterator[None]:
    """Apply as before writes were confirmed by their effect: no GET after the PATCH."""
    from nhirecon.remediation import actions

    real = actions._verify

    def trusting(writer: Any, action: Any, status: int) -> Any:
        return actions.ActionResult(action, actions.Outcome.DONE, status, "disabled")

    actions._verify = trusting  # type: ignore[assignment]
    try:
        yield
    finally:
        actions._verify = real  # type: ignore[assignment]


def bench_apply(actions: int, latency: float, workers_list: list[int]) -> None:
    from nhirecon import config
    from nhirecon.remediation import apply as remediation
    from nhirecon.remediation.actions import Outcome

    print(
        f"\n## Apply: {actions:,} disables, {latency * 1000:.0f} ms a request, audit log"
        " synced per action; each a GET (re-check) and a PATCH, then, when read back, a GET"
    )
    print(
        "| max_workers | read back | seconds | actions/s | bound: actions x requests x lat / W"
        " | ratio |"
    )
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for workers in workers_list:
            for read_back in (False, True):
                server = Server(actions, latency)
                try:
                    loaded = config.load(write_config(Path(folder), server.url, workers))
                    with nullcontext() if read_back else _not_read_back():
                        started = time.perf_counter()
                        result = remediation.run(loaded, _tasks(actions), progress=lambda *_: None)
                        took = time.perf_counter() - started
                    assert result.count(Outcome.DONE) == actions, result.summary()
                    bound = actions * (3 if read_back else 2) * latency / workers
                    print(
                        f"| {workers} | {'yes' if read_back else 'no'} | {took:.1f}"
                        f" | {actions / took:,.0f} | {bound:.1f} | {took / bound:.2f}x |"
                    )
                finally:
                    server.stop()


def bench_rate_limit(actions: int, latency: float, rate: int, workers: int) -> None:
    from nhirecon import config
    from nhirecon.remediation import apply as remediation
    from nhirecon.remediation.actions import Outcome

    server = Server(actions, latency)
    try:
        with tempfile.TemporaryDirectory() as folder:
            loaded = config.load(write_config(Path(folder), server.url, workers, rate))
            server.arrivals()
            started = time.perf_counter()
            result = remediation.run(loaded, _tasks(actions), progress=lambda *_: None)
            took = time.perf_counter() - started
            assert result.count(Outcome.DONE) == actions, result.summary()
            arrivals = server.arrivals()
    finally:
        server.stop()
    print(
        f"\n## Rate limit: {actions:,} disables, rate_limit_per_minute {rate},"
        f" max_workers {workers}, {latency * 1000:.0f} ms a request"
    )
    print(f"- requests seen by the server: {len(arrivals):,} in {took:.1f} s")
    print(f"- most in any 60 s window: {_windows(arrivals, 60.0):,} (limit {rate:,})")
    print(
        f"- most in any 1 s window: {_windows(arrivals, 1.0)} (the client starts requests"
        f" {60_000 / rate:g} ms apart; arrivals at the server bunch by a few ms)"
    )
    print(f"- average rate: {len(arrivals) / took * 60:,.0f} a minute")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--actions", type=int, default=10_000)
    parser.add_argument("--rate-actions", type=int, default=3_000)
    parser.add_argument("--pull-only", action="store_true")
    parser.add_argument("--apply-only", action="store_true")
    parser.add_argument("--workers", default="1,4,8")
    args = parser.parse_args()
    workers = [int(value) for value in args.workers.split(",")]
    print(
        f"machine: {os.cpu_count()} cores, Python {platform.python_version()},"
        f" {platform.system()} {platform.machine()}"
    )
    if not args.apply_only:
        bench_pull(args.users, 0.05, workers)
    if args.pull_only:
        return
    bench_apply(args.actions, 0.02, workers)
    bench_rate_limit(args.rate_actions, 0.02, 6000, 8)


if __name__ == "__main__":
    main()
