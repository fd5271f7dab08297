"""The config checked by pydantic models: every problem reported at once, each with its
file, line and key path; the JSON Schema that editors use, kept up to date; and
``validate`` naming every input file that is not there."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from nhirecon import config
from nhirecon.config import schema
from nhirecon.config.inputs import DateFormats, FieldMap, KindValues, OriginValues, Remediate
from nhirecon.config.problems import MAX_SHOWN, ConfigProblems
from nhirecon.config.shape import NotifyKeys, PolicyKeys
from nhirecon.core.model import ACCOUNT_KINDS, CANONICAL_FIELDS, DATE_FIELDS, Origin
from nhirecon.core.policy import Policy
from nhirecon.core.values import KINDS
from nhirecon.errors import ConfigError
from nhirecon.http.webhook import Notify

from .conftest import DATA, EXAMPLES, ROOT, Run

Write = Callable[[str, str], Path]
SCHEMA_FILE = ROOT / "nhirecon.schema.json"
MODELINE = "# yaml-language-server: $schema=./nhirecon.schema.json"
REGENERATE = "nhirecon schema > nhirecon.schema.json"
CONFIGS = sorted(
    [
        ROOT / "config.sample.yaml",
        *EXAMPLES.rglob("nhirecon*.yaml"),
        *(DATA / "field-cases").glob("*/nhirecon*.yaml"),
    ]
)


def problems(error: ConfigError) -> list[str]:
    return str(error).split("\n")


def load_error(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    return caught.value


# Every problem at once ----------------------------------------------------------------

SEVERAL = """\
version: 1
source:
  name: hr
  connector: csv
  path: hr.csv
  map: {id: id, status: [a, b]}
  pth: hr.csv
targets:
  - name: app
    connector: nope
    compare: [shoe_size]
  - name: hr
    connector: csv
    path: app.csv
    null_values: [no]
    correlate: [{account: mial, identity: email}]
policy:
  dormant_dayz: 30
  max_action_percent: 120
exceptions:
  - {target: crm, account: x, reason: r, owner: o, expires: soon}
gate: ["orphans>0"]
"""
SEVERAL_FOUND = [
    (6, "source.map.status", "'status' reads one column"),
    (7, "source.pth", "unknown key: neither a key of the source nor an option of connector 'csv'"),
    (10, "targets[0].connector", "unknown connector 'nope'"),
    (11, "targets[0].compare[0]", "'shoe_size' is neither a canonical field"),
    (12, "targets[1].name", "name 'hr' is used twice"),
    (15, "targets[1].null_values[0]", "got the YAML boolean false"),
    (16, "targets[1].correlate[0].account", "'mial' is neither a canonical field"),
    (18, "policy.dormant_dayz", "unknown key (allowed: credential_max_age_days, dormant_days,"),
    (19, "policy.max_action_percent", "a percentage must be at most 100"),
    (21, "exceptions[0].expires", "expected a date like 2027-01-31, got 'soon'"),
    (21, "exceptions[0].target", "no source or target named 'crm' (known: app, hr)"),
    (22, "gate[0]", "unknown finding kind 'orphans'"),
]


def test_every_problem_is_reported_at_once_in_file_order(write: Write) -> None:
    path = write("nhirecon.yaml", SEVERAL)
    error = load_error(path)
    lines = problems(error)
    assert len(lines) == len(SEVERAL_FOUND), str(error)
    for line, (number, key, message) in zip(lines, SEVERAL_FOUND, strict=True):
        assert line.startswith(f"{path}:{number}: {key}: {message}"), line
    assert (error.key, error.line, error.file) == ("source.map.status", 6, str(path))
    assert isinstance(error, ConfigProblems)  # each problem apart, for a JSON view
    assert [(one.key, one.line) for one in error.problems] == [
        (key, number) for number, key, _ in SEVERAL_FOUND
    ]


def test_a_file_of_nothing_but_mistakes_is_cut_short(write: Write) -> None:
    items = ", ".join(str(number) for number in range(150))
    path = write("nhirecon.yaml", f"version: 1\nsource: 7\ntargets: [{items}]\n")
    error = load_error(path)
    lines = problems(error)
    assert len(lines) == MAX_SHOWN + 1 and len(error.problems) == 151
    assert lines[0] == f"{path}:2: source: expected a mapping, got int 7"
    assert lines[1] == f"{path}:3: targets[0]: expected a mapping, got int 0"
    assert lines[-1] == f"{path}: … and 51 more problems"


def test_problems_of_meaning_are_found_whatever_the_shape_of_the_rest(write: Write) -> None:
    """A typo in ``policy`` (a shape problem) hides neither a connector's option nor a
    correlation field nor an exception's target (problems of meaning), and the other way
    round."""
    path = write(
        "nhirecon.yaml",
        """\
        version: 1
        source: {name: hr, connector: csv, path: hr.csv, map: {id: id}, delimter: ";"}
        targets:
          - {name: app, connector: csv, path: a.csv, correlate: [{account: x, identity: email}]}
        policy: {dormant_days: ninety}
        protected: [{target: ap, account: root}]
        """,
    )
    assert [line.split(": ", 2)[1] for line in problems(load_error(path))] == [
        "source.delimter",
        "targets[0].correlate[0].account",
        "policy.dormant_days",
        "protected[0].target",
    ]


CONFIG_CASES = [
    case
    for case in yaml.safe_load((DATA / "bad" / "cases.yaml").read_text(encoding="utf-8"))["cases"]
    if case["use"] == "config"
    and case["exit"] == 2
    and not re.search(r"invalid YAML|not UTF-8", case["stderr"][0])
]
ALL_KINDS = """\
version: 1
source:
  name: hr
  connector: csv
  path: hr.csv
  map: {email: work_email, status: status}
