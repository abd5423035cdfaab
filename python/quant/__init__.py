"""quant from Python: backtests of TOML configs, vectorbt-style signals and strategies written
in Python, all run by the same Rust engine as the ``quant`` command line, with results as
pyarrow Tables.

>>> import quant
>>> run = quant.backtest("backtests/sma_crossover.toml")
>>> run.summary["final_equity"]
63341.19136...
>>> run.trades.to_pandas()  # one row per round trip, as trades.csv

Errors of configs, data and the engine are :class:`QuantError` with the command line's message
(file, line, key, row and column named); an exception raised by a strategy's ``on_bar`` stops
the run and is raised again with the bar's time as a note.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping, Sequence, Union

import pyarrow as pa

from . import _data
from ._quant import Ctx, QuantError, ReplayFeed
from . import _quant

__all__ = [
    "Ctx",
    "QuantError",
    "ReplayFeed",
    "Run",
    "Strategy",
    "backtest",
    "features",
    "from_signals",
    "load_bars",
    "paper",
    "replay_feed",
    "sweep",
    "train",
    "Trained",
]

Config = Union[str, "os.PathLike[str]", Mapping[str, Any]]
Data = Any  # a DataFrame (pandas, polars), a pyarrow Table, or a dict of them per instrument


class Strategy:
    """A strategy written in Python. Subclass it and implement :meth:`on_bar`; pass an instance
    as ``quant.backtest(config, strategy=MyStrategy())``, or unchanged to
    ``quant.paper(config, strategy=MyStrategy())`` to trade a live feed.

    ``features`` lists ``[[features]]`` tables (dicts) the strategy reads with
    ``ctx.feature(name)``, computed by the engine beside the config's own, e.g.
    ``[{"name": "fast", "kind": "sma", "period": 10, "input": "close"}]``.

    Orders placed in ``on_bar`` follow the engine's fill rules: a market order fills at the next
    bar's open, limits and stops on later bars that reach them, sized by the config's
    ``[sizing]`` unless ``size`` is given.
    """

    features: Sequence[Mapping[str, Any]] = ()

    def on_bar(self, ctx: Ctx) -> None:
        """Called once per bar of each instrument, in time order, with what the strategy may
        read (the bar, features, position, cash) and the methods that place orders."""
        raise NotImplementedError(f"{type(self).__name__} must implement on_bar(self, ctx)")


class Run:
    """The results of one backtest or paper session, kept in memory: the summary, the tables,
    the report."""

    def __init__(self, results: _quant.Results, stopped: str | None = None) -> None:
        self._results = results
        #: Why a paper session stopped (``"duration"``, ``"events"``, ``"interrupted"``,
        #: ``"feed ended"``); None for a backtest.
        self.stopped = stopped
        self._summary: dict[str, Any] | None = None
        self._tables: dict[str, pa.Table] = {}

    @property
    def summary(self) -> dict[str, Any]:
        """What ``summary.json`` holds: ``final_equity``, ``total_return``, ``sharpe``,
        ``max_drawdown``, ``trades``, ... and the config the run came from."""
        if self._summary is None:
            self._summary = json.loads(self._results.summary_json())
        return self._summary

    def _table(self, name: str) -> pa.Table:
        if name not in self._tables:
            self._tables[name] = self._results.table(name)
        return self._tables[name]

    @property
    def trades(self) -> pa.Table:
        """One row per round trip (closed, then open): instrument, side, quantity, entry and exit
        time and price, pnl, return, fees, status."""
        return self._table("trades")

    @property
    def fills(self) -> pa.Table:
        """One row per fill: timestamp, order_id, instrument, side, quantity, price, fee."""
        return self._table("fills")

    @property
    def orders(self) -> pa.Table:
        """One row per order with its kind, prices, status and filled quantity."""
        return self._table("orders")

    @property
    def equity(self) -> pa.Table:
        """One row per time step: timestamp, equity, cash, drawdown."""
        return self._table("equity")

    @property
    def positions(self) -> pa.Table:
        """Holdings per time step and instrument (quantity, price, value), as pyfolio reads."""
        return self._table("positions")

    @property
    def returns(self) -> pa.Table:
        """Per-step returns of equity, as quantstats and pyfolio read."""
        return self._table("returns")

    def save(self, dir: str | os.PathLike[str] | None = None, *, force: bool = False) -> Path:
        """Writes the run's files (summary.json, tables as CSV and Parquet, report.html) into
        ``dir``, or into a new ``<output.dir>/<name>/<run-id>/`` as ``quant backtest`` does.
        A folder holding a run's results is refused unless ``force``. Returns the folder."""
        return Path(self._results.save(None if dir is None else os.fspath(dir), force))

    def report_html(self) -> str:
        """Returns the HTML report (one self-contained page)."""
        page = self._results.report_html()
        if page is None:
            raise QuantError("no report: the config sets [output] report = false")
        return page

    def __repr__(self) -> str:
        s = self.summary
        return (
            f"Run({s.get('name')!r}, final_equity={s.get('final_equity')!r}, "
            f"trades={self.trades.num_rows})"
        )


