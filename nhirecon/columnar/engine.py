"""The columnar engine: a large audit of CSV exports, with DuckDB doing the bulk.

DuckDB (embedded, no server) holds every row of the source and the targets as columns.
It correlates every account by joins (one per rule, with the number of identities each key
finds) and tests every finding rule on every row at once, conservatively; the rows where
anything could be found, and the rows those depend on, are *kept*: read by the CSV
connector's own mapping into records and given to the usual rules (see
:mod:`nhirecon.columnar.decide`). The other rows only add to the counts. The report is the
one the usual path gives, finding for finding; a differential test holds the two to it.

Where the engine cannot read an input exactly as the connector does (see
:class:`~nhirecon.columnar.export.Unsupported`), or is not installed, :func:`triage`
returns ``None`` and the audit reads every row the usual way.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

from nhirecon.columnar import decide as deciding
from nhirecon.columnar.decide import Decision
from nhirecon.columnar.export import Export, Loading, Unsupported
from nhirecon.columnar.keys import Input, TargetInput, entry_keys
from nhirecon.columnar.pulled import Pulled
from nhirecon.columnar.quiet import Quiet
from nhirecon.columnar.threads import at_once, signals_interrupt, signals_noted
from nhirecon.columnar.values import Field, field_sql
from nhirecon.config import Config, Endpoint, Target
from nhirecon.connectors.by_column import CellMapper
from nhirecon.connectors.coverage import Coverage
from nhirecon.connectors.csv import CsvConnector
from nhirecon.core.model import DATE_FIELDS, Origin
from nhirecon.core.values import as_utc
from nhirecon.errors import NhireconError

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)

MIN_BYTES: Final = 16 << 20
"""The engine starts only when the exports hold at least this many bytes together (16
MiB, about 150,000 rows): below it, starting it costs more than it saves."""
MEMORY_LIMIT: Final = "1GB"
"""What DuckDB may hold in memory before it spills to a temporary directory."""


@dataclass(frozen=True)
class Triaged:
    source: Pulled
    targets: dict[str, Pulled]


Progress = Callable[[str, int], None]
"""Called as records arrive: (what is being pulled, how many so far)."""


def triage(
    config: Config,
    targets: Sequence[Target],
    now: datetime,
    progress: Progress,
    *,
    min_bytes: int = MIN_BYTES,
    sought: Mapping[str, frozenset[str]] = MappingProxyType({}),
) -> Triaged | None:
    """The audit's inputs, triaged by the engine; ``None`` when it does not apply (the
    log says why): not installed, a small estate, or an input it does not read. A target
    given keys in ``sought`` (by name) keeps the accounts they name and what their
    correlation depends on, for ``explain`` (see :attr:`TargetInput.sought`): neither its
    rows nor the source's are then all an audit needs, nor are its counts an audit's."""
    endpoints = [*config.source.inputs, *(target.endpoint for target in targets)]
    if len(config.source.inputs) != 1 or any(
        endpoint.connector is not CsvConnector for endpoint in endpoints
    ):
        log.debug("columnar engine not used: it reads one source input and CSV exports only")
        return None
    try:
        connectors = [_open(endpoint) for endpoint in endpoints]
        size = sum(connector.path.stat().st_size for connector in connectors)
    except (Unsupported, OSError):
        return None  # the usual reading names the problem
    if size < min_bytes:
        log.debug(
            "columnar engine not used: the exports hold %d bytes, under %d (--engine columnar"
            " uses it at any size)",
            size,
            min_bytes,
        )
        return None
    try:
        import duckdb
    except ImportError:
        log.info("columnar engine not used: the duckdb package is not installed")
        return None
    with tempfile.TemporaryDirectory(prefix="nhirecon-columnar-") as spill:
        con = duckdb.connect(
            config={
                "memory_limit": MEMORY_LIMIT,
                "temp_directory": spill,
                # Every query that reads rows in order says so (ORDER BY n), so DuckDB need
                # not keep the order of the tables it writes, which costs memory in large
                # writes (DuckDB's own first advice when a query runs out of it).
                "preserve_insertion_order": False,
            }
        )
        raised: list[BaseException] = []
        try:
            with signals_noted(raised):
                return signals_interrupt(
                    con, lambda: _triage(con, config, targets, connectors, now, progress, sought)
                )
        except (duckdb.InterruptException, RuntimeError) as exc:
            if "interrupted" not in str(exc).lower():
                raise
            # Ctrl-C or SIGTERM: DuckDB stops the query and raises this in place of what
            # the signal's handler raised. The run stops as it would have.
            if raised:
                raise raised[-1] from None
            raise KeyboardInterrupt from None
        except Unsupported as exc:
            log.info("columnar engine not used: %s", exc)
            return None
        except duckdb.Error as exc:
            log.warning("columnar engine failed (%s); reading every row instead", exc)
            return None
        finally:
            con.close()


def _open(endpoint: Endpoint) -> CsvConnector:
    try:
        connector = endpoint.open()
    except NhireconError as exc:
        raise Unsupported(str(exc)) from None
    assert isinstance(connector, CsvConnector)
    return connector


def _triage(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    targets: Sequence[Target],
    connectors: Sequence[CsvConnector],
    now: datetime,
    progress: Progress,
    sought: Mapping[str, frozenset[str]],
) -> Triaged:
    inputs: list[tuple[Input, CellMapper]] = []
    warnings: list[list[logging.LogRecord]] = []
    # Every piece of every export at once, then every export split into cells at once (one
    # at_once inside another would leave the inner one's statements to run on at Ctrl-C).
    loading = [
        Loading(con, f"input{number}", connector) for number, connector in enumerate(connectors)
    ]
    at_once(con, itertools.chain.from_iterable(each.pieces() for each in loading))
    exports = at_once(con, [each.finish for each in loading])
    for export, connector in zip(exports, connectors, strict=True):
        if not export.rows:
            raise Unsupported(f"{export.path}: no rows")
        mapper = CellMapper(_Header(connector, export.names))
        with _held_warnings() as said:
            try:
                mapper.bind()
            except NhireconError as exc:  # the usual reading meets it later, after the
                raise Unsupported(str(exc)) from None  # rows of the inputs before it
        warnings.append(said)
        inputs.append((_input(export, mapper, connector), mapper))
    (source, _), target_inputs = inputs[0], inputs[1:]
    targets_in = []
    for target, (one, _) in zip(targets, target_inputs, strict=True):
        if not target.correlate:
            raise Unsupported(f"target {target.name} has no correlation rule")
        targets_in.append(
            TargetInput(
                one,
                target.correlate,
                target.compare,
                entry_keys(
                    [rule.account for rule in config.exceptions if rule.target == target.name]
                    + [entry.account for entry in config.protected if entry.target == target.name]
                ),
                sought.get(target.name, frozenset()),
            )
        )
    decision = deciding.decide(
        con,
        source,
        targets_in,
        now=as_utc(now).date(),
        policy=config.policy,
        active_status=config.source.active_status,
        source_named=entry_keys(
            [rule.account for rule in config.exceptions if rule.target == config.source.name]
            + [entry.account for entry in config.protected if entry.target == config.source.name]
        ),
    )
    labels = [config.source.inputs[0].name, *(target.name for target in targets)]
    pulled = []
    for number, ((one, mapper), label, said) in enumerate(
        zip(inputs, labels, warnings, strict=True)
    ):
        pulled.append(_pull(con, one, mapper, decision, said, linked=number > 0))
        progress(label, pulled[-1].total)
    return Triaged(
        pulled[0], {target.name: one for target, one in zip(targets, pulled[1:], strict=True)}
    )


class _Header:
    """The connector, with its header known: what :class:`FieldMapper` needs of it."""

    def __init__(self, connector: CsvConnector, names: tuple[str, ...]) -> None:
        self._connector = connector
        self.context = connector.context
        self.path = connector.path
        self._columns = frozenset(names)

    def defaults(self) -> Mapping[str, str]:
        return self._connector.defaults()

    def columns(self) -> frozenset[str]:
        return self._columns

    def default_origin(self, external_id: str | None) -> Origin:
        return self._connector.default_origin(external_id)


def _input(export: Export, mapper: CellMapper, connector: CsvConnector) -> Input:
    """The fields of an export as the mapping settled them, in SQL."""
    context = connector.context
    options = context.value_options
    if mapper.filters or mapper.latest or options.repeated_rows == "merge":
        raise Unsupported(f"{export.path}: a `where`, several date columns or merged rows")
    fields: dict[str, Field] = {}
    columns = [(name, column) for name, column, _ in mapper.fields]
    for name, named in [*mapper.multi, *mapper.custom]:
        if len(named) != 1:
            raise Unsupported(f"{export.path}: {name} read from several columns")
        columns.append((name, named[0]))
    for name, column in columns:
        form = options.date_formats.get(name, options.date_format) if name in DATE_FIELDS else None
        fields[name] = field_sql(name, export.names.index(column) + 1, context, form)
    return Input(export, MappingProxyType(fields), options.null_values)


def _pull(
    con: duckdb.DuckDBPyConnection,
    one: Input,
    mapper: CellMapper,
    decision: Decision,
    said: list[logging.LogRecord],
    *,
    linked: bool,
) -> Pulled:
    """The kept rows of ``one``, as raw rows for the connector's mapping, and the coverage
    of its quiet rows; for a target (``linked``), the links the engine made of them."""
    export = one.export
    rows = con.execute(
        f"""
        SELECT n, CASE WHEN NOT quoted THEN array_to_string(cells, $d) END, CASE WHEN quoted
        THEN cells END FROM {export.table}
        WHERE n IN (SELECT n FROM {export.table}_kept) ORDER BY n
        """,
        {"d": export.delimiter},
    ).fetchall()
    links = None
    if linked:
        links = {
            n: (identity, rule)
            for n, identity, rule in con.execute(
                f"SELECT n, identity, rule FROM {export.table}_link"
                f" WHERE n IN (SELECT n FROM {export.table}_kept)"
            ).fetchall()
        }
    log.info("columnar engine: %s: %d of %d rows are mapped", export.path, len(rows), export.rows)
    quiet_rows = export.rows - len(rows)
    counts = decision.values[export.table]
    quiet = Coverage(
        quiet_rows,
        0,
        quiet_rows,
        frozenset(name for name, count in counts.items() if count),
        MappingProxyType(dict(counts)),
    )
    return Pulled(
        export,
        rows,
        mapper,
        said,
        quiet,
        decision.quiet.get(export.table, Quiet()),
        export.rows,
        links,
    )


@contextlib.contextmanager
def _held_warnings() -> Iterator[list[logging.LogRecord]]:
    """Holds back what the mapping logs while the engine reads a header, to be said when
    its rows are read (if the engine steps aside, the usual reading says it instead)."""
    held: list[logging.LogRecord] = []
    logger = logging.getLogger("nhirecon.connectors.mapping")

    class Hold(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            held.append(record)

    handler = Hold()
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield held
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