targets:
  - connector: csv
    path: 5
    timezone: Europe/Berln
    date_format: dd.mm.yyyy
    active_values: {active: [yes], inactive: [no, off]}
policy:
  dormant_days: ninety
  dormant_dayz: 30
"""
ALL_KINDS_LINES = {
    "policy.dormant_dayz": 15,
    "policy.dormant_days": 14,
    "targets[0]": 8,
    "source.map": 6,
    "targets[0].path": 9,
    "targets[0].timezone": 10,
    "targets[0].date_format": 11,
    "targets[0].active_values.active[0]": 12,
}


def test_every_config_mistake_of_the_bad_input_cases_is_reported_in_one_run(
    write: Write,
) -> None:
    """The config mistakes of tests/data/bad/cases.yaml, each a file of its own there, all
    in one file here: each is reported, with its line, in the words the case expects."""
    path = write("nhirecon.yaml", ALL_KINDS)
    lines = problems(load_error(path))
    expected = {}
    for case in CONFIG_CASES:
        where, key, message = case["stderr"][0].split(": ", 2)
        assert where.startswith(case["file"] + ":")
        expected[key] = message
    assert set(expected) == set(ALL_KINDS_LINES), "a config case has no line in ALL_KINDS"
    for key, message in expected.items():
        wanted = f"{path}:{ALL_KINDS_LINES[key]}: {key}: {message}"
        assert any(line.startswith(wanted) for line in lines), (wanted, lines)
    others = [
        f"{path}:12: targets[0].active_values.inactive[{index}]: got the YAML boolean"
        for index in (0, 1)
    ]
    assert [line for line in lines if line.startswith(tuple(others))] != []
    assert len(lines) == len(expected) + len(others)


def test_a_key_from_the_file_cannot_start_a_line_of_its_own(write: Write) -> None:
    path = write(
        "nhirecon.yaml",
        "version: 1\nsource: {name: hr, connector: csv, path: h.csv, map: {id: id}}\n"
        'targets: []\npolicy: {max_actions: -1}\n"x\\nnhirecon: error: forged": 1\n',
    )
    lines = problems(load_error(path))
    assert lines[0] == f"{path}:4: policy.max_actions: must not be negative, got -1"
    assert lines[1].startswith(f"{path}:5: " + r"x\nnhirecon: error: forged: unknown key")
    assert len(lines) == 2


@pytest.mark.parametrize(
    ("entry", "key", "message"),
    [
        ("history: !!binary aGk=", "history", "expected a non-empty string, got bytes b'hi'"),
        ("history: 5", "history", "expected a non-empty string, got int 5"),
        ("gate: orphan>0", "gate", "expected a list, got str 'orphan>0'"),
        ("policy: {dormant_days: 9.0}", "policy.dormant_days", "expected a whole number"),
        ("policy: {max_actions: true}", "policy.max_actions", "expected a whole number"),
        ("policy: {max_action_percent: '5'}", "policy.max_action_percent", "expected a number"),
        ("notify: {webhook_url_env: X, when: ~}", "notify.when", "expected one of always"),
        (
            "exceptions: [{target: hr, account: ' ', reason: r, owner: o, expires: 2027-01-01}]",
            "exceptions[0].account",
            "non-empty",
        ),
    ],
)
def test_values_are_read_strictly(write: Write, entry: str, key: str, message: str) -> None:
    """YAML's own types are kept: a number is not a string, a float not a whole number,
    binary data not text, ``null`` not a choice."""
    path = write(
        "nhirecon.yaml",
        f"version: 1\nsource: {{name: hr, connector: csv, path: h.csv, map: {{id: id}}}}\n"
        f"targets: []\n{entry}\n",
    )
    error = load_error(path)
    assert (error.key, error.line) == (key, 4) and message in str(error)
    assert len(problems(error)) == 1


def test_the_cli_reports_every_problem_exit_2(run: Run, write: Write) -> None:
    path = write("nhirecon.yaml", SEVERAL)
    result = run("validate", "-c", str(path))
    assert result.returncode == 2 and result.stdout == ""
    for number, key, message in SEVERAL_FOUND:
        assert f"{path}:{number}: {key}: {message}" in result.stderr


# The models say what the core says ------------------------------------------------------


def test_the_models_name_what_the_core_names() -> None:
    aliases = {field.alias or name for name, field in Remediate.model_fields.items()}
    assert aliases == {kind.value for kind in ACCOUNT_KINDS}
    assert set(KindValues.model_fields) == set(KINDS)
    assert set(OriginValues.model_fields) == {origin.value for origin in Origin}
    assert set(DateFormats.model_fields) == set(DATE_FIELDS)
    assert set(FieldMap.model_fields) == {*CANONICAL_FIELDS, "version"}
    assert set(PolicyKeys.model_fields) == set(Policy.__dataclass_fields__)
    assert set(NotifyKeys.model_fields) == set(Notify.__dataclass_fields__)


# The JSON Schema --------------------------------------------------------------------------


def test_the_committed_schema_is_what_nhirecon_schema_prints(run: Run) -> None:
    printed = run("schema")
    assert printed.returncode == 0 and printed.stderr == ""
    assert printed.stdout == schema.text()
    assert SCHEMA_FILE.read_text(encoding="utf-8") == printed.stdout, (
        f"nhirecon.schema.json is out of date: regenerate it with `{REGENERATE}`"
    )


def test_the_schema_describes_the_keys_for_editors() -> None:
    document = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(document)
    policy = document["$defs"]["PolicyKeys"]["properties"]["dormant_days"]
    assert policy["description"].startswith("No sign-in or use for longer than")
    assert policy["minimum"] == 0 and policy["default"] == 90
    csv = next(
        rule["then"]
        for rule in document["$defs"]["TargetKeys"]["allOf"]
        if rule["if"]["properties"]["connector"]["const"] == "csv"
    )
    assert csv["required"] == ["path"] and "delimiter" in csv["properties"]


def editor_yaml(path: Path) -> Any:
    """``path`` read as an editor's YAML 1.2 reads it: a date is a string."""

    class Loader(yaml.SafeLoader):
        pass

    Loader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if not tag.endswith(":timestamp")]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    return yaml.load(path.read_text(encoding="utf-8"), Loader=Loader)


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    return Draft202012Validator(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))


