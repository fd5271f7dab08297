"""The config file: valid configs load; every mistake names the file, key path and line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from nhirecon import config
from nhirecon.core.model import FindingKind, Origin, Remediation
from nhirecon.errors import ConfigError

from .conftest import ROOT

Write = Callable[[str, str], Path]

VALID = """
version: 1
source:
  name: hr
  connector: csv
  path: hr.csv
  map: {id: employee_id, email: work_email, cost_center: cc}
  active_status: [Active, leave]
targets:
  - name: crm
    connector: csv
    path: crm.csv
    map: {id: user_id, cost_center: cc, origin: created_via}
    origin_values: {jit: [sso, SAML], manual: admin}
    correlate:
      - {account: email, identity: email}
    compare: [department, cost_center]
    remediate: {orphan: disable, leaver: delete, dormant: none}
policy: {dormant_days: 60, max_action_percent: 12.5}
exceptions:
  - {target: crm, account: deploy-bot, kind: orphan, reason: automation,
     owner: lead@example.com, expires: 2027-01-31}
protected:
  - {target: crm, account: breakglass}
gate: ["orphan,jit-orphan>0", "severity:high >= 5"]
history: state/history.db
"""


def test_valid_config_loads_into_frozen_objects(write: Write) -> None:
    path = write("nhirecon.yaml", VALID)
    loaded = config.load(path)
    assert loaded.source.name == "hr"
    assert loaded.source.active_status == frozenset({"active", "leave"})
    crm = loaded.target("crm")
    assert crm.endpoint.options == {"path": "crm.csv"}
    assert crm.endpoint.context.origin_values == {
        "sso": Origin.JIT,
        "saml": Origin.JIT,
        "admin": Origin.MANUAL,
    }
    assert crm.remediate == {
        FindingKind.ORPHAN: Remediation.DISABLE,
        FindingKind.LEAVER: Remediation.DELETE,
    }
    assert crm.compare == ("department", "cost_center")
    assert loaded.policy.dormant_days == 60 and loaded.policy.max_action_percent == 12.5
    assert loaded.policy.credential_max_age_days == 90
    assert [rule.text for rule in loaded.gate] == ["orphan,jit-orphan>0", "severity:high>=5"]
    assert loaded.history == path.parent / "state/history.db"
    assert loaded.exceptions[0].kind is FindingKind.ORPHAN
    assert len(loaded.digest) == 64


def test_sample_and_starter_configs_are_valid() -> None:
    sample = config.load(ROOT / "config.sample.yaml")
    assert len(sample.targets) >= 3
    starter = ROOT / "nhirecon" / "templates" / "starter.yaml"
    assert config.load(starter).source.name == "hr"


def test_default_correlation_is_by_email(write: Write) -> None:
    path = write(
        "c.yaml",
        """
        version: 1
        source: {name: hr, connector: csv, path: hr.csv, map: {id: id}}
        targets: [{name: app, connector: csv, path: app.csv}]
    """,
    )
    rules = config.load(path).targets[0].correlate
    assert [(rule.account, rule.identity) for rule in rules] == [("email", "email")]


BAD = [
    (
        "version: 1\nsource: {name: hr, connector: csv, path: a.csv, map: {id: id}}\n"
        "targets: []\nbogus: 1\n",
        "bogus",
        4,
        "unknown key",
    ),
    ("version: 2\nsource: {}\ntargets: []\n", "version", 1, "unsupported config version"),
    ("source: {name: hr}\ntargets: []\n", "", None, "missing required key 'version'"),
    ("version: 1\ntargets: []\n", "", None, "missing required key 'source'"),
    (
        "version: 1\nsource:\n  name: hr\n  connector: csv\n  path: a.csv\ntargets: []\n",
        "source.map",
        2,
        "missing required key 'map'",
    ),
    (
        "version: 1\nsource:\n  name: hr\n  connector: csv\n  path: a.csv\n  map: {email: e}\n"
        "targets: []\n",
        "source.map",
        6,
        "source.map: missing required key 'id'",
    ),
    (
        "version: 1\nsource:\n  name: hr\n  connector: nope\n  map: {id: id}\ntargets: []\n",
        "source.connector",
        4,
        "unknown connector 'nope'",
    ),
    (
        "version: 1\nsource:\n  name: hr\n  connector: csv\n  map: {id: id}\ntargets: []\n",
        "source.path",
        2,
        "required by connector 'csv'",
    ),
    (
        "version: 1\nsource:\n  name: hr\n  connector: csv\n  path: a.csv\n  pth: b\n"
        "  map: {id: id}\ntargets: []\n",
        "source.pth",
        6,
        "unknown key: neither a key of the source nor an option of connector 'csv'"
        " (path, delimiter, encoding); did you mean 'path'?",
    ),
    (  # a target's own key, misspelt, is not taken for a connector option
        "version: 1\nsource: {name: hr, connector: csv, path: a.csv, map: {id: id}}\n"
        "targets:\n  - name: app\n    connector: csv\n    path: b.csv\n"
        "    comapre: [department]\n",
        "targets[0].comapre",
        7,
        "unknown key: neither a key of a target nor an option of connector 'csv'"
        " (path, delimiter, encoding); did you mean 'compare'?",
    ),
    (
        "version: 1\nsource: {name: hr, connector: csv, path: a.csv, map: {id: id}}\n"
        "targets:\n  - name: app\n    connector: csv\n    path: 7\n",
        "targets[0].path",
        6,
        "expected a string",
    ),
    (
        "version: 1\nsource: {name: hr, connector: csv, path: a.csv, map: {id: id}}\n"
        "targets:\n  - name: app\n    connector: csv\n    path: a.csv\n"
        "    remediate: {orphan: nuke}\n",
        "targets[0].remediate.orphan",
        7,
        "disable, delete",
    ),
    (
        "version: 1\nsource: {name: hr, connector: csv, path: a.csv, map: {id: id}}\n"
        "targets:\n  - name: app\n    connector: csv\n    path: a.csv\n"
        "    remediate: {ambiguous: disable}\n",
        "targets[0].remediate.ambiguous",
        7,
        "unknown key",
    ),
    (
        "version: 1\nsource: {name: hr, connector: csv, path: a.csv, map: {id: id}}\n"
        "targets:\n  - name: app\n    connector: csv\n    path: a.csv\n"
        "    compare: [shoe_size]\n",
        "targets[0].compare[0]",
        7,
        "shoe_size",
    ),
    (
        "version: 1\nsource: {name: hr, connector: csv, path: a.csv, map: {id: id}}\n"
        "targets:\n  - {name: hr, connector: csv, path: a.csv}\n",
        "targets[0].name",
        4,
        "used twice",
    ),
    (
        "version: 1\nsource: {name: hr, connector: csv, path: a.csv, map: {id: id}}\n"
        "targets: []\npolicy:\n  dormant_days: ninety\n",
        "policy.dormant_days",
        5,
        "expected a whole number",
    ),
    (
        "version: 1\nsource: {name: hr, connector: csv, path: a.csv, map: {id: id}}\n"
        "targets: []\npolicy:\n  max_actions: -1\n",
        "policy.max_actions",
        5,
        "negative",
    ),
    (
        "version: 1\nsource: {name: hr, connector: csv, path: a.csv, map: {id: id}}\n"
        "targets: []\nexceptions:\n  - {target: hr, account: x, reason: r, owner: o}\n",
        "exceptions[0]",
        5,
        "missing required key 'expires'",
    ),
    (
        "version: 1\nsource: {name: hr, connector: csv, path: a.csv, map: {id: id}}\n"
        "targets: []\nexceptions:\n  - {target: nope, account: x, reason: r, owner: o,"
        " expires: 2027-01-01}\n",
        "exceptions[0].target",
        5,
        "no source or target named",
    ),
    (
        "version: 1\nsource: {name: hr, connector: csv, path: a.csv, map: {id: id}}\n"
        "targets: []\nexceptions:\n  - {target: hr, account: x, reason: r, owner: o,"
        " expires: soon}\n",
        "exceptions[0].expires",
        5,
        "expected a date",
    ),
    (
        "version: 1\nsource: {name: hr, connector: csv, path: a.csv, map: {id: id}}\n"
        "targets: []\ngate:\n  - orphans>0\n",
        "gate[0]",
        5,
        "unknown finding kind 'orphans'",
    ),
    (
        "version: 1\nsource: {name: hr, connector: csv, path: a.csv, map: {id: id}}\n"
        "targets: []\nprotected:\n  - {target: hr, account: bob}\n",
        "protected[0].target",
        5,
        "'hr' is the source, which nothing is written to",
    ),
    (
        "version: 1\nsource: {name: hr, connector: csv, path: a.csv, map: {id: id}}\n"
        "targets: []\nprotected:\n  - {target: hr}\n",
        "protected[0]",
        5,
        "missing required key 'account'",
    ),
    (
        "version: 1\nsource: {name: hr, connector: csv, path: a.csv, map: {id: id},"
        " correlate: []}\ntargets: []\n",
        "source.correlate",
        2,
        "not allowed here",
    ),
    (
        'version: 1\nsource: {name: hr, connector: csv, path: "\\ud800.csv", map: {id: id}}'
        "\ntargets: []\n",
        "source.path",
        2,
        "a file name cannot hold '\\ud800': the file system's encoding",
    ),
    (
        "version: 1\nsource: {name: hr, connector: csv, path: a.csv, map: {id: id}}\n"
        'targets:\n  - {name: app, connector: csv, path: "b\\0.csv"}\n',
        "targets[0].path",
        4,
        "a file name cannot hold a NUL character",
    ),
    (
        "version: 1\nsource: {name: hr, connector: csv, path: a.csv, map: {id: id}}\n"
        'targets: []\nhistory: "h\\0.db"\naudit_log: "\\udfff.jsonl"\n',
        "history",
        4,
        "a file name cannot hold a NUL character",
    ),
]


@pytest.mark.parametrize(("text", "key", "line", "message"), BAD)
def test_config_errors_name_key_path_and_line(
    write: Write, text: str, key: str, line: int | None, message: str
) -> None:
    path = write("bad.yaml", text)
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    error = caught.value
    assert error.key == key
    assert error.line == line
    assert message in str(error)
    assert str(path) in str(error)


def test_yaml_syntax_error_names_the_line(write: Write) -> None:
    path = write("bad.yaml", "version: 1\nsource: [unclosed\n")
    with pytest.raises(ConfigError, match=r"invalid YAML") as caught:
        config.load(path)
    assert caught.value.line is not None and caught.value.line >= 2


def test_python_object_tags_are_refused_not_executed(write: Write, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = write("bad.yaml", f"version: !!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(ConfigError, match="tag"):
        config.load(path)
    assert not marker.exists()


def test_alias_bomb_is_refused(write: Write) -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for index in range(1, 9):
        prev, name = chr(96 + index), chr(97 + index)
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]")
    path = write("bomb.yaml", "\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match="once its aliases are expanded"):
        config.load(path)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        config.load(tmp_path / "absent.yaml")


def test_config_path_comes_from_option_then_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NHIRECON_CONFIG", "from-env.yaml")
    assert config.resolve_path("given.yaml") == Path("given.yaml")
    assert config.resolve_path(None) == Path("from-env.yaml")
    monkeypatch.delenv("NHIRECON_CONFIG")
    assert config.resolve_path(None) == Path("nhirecon.yaml")
