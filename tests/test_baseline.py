"""Baselines: write the accepted findings, hold later runs to them, list what went stale."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest

from nhirecon.reporters.serialize import report as as_json
from nhirecon.state import baseline

from .conftest import Run
from .nightly import NIGHTS, copy_estate, night, set_crm


@pytest.fixture
def estate(tmp_path: Path) -> Path:
    return copy_estate(tmp_path / "estate")


def audit_json(run: Run, estate: Path, now: str, *extra: str) -> tuple[int, dict[str, Any], str]:
    out = estate / "report.json"
    result = run(
        "audit",
        "-c",
        str(estate / "nhirecon.yaml"),
        "--now",
        now,
        "--no-history",
        "-f",
        "json",
        "-o",
        str(out),
        *extra,
    )
    return result.returncode, json.loads(out.read_text()) if out.exists() else {}, result.stderr


def test_round_trip_through_the_command(run: Run, estate: Path) -> None:
    path = estate / "accepted.json"
    written = run(
        "baseline",
        "-c",
        str(estate / "nhirecon.yaml"),
        "--now",
        NIGHTS[0],
        "-o",
        str(path),
        "--note",
        "known before the SSO migration",
    )
    assert written.returncode == 0, written.stderr
    assert f"wrote {path}: 9 accepted findings" in written.stdout
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    document = json.loads(path.read_text())
    assert document["nhirecon_baseline"] == 1 and document["source"] == "hr"
    entries = document["entries"]
    assert len(entries) == 9
    assert {entry["note"] for entry in entries} == {"known before the SSO migration"}
    assert {entry["accepted_at"] for entry in entries} == {NIGHTS[0]}
    assert entries == sorted(
        entries, key=lambda e: (e["kind"], e["target"], e["label"], e["fingerprint"])
    )
    orphan = next(entry for entry in entries if entry["kind"] == "orphan")
    assert (orphan["target"], orphan["account"], orphan["label"]) == ("crm", "c5", "old-admin")
    ownerless = next(entry for entry in entries if entry["kind"] == "ownerless")
    assert (ownerless["target"], ownerless["account"]) == ("hr", None)

    code, report, _ = audit_json(run, estate, NIGHTS[0], "--baseline", str(path))
    assert code == 0  # every orphan is accepted: the gate passes
    assert {item["baselined"] for item in report["findings"]} == {True}
    assert {item["fingerprint"] for item in report["findings"]} == {
        e["fingerprint"] for e in entries
    }
    assert report["summary"]["baselined"] == 9 and report["summary"]["total"] == 9
    assert report["gate"] == {
        "passed": True,
        "rules": [{"rule": "orphan,jit-orphan>0", "count": 0, "passed": True}],
    }
    assert report["baseline"]["stale"] == [] and report["baseline"]["matched"] == 9

    # Eve signs in the next night: only her account counts; old-admin left and is stale.
    set_crm(estate, old_admin=False, eve=True)
    code, report, stderr = audit_json(run, estate, NIGHTS[1], "--baseline", str(path))
    assert code == 1
    counted = [item for item in report["findings"] if not item["baselined"]]
    assert [(i["kind"], i["account"]["id"]) for i in counted] == [("jit-orphan", "c7")]
    assert report["gate"]["rules"][0]["count"] == 1
    stale = sorted((entry["kind"], entry["account"]) for entry in report["baseline"]["stale"])
    assert stale == [("dormant", "c5"), ("orphan", "c5")]
    assert "stale entry orphan crm old-admin" in stderr

    # Writing the baseline again keeps old notes, adds eve with the new note, drops stale.
    rewritten = run(
        "baseline",
        "-c",
        str(estate / "nhirecon.yaml"),
        "--now",
        NIGHTS[1],
        "-o",
        str(path),
        "--note",
        "eve: contractor, SEC-42",
    )
    assert rewritten.returncode == 0, rewritten.stderr
    entries = json.loads(path.read_text())["entries"]
    notes = {(e["kind"], e["account"]): (e["note"], e["accepted_at"]) for e in entries}
    assert notes[("jit-orphan", "c7")] == ("eve: contractor, SEC-42", NIGHTS[1])
    assert notes[("leaver", "c2")] == ("known before the SSO migration", NIGHTS[0])
    assert ("orphan", "c5") not in notes and len(entries) == 8


def test_the_gate_counts_after_exceptions_and_baseline(estate: Path) -> None:
    first = night(estate, NIGHTS[0], keep_history=False)
    leaver = next(f for f in first.findings if f.kind.value == "leaver")
    partial = baseline.Baseline(
        path="b.json",
        generated_at=None,
        source="hr",
        entries=(baseline.entry_for(leaver, note="", accepted_at=first.generated_at),),
    )
    applied = baseline.apply(first, partial)
    assert applied.baseline is not None
    assert applied.baseline.accepted == {leaver.fingerprint}
    assert [o.count for o in applied.gate.outcomes] == [2]  # the leaver is not an orphan
    assert leaver not in applied.gated and len(applied.gated) == len(first.findings) - 1
    data = as_json(applied)
    assert [f["baselined"] for f in data["findings"]].count(True) == 1
    assert all("baselined" in item for item in data["excepted"])


def test_a_baseline_for_one_target_keeps_the_others_entries(run: Run, estate: Path) -> None:
    path = estate / "accepted.json"
    assert (
        run(
            "baseline", "-c", str(estate / "nhirecon.yaml"), "--now", NIGHTS[0], "-o", str(path)
        ).returncode
        == 0
    )
    set_crm(estate, old_admin=False, eve=False)
    only_wiki = run(
        "baseline",
        "-c",
        str(estate / "nhirecon.yaml"),
        "--now",
        NIGHTS[1],
        "--target",
        "wiki",
        "-o",
        str(path),
    )
    assert only_wiki.returncode == 0, only_wiki.stderr
    kept = {(e["kind"], e["account"]) for e in json.loads(path.read_text())["entries"]}
    assert ("orphan", "c5") in kept and len(kept) == 9


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (None, "not found"),
        ("{not json", "not JSON"),
        ('{"nhirecon_baseline": 1,\n "entries": [NaN]}', ":2: not JSON: NaN is not JSON"),
        ('{"n": 1' + "0" * 5000 + "}", "unreadable JSON: Exceeds the limit"),
        ('{"entries": []}', "not an nhirecon baseline"),
        ('{"nhirecon_baseline": 7, "entries": []}', "unsupported baseline version 7"),
        ('{"nhirecon_baseline": true, "entries": []}', "unsupported baseline version True"),
        ('{"nhirecon_baseline": 1.0, "entries": []}', "unsupported baseline version 1.0"),
        (
            '{"nhirecon_baseline": 1, "generated_at": [], "entries": []}',
            "generated_at: expected a date and time, got []",
        ),
        (
            '{"nhirecon_baseline": 1, "entries": [{"fingerprint": "x", "kind": "zombie", '
            '"target": "crm"}]}',
            "entries[0].kind: unknown finding kind 'zombie'",
        ),
        (
            '{"nhirecon_baseline": 1, "entries": [{"kind": "orphan", "target": "crm"}]}',
            "entries[0]: missing 'fingerprint'",
        ),
    ],
    ids=[
        *("missing", "not-json", "nan", "huge", "foreign", "version", "true", "float"),
        *("generated", "kind", "fingerprint"),
    ],
)
def test_a_bad_baseline_file_is_a_usage_error(
    run: Run, estate: Path, content: str | None, words: str
) -> None:
    path = estate / "accepted.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(baseline.BaselineError) as caught:
        baseline.load(path)
    assert str(path) in str(caught.value) and words in str(caught.value)
    if content == "{not json":
        code, report, stderr = audit_json(run, estate, NIGHTS[0], "--baseline", str(path))
        assert code == 2 and report == {}
        assert f"baseline file {path}:1: not JSON" in stderr and "(column 2)" in stderr


@pytest.mark.parametrize(
    "edit",
    [
        {"kind": "dormant"},  # another kind over a leaver's fingerprint
        {"target": "legacy-wiki"},  # another target
        {"account": None},  # the account left out
        {"account": "c9"},  # another account
    ],
    ids=["kind", "target", "no-account", "account"],
)
def test_an_entry_whose_fields_are_not_its_fingerprints_accepts_nothing(
    run: Run, estate: Path, edit: dict[str, Any]
) -> None:
    """A reviewed-looking entry (``dormant legacy-wiki old-test-user``) that carries the
    fingerprint of a critical ``leaver`` must not accept it: the file is refused."""
    path = estate / "accepted.json"
    written = run(
        "baseline", "-c", str(estate / "nhirecon.yaml"), "--now", NIGHTS[0], "-o", str(path)
    )
    assert written.returncode == 0, written.stderr
    document = json.loads(path.read_text())
    leaver = next(entry for entry in document["entries"] if entry["kind"] == "leaver")
    leaver.update(edit, label="old-test-user", note="a test account, SEC-9")
    path.write_text(json.dumps(document))
    code, report, stderr = audit_json(run, estate, NIGHTS[0], "--baseline", str(path))
    assert code == 2 and report == {}, stderr
    assert f"baseline file {path}: entries[" in stderr
    assert "is not the fingerprint of" in stderr or "is that of leaver crm c2" in stderr
    # What the message says to do works: the file is written anew, the entry truthful and
    # without the note that was written for what it claimed to be.
    again = run(
        "baseline", "-c", str(estate / "nhirecon.yaml"), "--now", NIGHTS[0], "-o", str(path)
    )
    assert again.returncode == 0, again.stderr
    [mended] = [e for e in json.loads(path.read_text())["entries"] if e["kind"] == "leaver"]
    assert (mended["target"], mended["account"], mended["note"]) == ("crm", "c2", "")
    code, report, stderr = audit_json(run, estate, NIGHTS[0], "--baseline", str(path))
    assert code == 0, stderr


def test_entries_of_targets_a_run_does_not_cover_are_kept_only_when_truthful(
    estate: Path,
) -> None:
    """``baseline -o FILE --target crm`` keeps the other targets' entries as they are, but
    not one whose account is not what its fingerprint hashes: the file it writes would be
    refused again."""
    from nhirecon.core.model import FindingKind, fingerprint
    from nhirecon.core.report import BaselineEntry

    first = night(estate, NIGHTS[0], keep_history=False)
    kind = FindingKind.DORMANT
    truthful = BaselineEntry(
        fingerprint(kind, "legacy", "w1"), kind, "legacy", "w1", "w1", "", None
    )
    lying = BaselineEntry(fingerprint(kind, "legacy", "w9"), kind, "legacy", "w2", "w2", "", None)
    previous = baseline.Baseline("b.json", None, "hr", (truthful, lying))
    built = baseline.build(first, previous=previous)
    kept = [entry for entry in built.entries if entry.target == "legacy"]
    assert kept == [truthful]
