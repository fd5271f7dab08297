"""SCIM traffic honours HTTPS_PROXY / HTTP_PROXY and NO_PROXY, tested through a real proxy
(proxy.py) in front of the real SCIM server."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import Run
from .scim_server import (
    HR_CSV,
    NOW,
    TOKEN,
    TOKEN_ENV,
    ScimServer,
    estate_config,
    running,
    seed_estate,
)


@pytest.fixture
def server() -> Iterator[ScimServer]:
    with running() as started:
        seed_estate(started)
        yield started


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A proxy.py process on a free port; yields its URL and its access log."""
    port_file, log = tmp_path / "proxy.port", tmp_path / "proxy.log"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "proxy",
            "--hostname",
            "127.0.0.1",
            "--port",
            "0",
            "--port-file",
            str(port_file),
            "--num-workers",
            "1",
            "--num-acceptors",
            "1",
            "--log-file",
            str(log),
            "--log-level",
            "INFO",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            assert process.poll() is None, "proxy.py exited"
            assert time.monotonic() < deadline, "proxy.py did not start"
            time.sleep(0.05)
        port = int(port_file.read_text())
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "proxy.py does not accept connections"
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}", log
    finally:
        process.terminate()
        process.wait(timeout=10)


def _estate(tmp_path: Path, server: ScimServer) -> Path:
    (tmp_path / "hr.csv").write_text(HR_CSV, encoding="utf-8")
    path = tmp_path / "nhirecon.yaml"
    path.write_text(estate_config(server), encoding="utf-8")
    return path


def _audit(run: Run, config: Path, **env: str) -> dict[str, object]:
    done = run(
        "audit",
        "-c",
        str(config),
        "-f",
        "json",
        "--now",
        NOW,
        "--no-history",
        env={TOKEN_ENV: TOKEN, **env},
    )
    assert done.returncode in (0, 1), done.stderr
    report: dict[str, object] = json.loads(done.stdout)
    return report


def _proxied(log: Path) -> list[str]:
    time.sleep(0.2)  # the access log is written as each request ends
    return [line for line in log.read_text().splitlines() if "access_log" in line]


def test_scim_requests_go_through_the_proxy_the_environment_names(
    run: Run, tmp_path: Path, server: ScimServer, proxy: tuple[str, Path]
) -> None:
    url, log = proxy
    direct = _audit(run, _estate(tmp_path, server))
    assert _proxied(log) == []
    through = _audit(run, _estate(tmp_path, server), HTTP_PROXY=url, NO_PROXY="")
    assert through["findings"] == direct["findings"]
    lines = _proxied(log)  # proxy.py logs a kept-alive connection by its first request
    port = server.url.rsplit(":", 1)[1].split("/")[0]
    assert lines and all(f" - GET 127.0.0.1:{port}/" in line for line in lines), lines


def test_no_proxy_sends_the_service_direct(
    run: Run, tmp_path: Path, server: ScimServer, proxy: tuple[str, Path]
) -> None:
    url, log = proxy
    report = _audit(run, _estate(tmp_path, server), HTTP_PROXY=url, NO_PROXY="127.0.0.1")
    assert report["findings"]
    assert _proxied(log) == []


def test_a_proxy_that_is_down_fails_the_pull_naming_it_without_its_password(
    run: Run, tmp_path: Path, server: ScimServer
) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    done = run(
        "audit",
        "-c",
        str(_estate(tmp_path, server)),
        "--now",
        NOW,
        "--no-history",
        env={TOKEN_ENV: TOKEN, "HTTP_PROXY": f"http://ops:hunter2hunter2@127.0.0.1:{port}"},
    )
    assert done.returncode == 3
    assert "proxy" in done.stderr.lower()
    assert "hunter2" not in done.stderr + done.stdout