def test_there_are_configs_to_check() -> None:
    names = {path.relative_to(ROOT).parts[0] for path in CONFIGS}
    assert names == {"config.sample.yaml", "examples", "tests"} and len(CONFIGS) > 20


@pytest.mark.parametrize("path", CONFIGS, ids=lambda path: str(path.relative_to(ROOT)))
def test_the_schema_accepts_the_sample_and_every_example(
    path: Path, validator: Draft202012Validator
) -> None:
    errors = [error.message for error in validator.iter_errors(editor_yaml(path))]
    assert errors == []


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda doc: doc["policy"].update(dormant_dayz=30), "dormant_dayz"),
        (lambda doc: doc.update(bogus=1), "bogus"),
        (lambda doc: doc["targets"][1].update(pth="x.csv"), "pth"),
        (lambda doc: doc["source"].update(correlate=[]), "correlate"),
        (lambda doc: doc["policy"].update(max_actions="25"), "'25'"),
        (lambda doc: doc["targets"][0]["remediate"].update(orphan="nuke"), "'nuke'"),
    ],
    ids=["policy", "top", "connector-option", "target-key-on-source", "type", "choice"],
)
def test_the_schema_refuses_what_the_config_refuses(
    change: Callable[[dict[str, Any]], None], where: str, validator: Draft202012Validator
) -> None:
    document = editor_yaml(ROOT / "config.sample.yaml")
    assert validator.is_valid(document)
    change(document)
    messages = [error.message for error in validator.iter_errors(document)]
    messages += [sub.message for e in validator.iter_errors(document) for sub in e.context or []]
    assert any(where in message for message in messages), messages


