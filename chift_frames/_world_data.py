"""The catalogue the made-up world draws from: shops, towns, syncs, connectors, datastores.

Data only, no behaviour: :mod:`chift_frames.world` builds consumers and responses from it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

_EPOCH = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)

_SHOPS = [
    "Bakery",
    "Bistro",
    "Coffee Bar",
    "Wine Cellar",
    "Book Shop",
    "Bike Repair",
    "Florist",
    "Brasserie",
    "Pharmacy",
    "Deli",
    "Surf Shop",
    "Pizzeria",
    "Hotel",
    "Garden Centre",
    "Gallery",
]
_TOWNS = [
    "Ghent",
    "Lyon",
    "Namur",
    "Utrecht",
    "Lille",
    "Bruges",
    "Nantes",
    "Leuven",
    "Porto",
    "Turin",
    "Antwerp",
    "Rennes",
    "Delft",
    "Liège",
    "Bordeaux",
    "Mons",
]

# (mapping name, sub-mapping name, source id prefix, target prefix, min values, max values)
_Mapping = tuple[str, str, str, str, int, int]

_SYNCS: list[dict[str, Any]] = [
    {
        "name": "POS → Accounting",
        "apis": [2, 1],
        "mappings": [
            ("Tax rates", "VAT codes", "VAT", "4510", 3, 8),
            ("Payment methods", "Journals", "PM-", "JRN-", 3, 9),
            ("Payment methods", "Accounts", "PM-", "5700", 3, 9),
            ("Product categories", "Revenue accounts", "CAT-", "7000", 8, 60),
        ],
        "flows": [
            ("Daily sales export", "timer", ["0 5 * * *", "30 4 * * *", "0 6 * * 1-5"]),
            ("Close of day", "event", None),
        ],
    },
    {
        "name": "eCommerce → Accounting",
        "apis": [3, 1],
        "mappings": [
            ("Tax rates", "VAT codes", "TAX-", "4511", 2, 6),
            ("Payment gateways", "Journals", "GW-", "JRN-", 2, 5),
            ("Shipping methods", "Revenue accounts", "SHIP-", "7080", 1, 6),
        ],
        "flows": [
            ("Orders to invoices", "timer", ["*/30 * * * *", "0 * * * *", "15 */2 * * *"]),
            ("Refunds to credit notes", "event", None),
        ],
    },
    {
        "name": "Invoicing → Accounting",
        "apis": [4, 1],
        "mappings": [
            ("Journals", "Sales journals", "IJ-", "VEN", 1, 4),
            ("Tax rates", "VAT codes", "VAT", "4512", 3, 7),
            ("Analytic plans", "Cost centres", "AP-", "CC-", 0, 12),
        ],
        "flows": [
            ("Customers sync", "timer", ["0 2 * * *", "0 3 * * 0"]),
            ("Invoices sync", "timer", ["0 */4 * * *", "bad cron", "0 7 * * 1-5"]),
        ],
    },
    {
        "name": "PMS → Accounting",
        "apis": [5, 1],
        "mappings": [
            ("Room types", "Revenue accounts", "ROOM-", "7060", 2, 10),
            ("Payment methods", "Journals", "PAY-", "JRN-", 2, 6),
        ],
        "flows": [
            ("Night audit export", "timer", ["0 1 * * *"]),
            ("Folio closed", "event", None),
        ],
    },
]

ONE_APIS: dict[int, str] = {
    1: "Accounting",
    2: "Point of Sale",
    3: "eCommerce",
    4: "Invoicing",
    5: "Property Management System",
}
"""The unified API behind each ``one_api`` number of the world's syncs.

Chift's spec types ``SyncsConnectionItem.one_api`` as an integer and ``ConnectionItem.api``
as a name without documenting how the two correspond; this is the made-up world's own table.
"""

# connectors per API: (integration name, integration id, runs through a local agent)
_CONNECTORS: dict[str, list[tuple[str, int, bool]]] = {
    "Accounting": [("Odoo", 2001, False), ("Exact Online", 2002, False), ("Sage 50", 2003, True)],
    "Point of Sale": [("Lightspeed", 3001, False), ("Zelty", 3002, False)],
    "eCommerce": [("Shopify", 4001, False), ("WooCommerce", 4002, False)],
    "Invoicing": [("Teamleader", 5001, False), ("Axonaut", 5002, False)],
    "Property Management System": [("Mews", 6001, False), ("Apaleo", 6002, False)],
}

# what the source values of each mapping are called, one by one
_SINGULAR = {
    "Tax rates": "VAT rate",
    "Payment methods": "Payment method",
    "Product categories": "Product category",
    "Payment gateways": "Payment gateway",
    "Shipping methods": "Shipping method",
    "Journals": "Journal",
    "Analytic plans": "Analytic plan",
    "Room types": "Room type",
}

# where the target values of each sub-mapping come from in the accounting API
_TARGET_ROUTES = {
    "VAT codes": "/accounting/vat-codes",
    "Journals": "/accounting/journals",
    "Accounts": "/accounting/chart-of-accounts",
    "Revenue accounts": "/accounting/chart-of-accounts",
    "Sales journals": "/accounting/journals",
    "Cost centres": "/accounting/analytic-accounts",
}

_DATASTORES = [
    (
        "Synced sales",
        "order_id",
        [
            ("order_id", "POS order", "text"),
            ("entry_id", "Accounting entry", "text"),
            ("amount", "Amount", "number"),
            ("booked_on", "Booked on", "date"),
        ],
    ),
    (
        "Synced errors",
        None,
        [
            ("reference", "Reference", "text"),
            ("error", "Error", "json"),
            ("retried", "Retried", "bool"),
        ],
    ),
]

_DETAILS = {
    "no connection": "No connection",
    "connection failed": "Connection failed",
    "mapping incomplete": "Mapping incomplete",
    "configuration incomplete": "Configuration incomplete",
}

_INCOMPLETE = [
    "Mapping incomplete",
    "Configuration incomplete",
    "No connection",
    "Connection failed",
]
