"""The sandbox speaks Chift's API: its answers validate against the official spec, and the
official ``chift`` SDK reads from it."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import chift
import jsonschema
import pytest
import requests

from chift_frames.sandbox import Faults, Sandbox
from chift_frames.world import World

from .spec_strategies import official_spec

ACCOUNT = "a8bf0000-0000-4000-8000-000000000001"
WORLD = World(consumers=40, syncs=5, seed=8)


def date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    datetime.fromisoformat(value)
    return "T" in value and (value.endswith("Z") or "+" in value[10:] or "-" in value[10:])


FORMATS = jsonschema.FormatChecker()
FORMATS.checks("date-time", raises=ValueError)(date_time)


def validate(instance: Any, schema: dict[str, Any]) -> None:
    root = {**schema, "components": official_spec()["components"]}
    jsonschema.Draft202012Validator(root, format_checker=FORMATS).validate(instance)


def ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def array_of(name: str) -> dict[str, Any]:
    return {"type": "array", "items": ref(name)}


@pytest.fixture(scope="module")
def api() -> Iterator[tuple[str, dict[str, str]]]:
    with Sandbox(WORLD) as sandbox:
        token = requests.post(
            sandbox.url + "/token",
            json={"clientId": "id", "clientSecret": "secret", "accountId": ACCOUNT},
            timeout=5,
        )
        validate(token.json(), ref("Token"))
        yield sandbox.url, {"Authorization": f"Bearer {token.json()['access_token']}"}


def get(api: tuple[str, dict[str, str]], path: str, **params: Any) -> requests.Response:
    url, headers = api
    return requests.get(url + path, headers=headers, params=params, timeout=5)


def test_lists_follow_the_spec(api) -> None:
    validate(get(api, "/consumers").json(), array_of("ConsumerItem"))
    for status in ("all", "enabled", "not_enabled"):
        validate(get(api, "/syncs", consumers_status=status).json(), array_of("ReadSyncItem"))
    sync = WORLD.sync_items()[0]
    validate(get(api, f"/syncs/{sync['syncid']}").json(), ref("ReadSyncItem"))
    consumer = WORLD.consumer_items()[0]
    validate(get(api, f"/consumers/{consumer['consumerid']}").json(), ref("ConsumerItem"))


def test_connections_follow_the_spec_in_every_state(api) -> None:
    seen: set[tuple[str, str | None]] = set()
    empty = 0
    for consumer in WORLD.consumer_items():
        body = get(api, f"/consumers/{consumer['consumerid']}/connections").json()
        validate(body, array_of("ConnectionItem"))
        assert body == WORLD.connection_items(consumer["consumerid"])
        empty += not body
        seen |= {(c["status"], (c["agent"] or {}).get("status")) for c in body}
    # active and inactive connections, local agents up and down, and a consumer with none
    assert {("active", None), ("inactive", None), ("active", "up"), ("active", "down")} <= seen
    assert empty >= 1
    missing = get(api, f"/consumers/{uuid.uuid4()}/connections")
    assert missing.status_code == 404
    validate(missing.json(), ref("ChiftError"))


def test_sync_definitions_carry_flows_mappings_and_connections(api) -> None:
    for sync in get(api, "/syncs").json():
        assert sync["connections"] and sync["mappings"] and sync["flows"]
        for flow in sync["flows"]:
            assert flow["execution"]["type"] == "code" and flow["triggers"]
        labels = [
            value["label"]
            for mapping in sync["mappings"]
            for sub in mapping["sub_mappings"]
            for value in sub["source_field"]["values"]
        ]
        assert labels and all(labels)


def test_consumers_status_splits_the_linked_consumers(api) -> None:
    every = {s["syncid"]: set(s["consumers"]) for s in get(api, "/syncs").json()}
    enabled = {
        s["syncid"]: set(s["consumers"])
        for s in get(api, "/syncs", consumers_status="enabled").json()
    }
    others = {
        s["syncid"]: set(s["consumers"])
        for s in get(api, "/syncs", consumers_status="not_enabled").json()
    }
    for sync_id, consumers in every.items():
        assert enabled[sync_id] | others[sync_id] == consumers
        assert not enabled[sync_id] & others[sync_id]
        assert all(WORLD.consumer_enabled(c, sync_id) for c in enabled[sync_id])


def test_every_consumer_sync_answer_follows_the_spec(api) -> None:
    schema = ref("SyncConsumerItem")
    seen = {
        "null_list": 0,
        "inactive_datastore": 0,
        "timer": 0,
        "event": 0,
        "unmapped": 0,
        "null_datastore_id": 0,
        "null_optional": 0,
    }
    for consumer_id, sync_id in WORLD.pairs():
        body = get(api, f"/consumers/{consumer_id}/syncs/{sync_id}").json()
        validate(body, schema)
        seen["null_list"] += body["link_mappings"] is None or body["enabled_flows"] is None
        for m in body["link_mappings"] or []:
            seen["unmapped"] += any(not v["target_id"] for v in m["values"])
        for f in body["enabled_flows"] or []:
            seen[f["trigger"]["type"]] += 1
            for d in f["config"]["datastores"]:
                seen["inactive_datastore"] += d["status"] == "inactive"
                seen["null_datastore_id"] += d["id"] is None
                seen["null_optional"] += any(
                    c["optional"] is None for c in d["definition"]["columns"]
                )
    assert all(seen.values()), seen  # the world shows every case the issue asks for


def test_executions_are_paged_and_follow_the_spec(api) -> None:
    sync_id = WORLD.sync_items()[0]["syncid"]
    first = get(api, f"/syncs/{sync_id}/executions", page=1, size=500).json()
    validate(first, ref("ChiftPage_SyncExecutionItem_"))
    assert first["total"] > 500 and len(first["items"]) == 500
    pages = [first["items"]]
    for page in range(2, -(-first["total"] // 500) + 1):
        pages.append(get(api, f"/syncs/{sync_id}/executions", page=page, size=500).json()["items"])
    items = [i for p in pages for i in p]
    assert len(items) == first["total"] == len({i["id"] for i in items})
    statuses = {i["status"] for i in items}
    assert {"success", "error", "running"} <= statuses
    assert all(i["end"] is None for i in items if i["status"] == "running")
    too_big = get(api, f"/syncs/{sync_id}/executions", size=501)
    assert too_big.status_code == 422
    validate(too_big.json(), ref("HTTPValidationError"))


def test_a_listing_of_executions_is_built_once_not_once_a_page(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A heavy account's pages are slices of one listing: every run is read once per listing
    however many pages there are, and pages asked at once build it once."""
    import chift_frames.sandbox as sandbox_module

    world = World(consumers=40, syncs=1, seed=3, shape="hourly")
    built: list[str] = []
    reads = [0]
    executions, within = world.executions, sandbox_module._within

    def counted_executions(sync_id: str, days: int = 30) -> list[dict[str, Any]]:
        built.append(sync_id)
        return executions(sync_id, days)

    def counted_within(*args: Any) -> bool:
        reads[0] += 1
        return within(*args)

    monkeypatch.setattr(world, "executions", counted_executions)
    monkeypatch.setattr(sandbox_module, "_within", counted_within)
    with Sandbox(world) as sandbox:
        token = requests.post(
            sandbox.url + "/token",
            json={"clientId": "id", "clientSecret": "secret", "accountId": ACCOUNT},
            timeout=5,
        ).json()["access_token"]
        api = (sandbox.url, {"Authorization": f"Bearer {token}"})
        sync_id = world.sync_items()[0]["syncid"]
        path = f"/syncs/{sync_id}/executions"
        window = {"size": 500, "date_from": "2000-01-01T00:00:00+00:00"}
        with ThreadPoolExecutor(4) as pool:  # the first pages, at once
            firsts = list(pool.map(lambda p: get(api, path, page=p, **window).json(), [1, 2, 3]))
        total = firsts[0]["total"]
        assert total > 3 * 500
        pages = [get(api, path, page=p, **window).json() for p in range(4, -(-total // 500) + 1)]
        items = [i for page in firsts + pages for i in page["items"]]
        assert len(items) == total == len({i["id"] for i in items})
        assert built == [sync_id]
        assert reads[0] == total  # each run's start read once, not once a page
        # another window is another listing, read once more
        later = get(api, path, page=1, size=500, date_from=items[-1]["start"]).json()
        assert later["total"] >= 1 and reads[0] == 2 * total


def test_errors_follow_the_spec(api) -> None:
    consumer_id = WORLD.consumer_items()[0]["consumerid"]
    missing = get(api, f"/consumers/{consumer_id}/syncs/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert missing.json()["message"] == "The consumer is not configured for this sync"
    validate(missing.json(), ref("ChiftError"))
    url, _ = api
    refused = requests.get(url + "/syncs", headers={"Authorization": "Bearer nope"}, timeout=5)
    assert refused.status_code == 401
    assert refused.json()["error_code"] == "ERROR_CHIFT_AUTHENTICATION_ERROR"


def test_strict_credentials_and_bad_bodies() -> None:
    with Sandbox(WORLD, client_id="good", client_secret="right") as sandbox:

        def token(body: Any) -> requests.Response:
            return requests.post(sandbox.url + "/token", json=body, timeout=5)

        assert (
            token({"clientId": "good", "clientSecret": "right", "accountId": ACCOUNT}).status_code
            == 200
        )
        assert (
            token({"clientId": "good", "clientSecret": "wrong", "accountId": ACCOUNT}).status_code
            == 401
        )
        bad = token({"clientId": "good", "clientSecret": "right", "accountId": "x"})
        assert bad.status_code == 422
        validate(bad.json(), ref("HTTPValidationError"))


def test_the_official_sdk_reads_from_the_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    with Sandbox(WORLD) as sandbox:
        for name, value in {
            "url_base": sandbox.url,
            "client_id": "sdk-client",
            "client_secret": "sdk-secret",
            "account_id": ACCOUNT,
        }.items():
            monkeypatch.setattr(chift, name, value)
        syncs = chift.Sync.all()
        assert [str(s.syncid) for s in syncs] == [s["syncid"] for s in WORLD.sync_items()]
        sync = syncs[0]
        consumer = chift.Consumer.get(sync.consumers[0])
        assert consumer.name == WORLD.consumer_item(sync.consumers[0])["name"]
        setup = consumer.Sync.get(str(sync.syncid))
        expected = WORLD.consumer_sync(sync.consumers[0], str(sync.syncid))
        assert setup.sync_name == expected["sync_name"]
        assert json.loads(setup.model_dump_json())["status"] == expected["status"]
        connections = consumer.Connection.all()
        expected_connections = WORLD.connection_items(sync.consumers[0])
        assert [str(c.connectionid) for c in connections] == [
            c["connectionid"] for c in expected_connections
        ]


def test_sockets_run_without_nagle() -> None:
    """TCP_NODELAY is set on every accepted socket (else ~40 ms stall per keep-alive answer)."""
    from chift_frames.sandbox import _Handler

    seen: list[int] = []
    original = _Handler.setup

    def setup(self) -> None:
        original(self)
        seen.append(self.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    _Handler.setup = setup  # type: ignore[method-assign]
    try:
        with Sandbox(WORLD) as sandbox:
            requests.post(sandbox.url + "/token", json={}, timeout=5)
    finally:
        _Handler.setup = original  # type: ignore[method-assign]
    assert seen and all(seen)


def test_only_loopback_by_default() -> None:
    with Sandbox(WORLD) as sandbox:
        assert sandbox.url.startswith("http://127.0.0.1:")
        host, port = sandbox.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=2):
            pass


def test_faults_are_deterministic() -> None:
    faults = Faults(rate_429=0.3, rate_5xx=0.3, rate_drop=0.2, seed=4)
    a, b = Sandbox(WORLD, faults=faults), Sandbox(WORLD, faults=Faults(**vars(faults)))
    try:
        draws = [(a.fault_for(f"/p/{i}"), b.fault_for(f"/p/{i}")) for i in range(200)]
    finally:
        a.stop()
        b.stop()
    assert all(x == y for x, y in draws)
    assert {x for x, _ in draws} >= {"429", "drop", None}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rate_429": 1.5}, "rate_429 must be a share between 0 and 1, got 1.5"),
        ({"rate_5xx": -0.1}, "rate_5xx must be a share between 0 and 1"),
        ({"fail_pairs": 2}, "fail_pairs must be a share between 0 and 1"),
        ({"rate_429": 0.6, "rate_drop": 0.6}, "add up to at most 1"),
        ({"latency": -1}, "latency must be 0 or more"),
        ({"token_ttl": 0}, "token_ttl must be at least 1 second"),
    ],
)
def test_faults_outside_their_range_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Faults(**kwargs)