def test_the_sample_and_the_starter_tell_editors_where_the_schema_is() -> None:
    starter = ROOT / "nhirecon" / "templates" / "starter.yaml"
    for path in (ROOT / "config.sample.yaml", starter):
        assert path.read_text(encoding="utf-8").splitlines()[0] == MODELINE
        config.load(path)
    assert REGENERATE in starter.read_text(encoding="utf-8")


# validate and the input files ------------------------------------------------------------


def test_validate_names_every_input_file_that_is_not_there(run: Run, write: Write) -> None:
    """Without --connect, nothing is read, but every file input must be a file that is
    there: each one that is not is named by its key and its path (relative to the config's
    folder, shown from the working directory), exit 3."""
    write("conf/hr.csv", "id,email\nE1,a@x.com\n")
    (write("conf/exports/keep", "").parent / "keep").unlink()
    path = write(
        "conf/nhirecon.yaml",
        f"""\
        {MODELINE}
        version: 1
        source:
          name: hr
          connector: csv
          path: hr.csv
          map: {{id: id}}
          include: [{{connector: yaml, path: nhi.yaml, map: {{id: id}}}}]
        targets:
          - {{name: app, connector: csv, path: app.csv}}
          - {{name: dir, connector: json, path: exports}}
        """,
    )
    result = run("validate", "-c", str(path))
    assert result.returncode == 3 and result.stdout == ""
    assert result.stderr.startswith("nhirecon: error: source.include[0].path: conf/nhi.yaml:")
    assert "source.include[0].path: conf/nhi.yaml: file not found" in result.stderr
    assert "targets[0].path: conf/app.csv: file not found" in result.stderr
    assert "targets[1].path: conf/exports: is a folder, not a file" in result.stderr
    assert "source.path" not in result.stderr
    write("conf/nhi.yaml", "- {id: S1}\n")
    write("conf/app.csv", "id,email\nA1,a@x.com\n")
    (path.parent / "exports").rmdir()
    write("conf/exports", "[]\n")
    assert run("validate", "-c", str(path)).returncode == 0


@pytest.mark.parametrize("key", ["dormant_days", "credential_max_age_days", "orphan_grace_days"])
def test_a_day_limit_too_large_for_a_date_span_is_a_config_error(key: str, tmp_path: Path) -> None:
    from nhirecon import config as configs
    from nhirecon.errors import ConfigError

    (tmp_path / "hr.csv").write_text("id\nE1\n", encoding="utf-8")
    path = tmp_path / "nhirecon.yaml"
    path.write_text(
        "version: 1\nsource: {name: hr, connector: csv, path: hr.csv, map: {id: id}}\n"
        f"targets: []\npolicy: {{{key}: 2147483648}}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=rf"policy\.{key}: at most 36500 days"):
        configs.load(path)


def test_an_install_without_source_files_gives_the_schema_without_key_descriptions(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The keys' descriptions are their docstrings, read from the source; an install of
    bytecode alone still gives a valid schema, and says what it lacks."""

    def unreadable(_: object) -> str:
        raise OSError("could not get source code")

    monkeypatch.setattr(schema.inspect, "getsource", unreadable)
    document = schema.json_schema()
    Draft202012Validator.check_schema(document)
    policy = document["$defs"]["PolicyKeys"]
    assert policy["description"]  # the class's own docstring is not source
    assert all("description" not in key for key in policy["properties"].values())
    (said,) = [record.getMessage() for record in caplog.records]
    assert "without the source files" in said and "PolicyKeys" in said
    assert (
        document["$defs"]["PolicyKeys"]["properties"].keys()
        == json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))["$defs"]["PolicyKeys"][
            "properties"
        ].keys()
    )
