"""DCAT-AP 3.0 JSON-LD: expands offline with pyld, required classes and properties present."""

from __future__ import annotations

from opendata_testing import ACTION, TOILETS, ok
from pyld import jsonld

DCAT, DCT = "http://www.w3.org/ns/dcat#", "http://purl.org/dc/terms/"


def _expanded(document: dict) -> list[dict]:  # type: ignore[type-arg]
    return jsonld.expand(document)  # type: ignore[no-any-return]


def _nodes(document: dict) -> dict[str, list[dict]]:  # type: ignore[type-arg]
    """Flattened nodes grouped by rdf:type."""
    graph = jsonld.flatten(document)
    by_type: dict[str, list[dict]] = {}  # type: ignore[type-arg]
    for node in graph:
        for kind in node.get("@type", []):
            by_type.setdefault(kind, []).append(node)
    return by_type


def test_dataset_document(sqlite_client):
    response = sqlite_client.get(f"/api/v1/opendata/dcat/datasets/{TOILETS}.jsonld")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/ld+json")
    document = response.json()
    nodes = _nodes(document)
    dataset = nodes[DCAT + "Dataset"][0]
    for prop in ("title", "description", "identifier", "publisher", "issued", "modified", "license", "accrualPeriodicity"):
        assert DCT + prop in dataset, prop
    for prop in ("distribution", "keyword", "theme", "contactPoint", "landingPage"):
        assert DCAT + prop in dataset, prop
    title = dataset[DCT + "title"][0]
    assert title["@value"] == "长沙市公共厕所分布" and title["@language"].lower() == "zh-hans"
    distributions = nodes[DCAT + "Distribution"]
    assert len(distributions) == 3
    for distribution in distributions:
        assert DCAT + "accessURL" in distribution and DCAT + "downloadURL" in distribution and DCT + "format" in distribution
    assert {d[DCT + "format"][0]["@id"].rsplit("/", 1)[1] for d in distributions} == {"CSV", "JSON", "PARQUET"}
    assert "http://xmlns.com/foaf/0.1/Agent" in nodes and DCT + "LicenseDocument" in nodes
    assert DCT + "PeriodOfTime" in nodes and DCT + "Location" in nodes
    rdf = jsonld.to_rdf(document, {"format": "application/n-quads"})
    assert f"<{DCAT}Dataset>" in rdf
    assert sqlite_client.get("/api/v1/opendata/dcat/datasets/gaj/population-register.jsonld").status_code == 404


def test_catalog_feed_pages_every_public_dataset(sqlite_client):
    total = ok(sqlite_client.get(f"{ACTION}/package_search", params={"rows": 0}))["count"]
    first = sqlite_client.get("/api/v1/opendata/dcat/catalog.jsonld", params={"per_page": 200}).json()
    catalog = _nodes(first)[DCAT + "Catalog"][0]
    for prop in ("title", "description", "publisher"):
        assert DCT + prop in catalog
    view = first["hydra:view"]
    assert view["hydra:totalItems"] == total and view["hydra:next"]["@id"].endswith("page=2")
    seen = set()
    page = 1
    while True:
        document = sqlite_client.get("/api/v1/opendata/dcat/catalog.jsonld", params={"per_page": 200, "page": page}).json()
        seen |= {d["@id"] for d in document["dcat:dataset"]}
        if "hydra:next" not in document["hydra:view"]:
            break
        page += 1
    assert len(seen) == total
    assert all("/open/dataset/" in uri for uri in seen)
    assert not [uri for uri in seen if uri.endswith(("population-register", "legal-entity-register"))]
