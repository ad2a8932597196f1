"""Core statements compiled once per dialect and run straight on the driver's cursor.

A Core `execute` spends ~50 µs of Python around a statement that SQLite runs in ~10 µs, and a
ticket's issue runs five of them. `Prepared` keeps what SQLAlchemy's compiler makes of a
statement for a dialect (its SQL, the order of its parameters, their defaults and the type
bind processors) and runs that on the DBAPI cursor of the connection's transaction. The
statement is still written in Core and its parameters still go through the column types;
only the rows come back raw, so it is for statements whose results need no conversion
(counts, ids, numbers).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement


@dataclass(frozen=True)
class _Compiled:
    """One statement as one dialect runs it."""

    sql: str
    names: tuple[str, ...] | None  # parameter order for positional drivers (SQLite's `?`)
    defaults: dict[str, Any]  # values the statement carries itself (literals)
    processors: dict[str, Callable[[Any], Any]]


class Prepared:
    """A statement and, per dialect, its compiled form."""

    def __init__(self, statement: ClauseElement, column_keys: Sequence[str] | None = None):
        self.statement = statement
        self.column_keys = list(column_keys) if column_keys is not None else None
        self._compiled: dict[str, _Compiled] = {}

    def _for(self, dialect: Dialect) -> _Compiled:
        """The compiled form for this dialect, made at first use."""
        done = self._compiled.get(dialect.name)
        if done is None:
            compiled = self.statement.compile(dialect=dialect, column_keys=self.column_keys)
            binds = compiled.binds.items()
            processors = {}
            for name, bind in binds:
                processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
                if processor is not None:
                    processors[name] = processor
            names = tuple(compiled.positiontup) if compiled.positiontup is not None else None
            defaults = {name: bind.effective_value for name, bind in binds if not bind.required}
            done = _Compiled(compiled.string, names, defaults, processors)
            self._compiled[dialect.name] = done
        return done

    def _params(self, compiled: _Compiled, given: Mapping[str, Any]) -> Any:
        """The driver's parameters: defaults, then the given values, through the types."""
        values = {**compiled.defaults, **given} if compiled.defaults else dict(given)
        for name, processor in compiled.processors.items():
            values[name] = processor(values[name])
        return values if compiled.names is None else [values[n] for n in compiled.names]

    def rows(self, conn: Connection, params: Mapping[str, Any]) -> list[Any]:
        """Runs the statement once; returns its raw rows."""
        compiled = self._for(conn.dialect)
        cursor = _cursor(conn)
        try:
            cursor.execute(compiled.sql, self._params(compiled, params))
            return list(cursor.fetchall()) if cursor.description else []
        finally:
            cursor.close()

    def scalar(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        """The first column of the first row, or None."""
        found = self.rows(conn, params)
        return found[0][0] if found else None

    def many(self, conn: Connection, params: Iterable[Mapping[str, Any]]) -> None:
        """Runs the statement once per set of parameters."""
        compiled = self._for(conn.dialect)
        cursor = _cursor(conn)
        try:
            cursor.executemany(compiled.sql, [self._params(compiled, p) for p in params])
        finally:
            cursor.close()


def _cursor(conn: Connection) -> Any:
    """A cursor of the DBAPI connection under the SQLAlchemy one (inside its transaction)."""
    driver = conn.connection.driver_connection
    assert driver is not None
    return driver.cursor()