def _config(config: Config) -> Any:
    if isinstance(config, Mapping):
        return dict(config)
    return os.fspath(config)


def _data_pairs(data: Data | None) -> list[tuple[str, pa.Table]] | None:
    return None if data is None else _data.named_tables(data)


def backtest(
    config: Config,
    *,
    data: Data | None = None,
    overrides: Mapping[str, Any] | None = None,
    strategy: Strategy | None = None,
) -> Run:
    """Runs the backtest ``config`` describes (a TOML file's path, or a dict of the same
    schema) and returns its results.

    ``data`` replaces the config's ``[data]``: a DataFrame (pandas with a DatetimeIndex or a
    ``timestamp`` column, or polars), a pyarrow Table, or a dict of them per instrument, with
    ``open``, ``high``, ``low``, ``close``, ``volume`` columns. ``overrides`` puts values in at
    dotted keys, as ``quant backtest --set`` does: ``{"strategy.params.fast": 5}``.
    ``strategy`` replaces the config's strategy with a :class:`Strategy` written in Python.
    """
    _check_strategy(strategy)
    pairs = list((overrides or {}).items())
    if strategy is None:
        results = _quant.backtest(_config(config), _data_pairs(data), pairs)
    else:
        declared = [dict(f) for f in getattr(strategy, "features", ())]
        results = _quant.backtest(_config(config), _data_pairs(data), pairs, strategy, declared)
    return Run(results)


def paper(
    config: Config,
    *,
    strategy: Strategy | None = None,
    overrides: Mapping[str, Any] | None = None,
    duration: float | None = None,
    events: int | None = None,
    out: str | os.PathLike[str] | None = None,
    force: bool = False,
) -> Run:
    """Paper trades ``config`` (a TOML path or a dict with a ``[live]`` table) as ``quant paper``
    does: its strategy, or ``strategy`` (the same :class:`Strategy` that runs in
    :func:`backtest`), on the ``[live]`` websocket feed with simulated fills at the feed's
    prices, every event journaled in ``[live] journal`` before it is used (a session started
    again on the same journal replays it and continues).

    It runs until ``duration`` seconds have passed, ``events`` market events were used (those
    replayed from the journal count), the feed ends, or Ctrl-C (KeyboardInterrupt, also the
    notebook's stop button), and returns the results so far; ``Run.stopped`` says which.
    ``out`` writes the results into that folder as ``--out`` does, rewritten every ``[live]
    refresh_results_s`` while the session runs (``force`` replaces a run's results there);
    without it they stay in memory (``Run.save``). The GIL is released while the session waits
    on the feed. An exception raised by ``on_bar`` stops the session (the journal kept) and is
    raised again with the bar's time as a note; ``[live] mode = "live"`` is refused.
    """
    _check_strategy(strategy)
    if events is not None and (isinstance(events, bool) or not isinstance(events, int) or events < 0):
        raise ValueError(f"events: expected a whole number >= 0, found {events!r}")
    pairs = list((overrides or {}).items())
    declared = [] if strategy is None else [dict(f) for f in getattr(strategy, "features", ())]
    results, stopped = _quant.paper(
        _config(config),
        pairs,
        strategy,
        declared,
        None if duration is None else float(duration),
        events,
        None if out is None else os.fspath(out),
        force,
    )
    return Run(results, stopped)


