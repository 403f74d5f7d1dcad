"""The made-up world's shape: light by default, and heavy, skewed and hourly accounts on demand.

Each shape is checked for what it promises (values per pair, how uneven, flows, datastore
columns, runs a day), and every shape's answers follow Chift's spec.
"""

from __future__ import annotations

import statistics
from collections import Counter

import pytest

from chift_frames.cli import SHAPE_NAMES
from chift_frames.world import SHAPES, Shape, World

from .test_sandbox import array_of, ref, validate


def values_per_pair(world: World) -> dict[tuple[str, str], int]:
    out = {}
    for consumer_id, sync_id in world.pairs():
        payload = world.consumer_sync(consumer_id, sync_id)
        assert payload is not None
        out[consumer_id, sync_id] = sum(len(m["values"]) for m in payload["link_mappings"] or [])
    return out


def test_the_cli_offers_every_shape() -> None:
    assert list(SHAPE_NAMES) == list(SHAPES)


def test_light_is_the_default_world() -> None:
    light, default = World(consumers=30, seed=4, shape="light"), World(consumers=30, seed=4)
    assert list(light.pairs()) == list(default.pairs())
    for pair in light.pairs():
        assert light.consumer_sync(*pair) == default.consumer_sync(*pair)
    sync_id = light.sync_items()[0]["syncid"]
    assert light.executions(sync_id, days=3) == default.executions(sync_id, days=3)
    assert statistics.mean(values_per_pair(light).values()) < 40


def test_heavy_has_hundreds_of_values_a_heavy_tail_more_flows_and_columns() -> None:
    world = World(consumers=1_500, syncs=2, seed=1, shape="heavy")
    counts = values_per_pair(world)
    assert 100 <= statistics.median(counts.values()) < 1_000
    assert max(counts.values()) >= 1_000  # a few consumers with thousands
    flows = columns = 0
    for pair in counts:
        payload = world.consumer_sync(*pair)
        assert payload is not None
        for flow in payload["enabled_flows"] or []:
            flows += 1
            columns += sum(len(d["definition"]["columns"]) for d in flow["config"]["datastores"])
    assert flows / len(counts) >= 3
    assert columns / len(counts) >= 25


def test_skewed_puts_half_of_the_values_with_one_percent_of_consumers() -> None:
    world = World(consumers=3_000, syncs=2, seed=2, shape="skewed")
    by_consumer: Counter[str] = Counter()
    for (consumer_id, _), n in values_per_pair(world).items():
        by_consumer[consumer_id] += n
    top = sum(n for _, n in by_consumer.most_common(len(by_consumer) // 100))
    assert 0.35 <= top / sum(by_consumer.values()) <= 0.65


def test_hourly_runs_every_flow_every_hour() -> None:
    world = World(consumers=20, syncs=1, seed=3, shape="hourly")
    runs = world.executions(world.sync_items()[0]["syncid"], days=2)
    per_flow_consumer = Counter((r["flow_id"], r["consumer_id"]) for r in runs)
    assert per_flow_consumer and set(per_flow_consumer.values()) == {48}
    assert len({r["id"] for r in runs}) == len(runs)


@pytest.mark.parametrize("name", [n for n in SHAPES if n != "light"])
def test_every_shape_follows_the_spec(name: str) -> None:
    world = World(consumers=25, syncs=3, seed=5, shape=name)
    validate(world.sync_items(), array_of("ReadSyncItem"))
    for pair in world.pairs():
        validate(world.consumer_sync(*pair), ref("SyncConsumerItem"))
    for item in world.sync_items():
        validate(world.executions(item["syncid"], days=1), array_of("SyncExecutionItem"))
    world.evolve()
    for pair in world.pairs():
        validate(world.consumer_sync(*pair), ref("SyncConsumerItem"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"values_scale": 0}, "values_scale"),
        ({"top_share": 2}, "top_share"),
        ({"flows": 1}, "flows"),
        ({"runs_per_day": 0}, "runs_per_day"),
    ],
)
def test_a_bad_shape_is_refused(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Shape("bad", **kwargs)  # type: ignore[arg-type]


def test_an_unknown_shape_name_lists_the_shapes() -> None:
    with pytest.raises(ValueError, match="light, heavy, skewed, hourly"):
        World(shape="huge")
