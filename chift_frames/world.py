"""A deterministic, realistic world of Chift consumers and syncs, made up from a seed.

It feeds the sandbox API, the sample data, the tests and the benchmarks. Every response it
builds follows Chift's OpenAPI spec (``SyncConsumerItem``, ``ReadSyncItem``, ``ConsumerItem``)
and shows what real setups look like: setups left incomplete, unmapped and hidden values,
skipped mappings, inactive datastores, timer and event triggers, and nulls where the spec allows.
Payloads are built on demand from ``(seed, consumer, sync)``, so a world of 20,000 pairs costs
no memory until asked. Nothing here does I/O.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ._world_data import (
    _CONNECTORS,
    _DATASTORES,
    _DETAILS,
    _EPOCH,
    _INCOMPLETE,
    _SHOPS,
    _SINGULAR,
    _SYNCS,
    _TARGET_ROUTES,
    _TOWNS,
    ONE_APIS,
)
from ._world_shapes import SHAPES, Shape

__all__ = ["ONE_APIS", "SHAPES", "Shape", "World"]


_EXTRA_FLOW = ("Hourly export {k}", "timer", ["0 * * * *", "30 * * * *"])


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _iso(moment: datetime) -> str:
    return (
        moment.strftime("%Y-%m-%dT%H:%M:%S") + "Z"
        if moment.microsecond == 0
        else moment.isoformat()
    )


@dataclass
class World:
    """A made-up Chift account: consumers, syncs, which consumer is linked to which sync.

    Parameters
    ----------
    consumers : int
        How many consumers the account has.
    syncs : int
        How many syncs (1 to 4 templates, cycled beyond that).
    seed : int
        Everything follows from it: the same arguments give the same world.
    link_share : float
        Share of (consumer, sync) pairs that are linked.
    now : datetime
        The world's "now": executions run over the days before it.
    generation : int
        How many times the world has evolved (see :meth:`evolve`).
    shape : Shape or str
        How heavy and uneven the account is: a :class:`Shape` or a name in :data:`SHAPES`
        (``light``, the default, ``heavy``, ``skewed``, ``hourly``).

    Examples
    --------
    >>> world = World(consumers=3, syncs=2, seed=1)
    >>> pair = next(world.pairs())
    >>> world.consumer_sync(*pair)["syncid"] == pair[1]
    True
    """

    consumers: int = 20
    syncs: int = 3
    seed: int = 0
    link_share: float = 0.8
    now: datetime = _EPOCH + timedelta(days=326)
    generation: int = 0
    shape: Shape | str = "light"
    _consumer_items: list[dict[str, Any]] = field(init=False, repr=False)
    _sync_ids: list[str] = field(init=False, repr=False)
    _links: dict[str, list[str]] = field(init=False, repr=False)
    _flow_ids: dict[tuple[int, int], str] = field(init=False, repr=False)
    _shape: Shape = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.consumers < 0 or self.syncs < 1:
            raise ValueError("a world needs consumers >= 0 and syncs >= 1")
        if isinstance(self.shape, str):
            if self.shape not in SHAPES:
                raise ValueError(f"no shape {self.shape!r}; shapes: {', '.join(SHAPES)}")
            self.shape = SHAPES[self.shape]
        self._shape = self.shape
        rng = random.Random(f"world:{self.seed}")
        self._sync_ids = [_uuid(rng) for _ in range(self.syncs)]
        self._flow_ids = {
            (s, f): _uuid(rng) for s in range(self.syncs) for f in range(len(self._flows(s)))
        }
        self._consumer_items = [self._make_consumer(rng, i) for i in range(self.consumers)]
        self._links = {sid: [] for sid in self._sync_ids}
        for item in self._consumer_items:
            for sid in self._sync_ids:
                if rng.random() < self.link_share:
                    self._links[sid].append(item["consumerid"])
        generations, self.generation = self.generation, 0
        for _ in range(generations):
            self.evolve()

    # -- account-level lists ---------------------------------------------------------------
    def _make_consumer(self, rng: random.Random, i: int) -> dict[str, Any]:
        name = f"{rng.choice(_SHOPS)} {rng.choice(_TOWNS)} {i + 1}"
        created = _EPOCH + timedelta(days=rng.randint(0, 300), minutes=rng.randint(0, 1439))
        return {
            "consumerid": _uuid(rng),
            "name": name,
            "email": f"ops{i + 1}@example.com" if rng.random() < 0.85 else None,
            "created_on": _iso(created) if rng.random() < 0.95 else None,
            "internal_reference": f"CUST-{i + 1:05d}" if rng.random() < 0.7 else None,
            "redirect_url": "https://app.example.com/chift/done" if rng.random() < 0.3 else None,
        }

    def consumer_items(self) -> list[dict[str, Any]]:
        """Return ``GET /consumers``: every ``ConsumerItem``."""
        return list(self._consumer_items)

    def consumer_item(self, consumer_id: str) -> dict[str, Any] | None:
        """Return ``GET /consumers/{consumer_id}``, or None when there is no such consumer."""
        return next((c for c in self._consumer_items if c["consumerid"] == consumer_id), None)

    def sync_items(self) -> list[dict[str, Any]]:
        """Return ``GET /syncs``: every ``ReadSyncItem`` with its linked consumers."""
        return [self._sync_item(s) for s in range(self.syncs)]

    def _sync_item(self, s: int) -> dict[str, Any]:
        template = _SYNCS[s % len(_SYNCS)]
        sync_id = self._sync_ids[s]
        return {
            "syncid": sync_id,
            "name": self._sync_item_name(s),
            "config": {"presync": {"fields": ["simple", "country"]}} if s % 2 == 0 else None,
            "connections": [
                {
                    "one_api": one_api,
                    "connection_type": None,
                    "display_order": order,
                    "display_hidden": False,
                }
                for order, one_api in enumerate(template["apis"])
            ],
            "mappings": self._mapping_definitions(template),
            "consumers": list(self._links[sync_id]),
            "flows": [
                self._flow_definition(s, f, name, kind, crons)
                for f, (name, kind, crons) in enumerate(self._flows(s))
            ],
            "module": None,
            "object_kinds": None,
        }

    @staticmethod
    def _mapping_definitions(template: dict[str, Any]) -> list[dict[str, Any]]:
        """Return the sync's mapping definitions: one per mapping name, with its sub-mappings."""
        definitions: dict[str, dict[str, Any]] = {}
        for name, sub, src, _tgt, _low, high in template["mappings"]:
            definition = definitions.setdefault(
                name,
                {
                    "name": name,
                    "description": f"Map your {name.lower()}",
                    "display_order": len(definitions),
                    "challenge_question": "Do you sell abroad?" if name == "Tax rates" else None,
                    "conditions": None,
                    "sub_mappings": [],
                },
            )
            singular = _SINGULAR.get(name, name)
            definition["sub_mappings"].append(
                {
                    "name": sub,
                    "description": f"{sub} to book {name.lower()} on",
                    "display_order": len(definition["sub_mappings"]),
                    "challenge_question": None,
                    "conditions": None,
                    "source_field": {
                        "name": singular.lower().replace(" ", "_"),
                        "type": "fixed",
                        "display_condition": None,
                        "values": [
                            {"id": f"{src}{k + 1:02d}", "label": f"{singular} {k + 1}"}
                            for k in range(high)
                        ],
                        "api_route": None,
                        "connection_type": None,
                    },
                    "target_field": {
                        "name": sub.lower().replace(" ", "_"),
                        "type": "api",
                        "display_condition": None,
                        "values": [],
                        "api_route": _TARGET_ROUTES.get(sub),
                        "connection_type": None,
                    },
                    "display_delete": False,
                    "logic": {"default": "first"} if sub == "Journals" else None,
                    "manual_mapping": sub == "Cost centres",
                }
            )
        return list(definitions.values())

    def _flow_definition(
        self, s: int, f: int, name: str, kind: str, crons: list[str] | None
    ) -> dict[str, Any]:
        """Return a flow the sync offers (``ReadFlowItem``), with its trigger."""
        return {
            "id": self._flow_ids[(s, f)],
            "name": name,
            "description": f"{name}, every day" if kind == "timer" else f"{name}, on event",
            "execution": {"type": "code", "data": {"code": f"flow_{s}_{f}"}},
            "config": {
                "definitionFields": [
                    {"name": "from_date", "type": "date", "title": "Start date", "optional": False}
                ],
                "doorkeyFields": None,
                "customFields": None,
                "datastores": [],
            },
            "triggers": [
                {
                    "id": "trigger-1",
                    "type": kind,
                    "cronschedules": list(crons) if crons else None,
                    "visible": True,
                    "definitionFields": None,
                    "options": {"retries": 2} if kind == "event" else None,
                    "priority": "HIGH" if f == 0 else "NORMAL",
                }
            ],
        }

    # -- connections ---------------------------------------------------------------------------
    def connection_items(self, consumer_id: str) -> list[dict[str, Any]] | None:
        """Return ``GET /consumers/{consumer_id}/connections``, or None for no such consumer.

        A consumer has one connection per API its account's syncs use, with a few missing
        (about 3 % each, and 4 % of consumers have none at all), inactive (3 %), run through a
        local agent that is down, or doubled by an old inactive connection. Each generation
        (see :meth:`evolve`) some inactive connections come back, a few active ones fail, and a
        few missing ones appear.
        """
        cache = self.__dict__.setdefault("_connection_cache", {})
        key = (consumer_id, self.generation)
        if key not in cache:
            if self.consumer_item(consumer_id) is None:
                return None
            cache[key] = self._build_connections(consumer_id)
        return [dict(c) for c in cache[key]]

    def _build_connections(self, consumer_id: str) -> list[dict[str, Any]]:
        rng = random.Random(f"connections:{self.seed}:{consumer_id}")
        apis = sorted({a for s in range(self.syncs) for a in _SYNCS[s % len(_SYNCS)]["apis"]})
        none_at_all = rng.random() < 0.04
        items: list[dict[str, Any]] = []
        missing: list[int] = []
        for one_api in apis:
            api = ONE_APIS[one_api]
            if none_at_all or rng.random() < 0.03:
                missing.append(one_api)
                continue
            if rng.random() < 0.05:  # an old connection, replaced by the current one
                items.append(self._connection(rng, api, status="inactive"))
            items.append(
                self._connection(rng, api, status="inactive" if rng.random() < 0.03 else "active")
            )
        for generation in range(1, self.generation + 1):
            grow = random.Random(f"connections:{self.seed}:{consumer_id}:{generation}")
            for item in items:
                draw = grow.random()
                if item["status"] == "inactive" and draw < 0.3:  # reconnected
                    item["status"] = "active"
                elif item["status"] == "active" and draw < 0.02:  # credentials expired
                    item["status"] = "inactive"
            for one_api in list(missing):
                if grow.random() < 0.10:
                    missing.remove(one_api)
                    items.append(self._connection(grow, ONE_APIS[one_api], status="active"))
        return items

    @staticmethod
    def _connection(rng: random.Random, api: str, status: str) -> dict[str, Any]:
        integration, integration_id, local = rng.choice(_CONNECTORS[api])
        datalayer = None
        if status == "active" and rng.random() < 0.5:
            ready = rng.random() < 0.7
            datalayer = {
                "status": "ready" if ready else rng.choice(["not_enabled", "syncing", "stale"]),
                "last_sync_date": _iso(_EPOCH + timedelta(days=rng.randint(200, 320)))
                if ready
                else None,
            }
        return {
            "connectionid": _uuid(rng),
            "name": f"{integration} ({api})",
            "integration": integration,
            "integrationid": integration_id,
            "api": api,
            "data": {"company_id": rng.randint(1, 999)} if rng.random() < 0.6 else None,
            "status": status,
            "agent": {"status": "down" if rng.random() < 0.12 else "up"} if local else None,
            "datalayer": datalayer,
        }

    def monitoring_state(self, consumer_id: str, sync_id: str) -> str | None:
        """Return the state Chift's back office shows for a linked pair, or None if not linked.

        In order: ``no connection`` (an API the sync needs has no connection), ``connection
        failed`` (no connection of such an API is active with its local agent up), ``mapping
        incomplete`` (a value that is not hidden has no target), ``configuration incomplete``
        (the setup's status is not active), else ``active``.
        """
        payload = self.consumer_sync(consumer_id, sync_id)
        if payload is None:
            return None
        return self._state(consumer_id, self._sync_ids.index(sync_id), payload)

    def _state(self, consumer_id: str, s: int, payload: dict[str, Any]) -> str:
        connections = self.connection_items(consumer_id) or []
        needed = [ONE_APIS[a] for a in _SYNCS[s % len(_SYNCS)]["apis"]]
        if any(all(c["api"] != api for c in connections) for api in needed):
            return "no connection"
        working = {
            c["api"]
            for c in connections
            if c["status"] == "active" and (c["agent"] is None or c["agent"]["status"] == "up")
        }
        if any(api not in working for api in needed):
            return "connection failed"
        for mapping in payload["link_mappings"] or []:
            hidden = set(mapping["hidden_source_ids"])
            if any(not v["target_id"] and v["source_id"] not in hidden for v in mapping["values"]):
                return "mapping incomplete"
        return "active" if payload["status"] == "active" else "configuration incomplete"

    def pairs(self) -> Iterator[tuple[str, str]]:
        """Yield every linked ``(consumer_id, sync_id)`` pair, sync by sync."""
        for sync_id in self._sync_ids:
            for consumer_id in self._links[sync_id]:
                yield consumer_id, sync_id

    @property
    def pair_count(self) -> int:
        """How many (consumer, sync) pairs are linked."""
        return sum(len(v) for v in self._links.values())

    # -- the consumer-sync response ------------------------------------------------------------
    def consumer_sync(self, consumer_id: str, sync_id: str) -> dict[str, Any] | None:
        """Return ``GET /consumers/{consumer_id}/syncs/{syncid}``, or None when not linked."""
        if sync_id not in self._links or consumer_id not in self._linked_set(sync_id):
            return None
        s = self._sync_ids.index(sync_id)
        return self._build_payload(consumer_id, s)

    def _linked_set(self, sync_id: str) -> set[str]:
        cache = self.__dict__.setdefault("_linked_sets", {})
        if sync_id not in cache:
            cache[sync_id] = set(self._links[sync_id])
        linked: set[str] = cache[sync_id]
        return linked

    def _build_payload(self, consumer_id: str, s: int) -> dict[str, Any]:
        template = _SYNCS[s % len(_SYNCS)]
        rng = random.Random(f"pair:{self.seed}:{consumer_id}:{s}")
        stage = rng.random()
        # 0.00-0.12 only opened the link; 0.12-0.30 mappings incomplete; else set up.
        opened_only, incomplete = stage < 0.12, 0.12 <= stage < 0.30
        created = _EPOCH + timedelta(days=rng.randint(0, 320), seconds=rng.randint(0, 86399))
        mapping_list: list[dict[str, Any]] = []
        skip_list: list[dict[str, Any]] = []
        factor = self._values_factor(consumer_id)
        for name, sub, src, tgt, low, high in template["mappings"]:
            if not opened_only and rng.random() < 0.08:
                skip_list.append(
                    {
                        "name": name,
                        "skip_reason": rng.choice(["presync", "connector_feature", "challenge"]),
                    }
                )
                continue
            count = rng.randint(low, high)
            if factor != 1:
                count = max(count, round(count * factor))
            values = []
            for k in range(count):
                source = f"{src}{k + 1:02d}"
                if opened_only:
                    target = None
                elif incomplete and rng.random() < 0.35:
                    target = rng.choice([None, ""])
                else:
                    # most consumers agree on a target; a few map elsewhere
                    target = f"{tgt}{(k + (rng.random() < 0.07)) % max(100, count):02d}"
                values.append({"source_id": source, "target_id": target})
            hidden = [v["source_id"] for v in values if rng.random() < 0.04]
            mapping_list.append(
                {
                    "name": name,
                    "description": f"Map your {name.lower()}" if rng.random() < 0.6 else None,
                    "display_order": len(mapping_list),
                    "challenge_question": "Do you sell abroad?" if name == "Tax rates" else None,
                    "conditions": {"hideIf": {"==": [{"var": "presync.simple"}, True]}}
                    if rng.random() < 0.1
                    else None,
                    "values": values,
                    "hidden_source_ids": hidden,
                    "sub_mapping_name": sub,
                    "sub_mapping_description": None if rng.random() < 0.5 else f"{sub} to use",
                }
            )
        # the spec lets every list be null as well as empty
        mappings: list[dict[str, Any]] | None = mapping_list
        skipped: list[dict[str, Any]] | None = skip_list
        if opened_only and rng.random() < 0.5:
            mappings, skipped = None, None
        elif not skip_list and rng.random() < 0.5:
            skipped = None

        flow_list: list[dict[str, Any]] = []
        if not (opened_only or incomplete):
            for f, (name, kind, crons) in enumerate(self._flows(s)):
                if f > 0 and rng.random() < 0.45:
                    continue
                flow_list.append(self._flow(rng, s, f, name, kind, crons, created))
        # some consumers complete the setup but switch no flow on (a draw of its own, so the
        # rest of the world stays as it was)
        if flow_list and random.Random(f"idle:{self.seed}:{consumer_id}:{s}").random() < 0.1:
            flow_list = []
        flows: list[dict[str, Any]] | None = flow_list
        if not flow_list and rng.random() < 0.5:
            flows = None
        status = "active" if not (opened_only or incomplete) else "inactive"
        details = None
        if status == "inactive":
            details = "Mapping incomplete" if incomplete else rng.choice(_INCOMPLETE)
        presync = {"simple": rng.random() < 0.5, "country": rng.choice(["BE", "FR", "NL"])}
        payload = {
            "syncid": self._sync_ids[s],
            "sync_name": self._sync_item_name(s),
            "status": status,
            "status_details": details,
            "enabled": bool(flows),
            "link_createdon": _iso(created),
            "link_mappings": mappings,
            "skip_mappings": skipped,
            "link_metadata": {
                "plan": rng.choice(["starter", "pro", "enterprise"]),
                "source": "onboarding",
            }
            if rng.random() < 0.7
            else None,
            "link_presync": presync if rng.random() < 0.8 else {},
            "enabled_flows": flows,
        }
        for generation in range(1, self.generation + 1):
            self._evolve_payload(payload, consumer_id, s, generation)
        if payload["status"] == "inactive":
            # what Chift's back office says of an inactive setup follows from its connections
            # and mappings, as :meth:`monitoring_state` finds them
            state = self._state(consumer_id, s, payload)
            payload["status_details"] = _DETAILS.get(state, "Configuration incomplete")
        return payload

    # -- evolution -----------------------------------------------------------------------------
    def evolve(self) -> None:
        """Advance the world one generation: some setups change, some links come and go.

        What changes follows from the seed: a few setups get completed, values get mapped,
        retargeted, unmapped, added or removed, flows get enabled or disabled, schedules and
        settings change, datastore columns get added or retyped; about 3 % of links are
        removed and as many added.
        """
        self.generation += 1
        rng = random.Random(f"links:{self.seed}:{self.generation}")
        for sync_id in self._sync_ids:
            linked = self._links[sync_id]
            kept = [c for c in linked if rng.random() >= 0.03]
            linked_set = set(linked)
            added = [
                c["consumerid"]
                for c in self._consumer_items
                if c["consumerid"] not in linked_set and rng.random() < 0.15
            ]
            self._links[sync_id] = kept + added
        self.__dict__.pop("_linked_sets", None)

    def _evolve_payload(
        self, payload: dict[str, Any], consumer_id: str, s: int, generation: int
    ) -> None:
        """Apply one generation's changes to a pair's payload, in place."""
        rng = random.Random(f"evolve:{self.seed}:{consumer_id}:{s}:{generation}")
        mappings = payload["link_mappings"] or []
        values = [(m, v) for m in mappings for v in m["values"]]
        if payload["status"] == "inactive" and mappings and rng.random() < 0.15:
            payload["status"], payload["status_details"] = "active", None
            for _, v in values:
                if not v["target_id"]:
                    v["target_id"] = "AUTO-" + str(v["source_id"])
        if values and rng.random() < 0.10:
            _, v = rng.choice(values)
            v["target_id"] = f"RE-{generation}-{v['source_id']}"
        if values and rng.random() < 0.06:
            _, v = rng.choice(values)
            v["target_id"] = None
        if mappings and rng.random() < 0.06:
            m = rng.choice(mappings)
            m["values"].append(
                {"source_id": f"NEW-{generation}-{len(m['values'])}", "target_id": None}
            )
        if mappings and rng.random() < 0.04:
            m = rng.choice(mappings)
            if m["values"]:
                m["values"].pop()
        flows = payload["enabled_flows"]
        if flows and rng.random() < 0.08:
            flows.pop(rng.randrange(len(flows)))
        elif payload["status"] == "active" and rng.random() < 0.06:
            present = {f["id"] for f in flows or []}
            for f, (name, kind, crons) in enumerate(self._flows(s)):
                if self._flow_ids[(s, f)] not in present:
                    created = self.now - timedelta(days=11)  # enabled in the last days
                    new = self._flow(rng, s, f, name, kind, crons, created)
                    payload["enabled_flows"] = flows = [*(flows or []), new]
                    break
        for flow in flows or []:
            trigger = flow["trigger"]
            if trigger["type"] == "timer" and rng.random() < 0.05:
                trigger["cronschedule"] = f"{generation * 7 % 60} {generation % 24} * * *"
            if rng.random() < 0.05:
                flow["values"] = {
                    **flow["values"],
                    "send_reports": not flow["values"].get("send_reports", False),
                }
            for datastore in (flow["config"] or {}).get("datastores") or []:
                columns = datastore["definition"]["columns"]
                if columns and rng.random() < 0.04:
                    column = rng.choice(columns)
                    column["type"] = "string" if column["type"] != "string" else "text"
                if rng.random() < 0.03:
                    columns.append(
                        {
                            "name": f"note_{generation}",
                            "title": "Note",
                            "type": "text",
                            "optional": True,
                        }
                    )
        payload["enabled"] = bool(payload["enabled_flows"])

    # -- executions ----------------------------------------------------------------------------
    def executions(self, sync_id: str, days: int = 30) -> list[dict[str, Any]]:
        """Return every ``SyncExecutionItem`` of a sync over ``days`` days, oldest first.

        Each flow runs once a day, at a random time (or ``runs_per_day`` times, evenly, for
        its :class:`Shape`); a run is a parent execution with one child per consumer who
        enabled the flow. Most children
        succeed, some fail, and the newest may still be running (``end`` null). A day's runs
        follow from its date: a world whose ``now`` moves on a day serves the same runs again,
        one day more and one less, and the runs that were still running have ended.
        """
        if sync_id not in self._links:
            return []
        s = self._sync_ids.index(sync_id)
        enabled: dict[str, list[str]] = {}
        for consumer_id in self._links[sync_id]:
            payload = self._build_payload(consumer_id, s)
            for flow in payload["enabled_flows"] or []:
                enabled.setdefault(flow["id"], []).append(consumer_id)
        items = []
        runs = self._shape.runs_per_day
        for day in range(days, 0, -1):
            # each day's runs follow from the day itself, not from ``now``: a world whose
            # ``now`` moves on by whole days serves the same executions again, with the same
            # ids (those still running then have ended since)
            rng = random.Random(f"executions:{self.seed}:{s}:{self.now - timedelta(days=day)}")
            for f in range(len(self._flows(s))):
                flow_id = self._flow_ids[(s, f)]
                for run in range(runs):
                    if runs == 1:  # once a day, at a random time
                        offset = timedelta(hours=rng.randint(0, 22), minutes=rng.randint(0, 59))
                    else:  # evenly over the day, a few minutes late
                        offset = timedelta(minutes=run * 1440 // runs + rng.randint(0, 4))
                    start = self.now - timedelta(days=day) + offset
                    parent = _uuid(rng)
                    for consumer_id in enabled.get(flow_id, []):
                        begin = start + timedelta(seconds=rng.randint(0, 90))
                        roll = rng.random()
                        # every draw is made whatever the day, so the day's runs stay the same
                        running = rng.random() < 0.1 and day == 1 and run == runs - 1
                        execution_id = _uuid(rng)  # drawn before the end, as always
                        took = timedelta(seconds=rng.randint(5, 600))
                        end = None if running else begin + took
                        items.append(
                            {
                                "id": execution_id,
                                "parentexecutionid": parent,
                                "start": _iso(begin),
                                "end": None if end is None else _iso(end),
                                "status": "running"
                                if running
                                else ("error" if roll < 0.12 else "success"),
                                "consumer_id": consumer_id,
                                "flow_id": flow_id,
                            }
                        )
        return items

    def consumer_enabled(self, consumer_id: str, sync_id: str) -> bool:
        """Whether the consumer enabled at least one flow of the sync (``enabled``)."""
        payload = self.consumer_sync(consumer_id, sync_id)
        return bool(payload and payload["enabled"])

    def _flows(self, s: int) -> list[tuple[str, str, list[str] | None]]:
        """Return the flows sync ``s`` offers: its template's, then the shape's hourly extras."""
        flows: list[tuple[str, str, list[str] | None]] = list(_SYNCS[s % len(_SYNCS)]["flows"])
        name, kind, crons = _EXTRA_FLOW
        for k in range(len(flows), self._shape.flows):
            flows.append((name.format(k=k - 1), kind, list(crons)))
        return flows

    def _values_factor(self, consumer_id: str) -> float:
        """Return how many times the templates' values this consumer's mappings hold.

        Drawn from a generator of its own, so that the light shape draws nothing and stays
        the world it always was.
        """
        shape = self._shape
        if shape.is_light:
            return 1.0
        rng = random.Random(f"shape:{self.seed}:{consumer_id}")
        factor = shape.values_scale
        if shape.values_sigma:
            factor *= rng.lognormvariate(0.0, shape.values_sigma)
        if rng.random() < shape.top_share:
            factor *= shape.top_factor
        return factor

    def _sync_item_name(self, s: int) -> str:
        suffix = f" #{s // len(_SYNCS) + 1}" if s >= len(_SYNCS) else ""
        return str(_SYNCS[s % len(_SYNCS)]["name"]) + suffix

    def _flow(
        self,
        rng: random.Random,
        s: int,
        f: int,
        name: str,
        kind: str,
        crons: list[str] | None,
        created: datetime,
    ) -> dict[str, Any]:
        datastores = []
        for d, (ds_name, search, columns) in enumerate(_DATASTORES):
            if d > 0 and rng.random() < 0.5:
                continue
            datastores.append(
                {
                    "id": _uuid(rng) if rng.random() < 0.9 else None,
                    "name": ds_name,
                    "status": "inactive" if rng.random() < 0.12 else "active",
                    "definition": {
                        "columns": [
                            {
                                "name": c,
                                "title": t,
                                "type": (
                                    "string" if typ == "text" and rng.random() < 0.05 else typ
                                ),
                                "optional": rng.choice([False, False, True, None]),
                            }
                            for c, t, typ in columns
                        ]
                        + [
                            {
                                "name": f"field_{k + 1}",
                                "title": f"Field {k + 1}",
                                "type": "text",
                                "optional": True,
                            }
                            for k in range(self._shape.datastore_columns)
                        ],
                        "search_column": search,
                    },
                }
            )
        enabled_on = created + timedelta(hours=rng.randint(1, 240))
        return {
            "id": self._flow_ids[(s, f)],
            "name": name,
            "description": None if rng.random() < 0.5 else f"{name} for your accountant",
            "config": {
                "definitionFields": [
                    {"name": "from_date", "type": "date", "title": "Start date", "optional": False}
                ],
                "doorkeyFields": None,
                "customFields": [
                    {"type": "target_node_id", "value": rng.randint(1000, 9999)},
                    {"type": "ERRORS", "value": "Synced errors"},
                ],
                "datastores": datastores,
            },
            "values": {
                "from_date": enabled_on.strftime("%d/%m/%Y"),
                "send_reports": rng.random() < 0.5,
            },
            "enabled_on": _iso(enabled_on) if rng.random() < 0.95 else None,
            "trigger": {
                "id": "trigger-1",
                "type": kind,
                "cronschedule": rng.choice(crons) if crons else None,
            },
        }
