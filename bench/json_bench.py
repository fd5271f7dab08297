"""How long a JSON export of N users takes to read, and how much of it is locating records.

Writes a JSON array of N users shaped as Okta's List Users answer (nested ``profile``,
``credentials`` and ``_links``, a quote and brackets inside some strings), indented as an
export saved from the API is, and the same users as a SCIM ``ListResponse``. For each it
times ``json.loads`` and :func:`~nhirecon.connectors.json_lines_of.locate` (the
line each record starts on), best of three, and the whole ``json`` connector reading the
file into raw rows.

    python bench/json_bench.py                  # 100,000 users
    python bench/json_bench.py 10000 300000     # other sizes
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from nhirecon.connectors.context import ConnectorContext
from nhirecon.connectors.json import JsonConnector
from nhirecon.connectors.json_lines_of import locate


def users(count: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"00u{number:08d}",
            "status": "ACTIVE" if number % 7 else "SUSPENDED",
            "created": "2024-01-02T03:04:05.000Z",
            "lastLogin": None if number % 11 == 0 else "2026-10-02T03:04:05.000Z",
            "profile": {
                "login": f"user{number}@example.com",
                "email": f"user{number}@example.com",
                "firstName": 'Ann "Q" [x]',
                "lastName": "Lee{}",
                "department": "Engineering",
                "title": "Software Engineer",
            },
            "credentials": {"provider": {"type": "OKTA", "name": "OKTA"}},
            "_links": {"self": {"href": f"https://example.okta.com/api/v1/users/00u{number}"}},
        }
        for number in range(count)
    ]


def count(connector: JsonConnector) -> int:
    return sum(1 for _ in connector.rows())


def best(step: Callable[[], object], rounds: int = 3) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[100_000])
    args = parser.parse_args()
    for size in args.sizes:
        records = users(size)
        shapes = {
            "array": (records, ()),
            "ListResponse": (
                {
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                    "totalResults": size,
                    "Resources": records,
                },
                ("Resources",),
            ),
        }
        for shape, (document, path) in shapes.items():
            text = json.dumps(document, indent=2)
            with tempfile.TemporaryDirectory() as folder:
                export = Path(folder) / "users.json"
                export.write_text(text, encoding="utf-8")
                context = ConnectorContext("users", Path(folder))
                connector = JsonConnector(context=context, path=export.name)
                parsed = best(partial(json.loads, text))
                located = best(partial(locate, text, path, size))
                read = best(partial(count, connector), rounds=1)
            print(
                f"{size:>9,} users, {shape:<12} {len(text) / 2**20:7.1f} MiB:"
                f" json.loads {parsed:6.2f} s, locating {located:6.2f} s"
                f" ({len(text) / 2**20 / located:5.1f} MiB/s), the connector's read {read:6.2f} s"
            )


if __name__ == "__main__":
    main()
