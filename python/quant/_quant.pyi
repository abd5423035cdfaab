"""Type stubs of quant's native module (PyO3). Use the documented wrappers in ``quant``."""

from os import PathLike
from typing import Any, Mapping, Sequence

import pyarrow as pa

class QuantError(Exception):
    """An error of a config, of data or of the engine, with the command line's message (file,
    line, key, row and column named)."""

class Ctx:
    """What a :class:`quant.Strategy` sees on one bar, and where it places orders. One object is
    reused for every bar: read it inside ``on_bar``, do not keep it."""

    @property
    def ts(self) -> int:
        """The bar's time: nanoseconds since the Unix epoch, UTC."""
    @property
    def instrument(self) -> str:
        """The bar's instrument."""
    @property
    def bar_index(self) -> int:
        """Bars of this instrument before this one (0 on its first bar)."""
    @property
    def open(self) -> float: ...
    @property
    def high(self) -> float: ...
    @property
    def low(self) -> float: ...
    @property
    def close(self) -> float: ...
    @property
    def volume(self) -> float: ...
    @property
    def position(self) -> float:
        """Units held of the bar's instrument (negative when short)."""
    @property
    def entry_price(self) -> float:
        """Average entry price of the units held (0 when flat)."""
    @property
    def cash(self) -> float: ...
    @property
    def equity(self) -> float:
        """Cash plus every position at its last price."""
    @property
    def open_orders(self) -> int:
        """Working orders of the bar's instrument."""
    @property
    def features(self) -> dict[str, float | None]:
        """Every feature column of this bar as {column: value} (None while not ready)."""
    def feature(self, name: str) -> float | None:
        """The value of feature column ``name`` on this bar, None while it is not ready.
        Raises KeyError for a column the run does not have."""
    def buy(
        self,
        size: float | None = None,
        *,
        fraction: float | None = None,
        limit: float | None = None,
        stop: float | None = None,
        take_profit: float | None = None,
        stop_loss: float | None = None,
        tif: str = "gtc",
        tag: int = 0,
    ) -> None:
        """Buys the bar's instrument: a market order (next bar's open), or a limit, stop or
        stop-limit order with ``limit`` and/or ``stop``. ``size`` units, or what ``[sizing]``
        allows (times ``fraction`` in (0, 1]). ``take_profit`` and ``stop_loss`` attach a
        bracket placed when it fills (one cancels the other). ``tif``: gtc, day or ioc."""
    def sell(
        self,
        size: float | None = None,
        *,
        fraction: float | None = None,
        limit: float | None = None,
        stop: float | None = None,
        take_profit: float | None = None,
        stop_loss: float | None = None,
        tif: str = "gtc",
        tag: int = 0,
    ) -> None:
        """Sells, as :meth:`buy` (a short needs ``[broker] allow_short = true``)."""
    def close_position(self, *, tag: int = 0) -> None:
        """Closes the whole position of the bar's instrument at the next bar's open."""
    def cancel_all(self) -> None:
        """Cancels every working order of the bar's instrument."""

class Results:
    """A finished run's results in memory (wrapped by :class:`quant.Run`)."""

    def summary_json(self) -> str: ...
    def table(self, name: str) -> pa.Table: ...
    def report_html(self) -> str | None: ...
    def save(self, dir: str | PathLike[str] | None = None, force: bool = False) -> str: ...

def backtest(
    config: str | PathLike[str] | Mapping[str, Any],
    data: Sequence[tuple[str, pa.Table]] | None = None,
    overrides: Sequence[tuple[str, Any]] = ...,
    strategy: Any | None = None,
    features: Sequence[Mapping[str, Any]] = ...,
) -> Results: ...
def paper(
    config: str | PathLike[str] | Mapping[str, Any],
    overrides: Sequence[tuple[str, Any]] = ...,
    strategy: Any | None = None,
    features: Sequence[Mapping[str, Any]] = ...,
    duration: float | None = None,
    events: int | None = None,
    out: str | PathLike[str] | None = None,
    force: bool = False,
) -> tuple[Results, str]:
    """A paper session (wrapped by :func:`quant.paper`): the results and why it stopped."""

class ReplayFeed:
    """A bar or trade file served as a Binance-format websocket feed on 127.0.0.1, in this
    process, until closed (see :func:`quant.replay_feed`)."""

    def __init__(
        self,
        data: str | PathLike[str],
        speed: float = 0.0,
        interval: str | None = None,
        symbol: str | None = None,
        trades: bool = False,
    ) -> None: ...
    @property
    def url(self) -> str:
        """``ws://127.0.0.1:<port>``, as ``[live] url`` takes it."""
    @property
    def port(self) -> int: ...
    @property
    def streams(self) -> list[str]:
        """The streams served (``goog@kline_1d``), as ``[live] streams`` lists them."""
    @property
    def messages(self) -> int:
        """Messages the replay sends; then it only pings."""
    @property
    def serving(self) -> bool: ...
    def close(self) -> None:
        """Stops serving and closes every connection."""
    def __enter__(self) -> ReplayFeed: ...
    def __exit__(self, kind: Any, value: Any, traceback: Any) -> bool: ...

def from_signals(
    config: Mapping[str, Any],
    data: Sequence[tuple[str, pa.Table]],
    flags: Sequence[tuple[bytes, bytes]],
) -> Results: ...
def features(
    config: str | PathLike[str] | Mapping[str, Any],
    data: Sequence[tuple[str, pa.Table]] | None = None,
) -> pa.Table: ...
def load_bars(config: str | PathLike[str] | Mapping[str, Any]) -> list[tuple[str, pa.Table]]: ...
