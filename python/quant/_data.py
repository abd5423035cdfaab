"""Bars handed over from Python: pandas or polars DataFrames, pyarrow Tables, or a dict of them
per instrument, turned into Arrow tables of the layout quant's bar files have (a ``timestamp``
column, then ``open``, ``high``, ``low``, ``close``, ``volume`` as float64).

Only the shape is adjusted here (a DatetimeIndex becomes the ``timestamp`` column, integer
prices and volumes become float64); every check of the values (missing columns, NaN or
non-positive prices, inconsistent bars, timestamps out of order) is the engine's, with the row
and column named.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

#: Names the engine reads as the time column, in order of preference (case-insensitive).
TIME_NAMES = ("timestamp", "ts", "time", "date")
#: The value columns of a bar.
VALUE_NAMES = ("open", "high", "low", "close", "volume")
#: The name of a table's single instrument when nothing names it.
DEFAULT_INSTRUMENT = "data"


def _is(obj: Any, module: str, name: str) -> bool:
    kind = type(obj)
    return kind.__name__ == name and kind.__module__.split(".")[0] == module


def to_arrow(obj: Any) -> pa.Table:
    """Returns ``obj`` (pandas or polars DataFrame, pyarrow Table or RecordBatch, or any object
    with ``__arrow_c_stream__``) as a pyarrow Table with a time column and float64 values."""
    if isinstance(obj, pa.RecordBatch):
        table = pa.Table.from_batches([obj])
    elif isinstance(obj, pa.Table):
        table = obj
    elif _is(obj, "pandas", "DataFrame"):
        table = _from_pandas(obj)
    elif _is(obj, "polars", "DataFrame"):
        table = obj.to_arrow()
    elif hasattr(obj, "__arrow_c_stream__"):
        table = pa.table(obj)
    else:
        raise TypeError(
            "data: expected a pandas or polars DataFrame, a pyarrow Table, or a dict of them "
            f"per instrument, found {type(obj).__name__}"
        )
    return _float_values(table)


def _from_pandas(df: Any) -> pa.Table:
    import pandas as pd

    names = {str(c).lower() for c in df.columns}
    if not names.intersection(TIME_NAMES) and isinstance(df.index, pd.DatetimeIndex):
        df = df.rename_axis("timestamp").reset_index()
    return pa.Table.from_pandas(df, preserve_index=False)


def _float_values(table: pa.Table) -> pa.Table:
    """Casts integer (or float32, decimal) OHLCV columns to float64, as the engine reads them."""
    for i, field in enumerate(table.schema):
        if field.name.lower() not in VALUE_NAMES or field.type == pa.float64():
            continue
        if pa.types.is_integer(field.type) or pa.types.is_floating(field.type) or pa.types.is_decimal(
            field.type
        ):
            table = table.set_column(i, field.name, table.column(i).cast(pa.float64()))
    return table


def named_tables(data: Any) -> list[tuple[str, pa.Table]]:
    """Returns (instrument, table) pairs: a dict's keys name its tables; one table is split by its
    ``instrument`` column when it has one, else named ``data``."""
    if isinstance(data, dict):
        if not data:
            raise ValueError("data: expected at least one instrument, found an empty dict")
        return [(str(name), to_arrow(table)) for name, table in data.items()]
    table = to_arrow(data)
    column = next((f.name for f in table.schema if f.name.lower() == "instrument"), None)
    if column is None:
        return [(DEFAULT_INSTRUMENT, table)]
    import pyarrow.compute as pc

    names = table.column(column)
    if names.null_count:
        raise ValueError(f"data: column {column!r} holds a null instrument name")
    return [
        (str(name), table.filter(pc.equal(names, name)))
        for name in pc.unique(names).to_pylist()
    ]