def replay_feed(
    data: str | os.PathLike[str],
    *,
    speed: float = 0.0,
    interval: str | None = None,
    symbol: str | None = None,
    kind: str = "bars",
) -> ReplayFeed:
    """Serves a bar file (CSV, Parquet, Arrow; or a trade file with ``kind="trades"``) as a
    Binance-format websocket feed on 127.0.0.1, in this process, as ``quant feed replay`` does:
    to try :func:`paper` offline. ``speed``: seconds of data time played per second (0: as
    fast as the session reads); ``interval`` and ``symbol`` name the stream (default: the bars'
    spacing and the file's stem). Use it as a context manager, or ``close()`` it::

        with quant.replay_feed("backtests/data/GOOG.csv") as feed:
            run = quant.paper("backtests/paper_sma.toml", strategy=MyStrategy(),
                              overrides={"live.url": feed.url}, events=feed.messages)

    ``feed.url`` and ``feed.streams`` are what ``[live] url`` and ``streams`` take. After its
    last message the feed stays open with pings, as a live feed never ends: stop the session
    with ``events`` or ``duration``.
    """
    if kind not in ("bars", "trades"):
        raise ValueError(f"kind: expected 'bars' or 'trades', found {kind!r}")
    return ReplayFeed(os.fspath(data), float(speed), interval, symbol, kind == "trades")


def _check_strategy(strategy: Any) -> None:
    if strategy is not None and not hasattr(strategy, "on_bar"):
        raise TypeError(
            f"strategy: expected a quant.Strategy with on_bar(self, ctx), found {type(strategy).__name__}"
        )


def _flags(values: Any, what: str) -> bytes:
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - pyarrow users without numpy
        return bytes(bytearray(1 if bool(v) else 0 for v in values))
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{what}: expected one flag per bar (1-D), found shape {array.shape}")
    if array.dtype != np.bool_:
        if array.dtype.kind == "f" and np.isnan(array).any():
            raise ValueError(f"{what}: NaN at row {int(np.flatnonzero(np.isnan(array))[0])}: expected true or false")
        array = array.astype(bool)
    return np.ascontiguousarray(array).tobytes()


def from_signals(
    data: Data,
    entries: Any,
    exits: Any,
    *,
    config: Mapping[str, Any] | None = None,
    **broker: Any,
) -> Run:
    """Backtests entry and exit flags computed ahead (vectorbt's ``Portfolio.from_signals``):
    ``entries[i]`` true buys at bar i+1's open when flat, ``exits[i]`` true sells the whole
    position at bar i+1's open when long; a bar flagged both ways does nothing.

    ``entries`` and ``exits`` are boolean arrays (numpy, pandas Series, lists) with one flag per
    bar, or dicts of them per instrument when ``data`` is a dict. ``broker`` sets ``[broker]``
    keys (``initial_cash``, ``commission``, ``slippage_bps``, ``fractional``, ...); ``config``
    gives other tables of the config schema (``sizing``, ``risk``, ``metrics``, ``output``).
    """
    pairs = _data.named_tables(data)
    if isinstance(entries, Mapping) != isinstance(exits, Mapping):
        raise TypeError("entries and exits: expected both arrays or both dicts per instrument")
    flags = []
    for name, _ in pairs:
        if isinstance(entries, Mapping):
            if name not in entries or name not in exits:
                raise KeyError(f"entries and exits: no flags for instrument {name!r}")
            e, x = entries[name], exits[name]
        elif len(pairs) > 1:
            raise TypeError("entries and exits: expected dicts per instrument for several instruments")
        else:
            e, x = entries, exits
        flags.append((_flags(e, f"entries[{name!r}]"), _flags(x, f"exits[{name!r}]")))
    table: dict[str, Any] = {"name": "from_signals", **dict(config or {})}
    table["broker"] = {**dict(table.get("broker", {})), **broker}
    return Run(_quant.from_signals(table, pairs, flags))


