"""Deep nesting: a JSON export or a SCIM answer nested hundreds of levels deep is refused
where it is read, as a data error naming the file and record (or the URL), exit 3; nothing
downstream ever meets it, so no RecursionError escapes anywhere. YAML is covered by the
bad-input corpus (tests/data/bad/cases.yaml).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import NOW, ROOT, Run
from .scim_server import TOKEN, TOKEN_ENV, ScimServer, rewrite_list

ESTATE = ROOT / "tests" / "data" / "bad" / "estate"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
TOO_DEEP = "JSON nested too deeply (more than 100 levels)"


def nested(levels: int) -> list[Any]:
    """A list nested ``levels`` deep (``[[...]]``), built without recursion."""
    value: list[Any] = []
    for _ in range(levels - 1):
        value = [value]
    return value


def deep_text(levels: int) -> str:
    return "[" * levels + "]" * levels


def write_estate(work: Path, target: dict[str, Any]) -> None:
    work.mkdir(exist_ok=True)
    (work / "hr.csv").write_bytes((ESTATE / "hr.csv").read_bytes())
    config = {
        "version": 1,
        "source": {
            "name": "hr",
            "connector": "csv",
            "path": "hr.csv",
            "map": {"id": "employee_id", "email": "work_email", "status": "status"},
        },
        "targets": [target],
        "history": "state/history.db",
    }
    (work / "nhirecon.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")


def audit(run: Run, work: Path, env: dict[str, str] | None = None) -> Any:
    (work / "out").mkdir(exist_ok=True)
    result = run("audit", "--now", NOW, "-f", "json", "-o", "out/report.json", cwd=work, env=env)
    assert "Traceback" not in result.stderr
    assert "RecursionError" not in result.stderr
    return result


def assert_refused(result: Any, work: Path, where: str) -> None:
    assert result.returncode == 3, result.stderr
    assert result.stderr == f"nhirecon: error: {where}: {TOO_DEEP}\n"
    assert not (work / "out" / "report.json").exists()
    assert not (work / "state").exists() or not list((work / "state").iterdir())


@pytest.mark.parametrize("levels", [120, 600])
def test_a_deep_record_in_a_json_array(run: Run, tmp_path: Path, levels: int) -> None:
    work = tmp_path / "work"
    write_estate(work, {"name": "app", "connector": "json", "path": "app.json"})
    (work / "app.json").write_text(
        '[{"id": "A1", "email": "ann@example.com"},\n'
        f' {{"id": "A2", "email": "bob@example.com", "extra": {deep_text(levels)}}}]\n',
        encoding="utf-8",
    )
    assert_refused(audit(run, work), work, "app.json:2")


def test_a_deep_line_in_json_lines(run: Run, tmp_path: Path) -> None:
    work = tmp_path / "work"
    write_estate(work, {"name": "app", "connector": "json", "path": "app.jsonl"})
    (work / "app.jsonl").write_text(
        '{"id": "A1", "email": "ann@example.com"}\n'
        f'{{"id": "A2", "email": "bob@example.com", "extra": {deep_text(600)}}}\n',
        encoding="utf-8",
    )
    assert_refused(audit(run, work), work, "app.jsonl:2")


def test_a_deep_resource_in_a_saved_scim_listing(run: Run, tmp_path: Path) -> None:
    """The SCIM path of the json connector walks every resource (attribute names are
    case-insensitive), the place a deep resource used to exhaust the stack."""
    work = tmp_path / "work"
    write_estate(work, {"name": "app", "connector": "json", "path": "app.json"})
    resource = f'{{"id": "u1", "userName": "ann", "emails": {deep_text(600)}}}'
    listing = f'{{"schemas": ["{LIST_RESPONSE}"], "totalResults": 1, "Resources": [{resource}]}}'
    (work / "app.json").write_text(listing, encoding="utf-8")
    assert_refused(audit(run, work), work, "app.json:1")


def test_a_record_nesting_exactly_the_limit_is_read(run: Run, tmp_path: Path) -> None:
    work = tmp_path / "work"
    write_estate(work, {"name": "app", "connector": "json", "path": "app.json"})
    record = {"id": "A1", "email": "ann@example.com", "extra": nested(99)}  # 100 levels
    (work / "app.json").write_text(json.dumps([record]), encoding="utf-8")
    result = audit(run, work)
    assert result.returncode == 0, result.stderr
    report = json.loads((work / "out" / "report.json").read_text(encoding="utf-8"))
    assert report["targets"][0]["accounts"] == 1


def test_a_deep_scim_answer_names_the_url(run: Run, tmp_path: Path, server: ScimServer) -> None:
    server.add_user("ann", email="ann@example.com", external_id="E1")
    server.add_user("zed", email="zed@example.com")

    def deepen(body: dict[str, Any]) -> None:
        body["Resources"][-1]["nickName"] = nested(600)

    server.faults.add(rewrite_list(deepen), method="GET", path=r"/Users\?", times=None)
    work = tmp_path / "work"
    target = {
        "name": "app",
        "connector": "scim",
        "url": server.url,
        "auth": {"type": "bearer", "token_env": TOKEN_ENV},
    }
    write_estate(work, target)
    result = audit(run, work, env={TOKEN_ENV: TOKEN})
    assert result.returncode == 3, result.stderr
    assert result.stderr.startswith(f"nhirecon: error: GET {server.url}/Users?")
    assert result.stderr.endswith(f"HTTP 200 OK: the answer is {TOO_DEEP}\n")
    assert result.stderr.count("\n") == 1
    assert not (work / "out" / "report.json").exists()


def test_a_deep_baseline_file_is_a_usage_error(run: Run, tmp_path: Path) -> None:
    work = tmp_path / "work"
    write_estate(work, {"name": "app", "connector": "csv", "path": "app.csv"})
    (work / "app.csv").write_bytes((ESTATE / "app.csv").read_bytes())
    (work / "baseline.json").write_text(deep_text(100_000), encoding="utf-8")
    result = run("audit", "--now", NOW, "--baseline", "baseline.json", cwd=work)
    assert result.returncode == 2, result.stderr
    assert result.stderr == (
        "nhirecon: error: baseline file baseline.json: not a baseline: JSON nested too deeply\n"
    )
