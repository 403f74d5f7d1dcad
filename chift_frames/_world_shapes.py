"""The shapes of a made-up account: how heavy and how uneven it is, beyond its size.

:class:`~chift_frames.world.World` takes one (``World(shape="heavy")``); the sandbox, the
demo and the benchmarks name them (``--shape``). Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SHAPES", "Shape"]


@dataclass(frozen=True)
class Shape:
    """How heavy and how uneven a made-up account is, beyond its size.

    The default is the light account the sandbox has always served (about 27 mapping values
    and two offered flows per sync); the others scale it the way real accounts differ: a
    chart of accounts or a catalogue gives hundreds of values, a few large consumers hold
    thousands, an hourly timer runs 24 times a day.

    Parameters
    ----------
    name : str
        What the shape is called in benchmarks and on the command line.
    values_scale : float
        Median factor on every mapping's number of values (1: the templates' own counts).
    values_sigma : float
        Spread of each consumer's factor, log-normal: 0 for none; 1 gives a heavy tail in
        which a few consumers hold several times the median.
    top_share, top_factor : float
        Share of consumers whose values are multiplied again by ``top_factor``: 1 % at 99x
        makes those consumers hold half of all values.
    flows : int
        Flows each sync offers, at least the template's own (2); the extra ones are hourly
        timers.
    datastore_columns : int
        Extra columns in each of a flow's datastores.
    runs_per_day : int
        Executions of each flow per day (24: an hourly timer).

    Examples
    --------
    >>> SHAPES["skewed"].top_share
    0.01
    """

    name: str = "light"
    values_scale: float = 1.0
    values_sigma: float = 0.0
    top_share: float = 0.0
    top_factor: float = 1.0
    flows: int = 2
    datastore_columns: int = 0
    runs_per_day: int = 1

    def __post_init__(self) -> None:
        if not (self.values_scale > 0 and self.values_sigma >= 0 and self.top_factor >= 1):
            raise ValueError(f"shape {self.name!r}: values_scale > 0, sigma >= 0, factor >= 1")
        if not 0 <= self.top_share <= 1 or self.flows < 2 or self.datastore_columns < 0:
            raise ValueError(f"shape {self.name!r}: top_share in [0, 1], flows >= 2, columns >= 0")
        if not 1 <= self.runs_per_day <= 24 * 60:
            raise ValueError(f"shape {self.name!r}: runs_per_day between 1 and 1440")

    @property
    def is_light(self) -> bool:
        """Whether values follow the templates' own counts (no draw is made for them)."""
        return self.values_scale == 1 and self.values_sigma == 0 and self.top_share == 0


SHAPES: dict[str, Shape] = {
    s.name: s
    for s in (
        Shape(),
        # like the account of issue 21: ~186 values per pair with a heavy tail, more flows,
        # ~29 datastore columns per pair
        Shape("heavy", values_scale=8.0, values_sigma=0.5, flows=10, datastore_columns=2),
        # 1 % of consumers hold about half of the values
        Shape("skewed", top_share=0.01, top_factor=99.0),
        # every timer flow runs every hour
        Shape("hourly", runs_per_day=24),
    )
}
"""The named shapes: ``light`` (the default), ``heavy``, ``skewed`` and ``hourly``."""
