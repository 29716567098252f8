"""Walks every entity set of a Koppel OData feed with odatapy's client (a third-party OData v4
client), following @odata.nextLink with a small preferred page size.

Usage: odatapy_walk.py FEED_URL USER TOKEN. Prints one JSON object: per entity set the number of
entities read, the server's /$count, and the number of pages.
"""
import json
import sys

from odatapy.client import BasicAuth, EdmEnabledODataClient, HttpxTransport

url, user, token = sys.argv[1:4]
transport = HttpxTransport(auth=BasicAuth(user, token), headers={"Prefer": "odata.maxpagesize=5"})
client = EdmEnabledODataClient(url, transport)
document = client.get_service_document()
output = {}
for entry in document.entity_sets:
    name = entry if isinstance(entry, str) else entry.name
    pages = list(client.iter_pages(url + name))
    rows = sum(len(page.entities) for page in pages)
    output[name] = {"rows": rows, "pages": len(pages), "count": client.get_count(url + name)}
print(json.dumps(output))
