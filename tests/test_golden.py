"""Every report format on the example estate, byte for byte, through the installed command.

Regenerate every golden file after an intended change with::

    NHIRECON_UPDATE_GOLDEN=1 python -m pytest tests -k golden

and review the diff (``git diff tests/data/golden``). That runs this module and every
``*golden*`` test of the nightly formats (``tests/reports_golden.py``);
``test_every_golden_file_is_regenerated_by_the_documented_command`` fails when a golden
file is added that the command would not refresh.

When updating, a test writes the file, renders the report once more and compares that with
the file read back, so an update still checks that rendering is deterministic. CI never
updates: with ``CI`` set, the variable fails the run instead of rewriting the expectations.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from .conftest import GOLDEN, NOW, ROOT, Run
from .reports_golden import REGENERATE, updating

FORMATS = {
    "table": "example.txt",
    "json": "example.json",
    "csv": "example.csv",
    "markdown": "example.md",
}


def test_golden_files_are_never_regenerated_on_ci() -> None:
    """Fails the whole run on CI when the variable is set (this module always runs there)."""
    updating()


def audit(run: Run, name: str, out: Path, seed: str | None = None) -> bytes:
    """The report ``name`` of the example, by the installed command; with ``seed``, under
    that ``PYTHONHASHSEED`` (a process of its own, hashing strings its own way)."""
    sample = str(ROOT / "config.sample.yaml")
    gate = ("--fail-on", "orphan,jit-orphan>0")
    env = None if seed is None else {"PYTHONHASHSEED": seed}
    argv = ("audit", "-c", sample, "--now", NOW, *gate, "-f", name, "-o", str(out))
    result = run(*argv, env=env)
    assert result.returncode == 1, result.stderr  # the example estate has orphans
    assert result.stdout == ""
    return out.read_bytes()


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_report_matches_golden_file(
    run: Run, tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rendered = audit(run, name, tmp_path / f"first-{FORMATS[name]}")
    golden = GOLDEN / FORMATS[name]
    if updating():
        before = golden.read_bytes() if golden.exists() else None
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(rendered)
        again = audit(run, name, tmp_path / f"again-{FORMATS[name]}", seed="1")
        assert again == rendered, f"two renderings of {name} differ: it is not deterministic"
        with capsys.disabled():
            state = "unchanged" if before == rendered else "updated"
            print(f"\n{state}: {golden.relative_to(ROOT)}")
    assert golden.exists(), f"{golden} is missing; regenerate with {REGENERATE}"
    assert rendered == golden.read_bytes(), (
        f"{name} differs from {golden}; if intended, regenerate with {REGENERATE} and review"
        " the diff"
    )


def _golden_writers() -> dict[str, str]:
    """Golden file name -> the test function that compares (and, updating, writes) it."""
    writers = {file: "test_report_matches_golden_file" for file in FORMATS.values()}
    for module in sorted(Path(__file__).parent.glob("test_*.py")):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef):
                continue
            for call in ast.walk(function):
                if (
                    isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Name)
                    and call.func.id == "check_golden"
                ):
                    first = call.args[0] if call.args else None
                    assert isinstance(first, ast.Constant), (
                        f"{module.name}:{call.lineno}: name golden files literally"
                    )
                    writers[str(first.value)] = f"{module.name}::{function.name}"
    return writers


def test_every_golden_file_is_regenerated_by_the_documented_command() -> None:
    """Each file in tests/data/golden is compared by a test that ``-k golden`` selects, and
    each golden test's file exists."""
    writers = _golden_writers()
    on_disk = {path.name for path in GOLDEN.iterdir() if path.is_file()}
    assert on_disk == set(writers), (
        f"golden files nobody regenerates: {sorted(on_disk - set(writers))};"
        f" golden tests without their file: {sorted(set(writers) - on_disk)}"
    )
    for file, test in writers.items():
        assert "golden" in test, f"{file} is compared by {test}, which `-k golden` misses"


def test_same_input_and_now_give_the_same_bytes(run: Run, tmp_path: Path) -> None:
    """Two processes that hash strings differently (a set's order may differ) write the
    same report."""
    args = ["audit", "-c", str(ROOT / "config.sample.yaml"), "--now", NOW, "-f", "json"]
    first, second = (run(*args, env={"PYTHONHASHSEED": seed}) for seed in ("1", "2"))
    assert first.stdout == second.stdout and first.stdout.startswith("{")
