"""Walks every entity set of a Koppel OData feed with python-odata, a third-party OData v4 client.

Usage: odata_walk.py FEED_URL USER TOKEN. Prints one JSON object: per entity set the number of rows
the client read and the exact sums of its money properties.
"""
import decimal
import json
import sys

import requests
from odata import ODataService

MONEY = ("Price", "TotalInclVat", "Amount", "AmountExclVat")

url, user, token = sys.argv[1:4]
session = requests.Session()
session.auth = (user, token)
service = ODataService(url, reflect_entities=True, session=session)
output = {}
for entity in service.entities.values():
    rows = list(service.query(entity))
    totals = {}
    for row in rows:
        for name in MONEY:
            value = getattr(row, name, None)
            if value is not None and not callable(value):
                totals[name] = totals.get(name, decimal.Decimal(0)) + decimal.Decimal(str(value))
    output[entity.__odata_collection__] = {"rows": len(rows), "totals": {k: str(v) for k, v in totals.items()}}
print(json.dumps(output))