def features(data: Data | None, features: Sequence[Mapping[str, Any]] | Config) -> pa.Table:
    """Computes a feature pipeline over ``data``: ``features`` is a list of ``[[features]]``
    tables (dicts such as ``{"name": "rsi", "kind": "rsi", "period": 14}``), or a config whose
    pipeline (its ``[[features]]`` and those its strategy reads) is computed, over its own
    ``[data]`` when ``data`` is None. Returns a table with ``timestamp``, ``instrument`` and one
    column per feature output, null where a feature is not ready; the values equal those a
    strategy sees bar by bar."""
    if isinstance(features, (str, os.PathLike)) or isinstance(features, Mapping):
        config = _config(features)
    else:
        config = {"name": "features", "features": [dict(f) for f in features]}
    return _quant.features(config, _data_pairs(data))


def load_bars(config: Config) -> dict[str, pa.Table]:
    """Reads the bars a config's ``[data]`` names (CSV, Parquet or Arrow files, a catalog, or
    the seeded generator with ``kind = "synthetic"``), checked as a backtest reads them: one
    table per instrument with ``timestamp`` (UTC), ``open``, ``high``, ``low``, ``close``,
    ``volume``."""
    return dict(_quant.load_bars(_config(config)))


def _path(config: Any, what: str) -> str:
    if isinstance(config, Mapping):
        raise TypeError(f"{what}: expected the path of a TOML config file (its jobs and models are written beside it)")
    return os.fspath(config)


def sweep(
    config: str | os.PathLike[str],
    *,
    out: str | os.PathLike[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> pa.Table:
    """Runs the config's ``[sweep]`` (grid, random samples or walk-forward) as ``quant sweep``
    does, across cores, and returns the ranked table: one row per parameter set with every
    summary figure, best first by ``rank_by``. ``out`` receives sweep.csv/.parquet, the top runs
    and the report (default ``<output.dir>/<name>-sweep/``, as the command)."""
    path = _path(config, "sweep")
    folder = None if out is None else os.fspath(out)
    return _quant.sweep(path, folder, list((overrides or {}).items()))


class Trained:
    """A model trained by :func:`train`: its folder and the scores in its model.json."""

    def __init__(self, folder: Path) -> None:
        #: The model folder (weights.safetensors, model.json, explain.json, oos_equity.csv).
        self.folder = folder
        #: model.json: the model's id and metadata (pipeline, standardisation, scores, lineage).
        self.model = json.loads((folder / "model.json").read_text())

    @property
    def metrics(self) -> dict[str, Any]:
        """Walk-forward scores: per fold (``folds``), pooled (``overall``: the model's accuracy,
        macro-F1 and log loss beside the majority-class and last-return-sign baselines), the
        out-of-sample return, and the final model's training curve."""
        return self.model.get("metadata", {}).get("metrics", {})

    def __repr__(self) -> str:
        overall = self.metrics.get("overall", {}).get("model", {})
        return f"Trained({str(self.folder)!r}, accuracy={overall.get('accuracy')!r})"


def train(
    config: str | os.PathLike[str],
    *,
    out: str | os.PathLike[str] | None = None,
    target: str = "trend",
    overrides: Mapping[str, Any] | None = None,
) -> Trained:
    """Trains the config's ``[model]`` as ``quant train`` does: walk-forward evaluation, then the
    final model saved into ``out`` (default: the ``ml_trend`` strategy's ``model`` path, else
    ``models/<name>/``). ``target``: ``"trend"`` or ``"volatility"``."""
    if target not in ("trend", "volatility"):
        raise ValueError(f"target: expected 'trend' or 'volatility', found {target!r}")
    folder = _quant.train(
        _path(config, "train"),
        None if out is None else os.fspath(out),
        target,
        list((overrides or {}).items()),
    )
    return Trained(Path(folder))
