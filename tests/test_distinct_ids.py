"""Every pull yields distinct ids: a repeated id fails it, naming both places, whether the
records come through the mapping or from a plugin that makes its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from nhirecon.config.model import Endpoint, Source
from nhirecon.connectors import registry
from nhirecon.connectors.base import Connector
from nhirecon.connectors.context import ConnectorContext, RawRow
from nhirecon.connectors.csv import CsvConnector
from nhirecon.core.model import Record
from nhirecon.errors import DataError
from nhirecon.pipeline import pull_source


class OwnRecords(Connector):
    """A plugin that yields its records itself, two of them with one id, both read at
    the same place (one page of an API)."""

    name = "own-records"
    description = "test plugin"
    ids: ClassVar[tuple[str, ...]] = ("a", "b", "a")

    def rows(self) -> Iterator[RawRow]:
        return iter(())

    def records(self) -> Iterator[Record]:
        page = "https://api.example.com/users?page=1"
        for id_ in self.ids:
            yield Record(id=id_, location=page)


class SamePlaceRows(Connector):
    """Mapped rows, two with one id, sharing one location object (a page)."""

    name = "same-place"
    description = "test plugin"

    def rows(self) -> Iterator[RawRow]:
        page = "https://api.example.com/users?page=1"
        for id_ in ("a", "b", "a"):
            yield RawRow(page, {"id": id_}.get)


def endpoint(tmp_path: Path, connector: type[Connector], key: str, **options: str) -> Endpoint:
    context = ConnectorContext("app", tmp_path, {}, {}, key=key)
    return Endpoint("app", connector, options, context, key)


@pytest.mark.parametrize("connector", [OwnRecords, SamePlaceRows])
def test_a_repeated_id_fails_the_pull(tmp_path: Path, connector: type[Connector]) -> None:
    pulled = registry.pull(endpoint(tmp_path, connector, "targets[0]"))
    with pytest.raises(DataError, match=r"users\?page=1: account id 'a' already read at https"):
        list(pulled)


def hr_and_bots(tmp_path: Path, bots: str) -> Source:
    """A source of two inputs: ``hr.csv`` (E1, E2) and ``bots.csv`` holding ``bots``."""
    (tmp_path / "hr.csv").write_text("id,email\nE1,a@example.com\nE2,b@example.com\n")
    (tmp_path / "bots.csv").write_text(f"id,email\n{bots}")
    return Source(
        "hr",
        (
            endpoint(tmp_path, CsvConnector, "source", path="hr.csv"),
            endpoint(tmp_path, CsvConnector, "source.include[0]", path="bots.csv"),
        ),
        frozenset({"active"}),
    )


def test_an_id_in_two_inputs_of_the_source_names_the_first_place(tmp_path: Path) -> None:
    source = hr_and_bots(tmp_path, "B1,x@example.com\nE2,c@example.com\n")
    with pytest.raises(DataError) as raised:
        pull_source(source)
    assert str(raised.value) == (
        f"{tmp_path / 'bots.csv'}:3: identity id 'E2' already read at {tmp_path / 'hr.csv'}:3"
    )


def test_distinct_ids_from_two_inputs_are_all_kept(tmp_path: Path) -> None:
    source = hr_and_bots(tmp_path, "B1,x@example.com\n")
    assert [identity.id for identity in pull_source(source).identities] == ["E1", "E2", "B1"]


class _OldEndpoint:
    """An endpoint made before connectors were given the run's instant: ``open()`` takes
    no argument (the shape of :class:`~nhirecon.connectors.registry.Endpoint` then)."""

    def __init__(self, inner: Endpoint) -> None:
        self.inner = inner
        self.name, self.key = inner.name, inner.key
        self.connector, self.options = inner.connector, inner.options

    def open(self) -> Connector:
        return self.inner.open()


class _TwoRecords(OwnRecords):
    ids: ClassVar[tuple[str, ...]] = ("a", "b")


def test_an_endpoint_whose_open_takes_no_instant_is_still_pulled(tmp_path: Path) -> None:
    old = _OldEndpoint(endpoint(tmp_path, _TwoRecords, "targets[0]"))
    assert [record.id for record in registry.pull(old)] == ["a", "b"]  # type: ignore[arg-type]
