"""The columnar engine: DuckDB triages a large estate of CSV exports, so that only the rows
where something may be found are read into records (see :mod:`nhirecon.columnar.engine`)."""
