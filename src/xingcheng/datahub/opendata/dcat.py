"""DCAT-AP 3.0 metadata as JSON-LD: one document per public dataset and a paged catalogue feed.

Profile: DCAT-AP 3.0.0 (SEMIC, 2024). Classes: ``dcat:Catalog``, ``dcat:Dataset``,
``dcat:Distribution``, ``foaf:Agent`` (publisher), ``vcard:Organization`` (contact point),
``dct:LicenseDocument``, ``dct:PeriodOfTime``, ``dct:Location``, ``skos:Concept`` (themes,
EU data-theme vocabulary), ``hydra:PartialCollectionView`` (feed paging, as ckanext-dcat does).
The context is inline, so the documents expand offline.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from xingcheng.datahub.opendata.constants import EXTENSIONS, LICENCES, MEDIA_TYPES, THEMES

DCAT_AP_VERSION = "3.0.0"
PROFILE = "http://data.europa.eu/r5r/"  # DCAT-AP namespace / profile IRI
CONTEXT: dict[str, Any] = {
    "dcat": "http://www.w3.org/ns/dcat#", "dct": "http://purl.org/dc/terms/", "foaf": "http://xmlns.com/foaf/0.1/",
    "vcard": "http://www.w3.org/2006/vcard/ns#", "skos": "http://www.w3.org/2004/02/skos/core#",
    "xsd": "http://www.w3.org/2001/XMLSchema#", "hydra": "http://www.w3.org/ns/hydra/core#",
    "adms": "http://www.w3.org/ns/adms#", "dcatap": "http://data.europa.eu/r5r/",
}
EU = "http://publications.europa.eu/resource/authority/"
EU_THEMES = {
    "transport": "TRAN", "education": "EDUC", "health": "HEAL", "environment": "ENVI", "economy": "ECON",
    "livelihood": "SOCI", "urban": "REGI", "safety": "JUST", "government": "GOVE", "agriculture": "AGRI",
    "finance": "ECON", "credit": "ECON", "tourism": "EDUC", "resources": "ENER", "employment": "SOCI",
}
EU_FREQUENCIES = {
    "realtime": "UPDATE_CONT", "hourly": "HOURLY", "daily": "DAILY", "weekly": "WEEKLY", "monthly": "MONTHLY",
    "quarterly": "QUARTERLY", "yearly": "ANNUAL", "irregular": "IRREG",
}
EU_FILE_TYPES = {"CSV": "CSV", "JSON": "JSON", "Parquet": "PARQUET"}


def _lit(text: str) -> dict[str, str]:
    return {"@value": text, "@language": "zh-Hans"}


def _typed(value: date | datetime) -> dict[str, str]:
    if isinstance(value, datetime):
        return {"@value": value.isoformat(), "@type": "xsd:dateTime"}
    return {"@value": value.isoformat(), "@type": "xsd:date"}


def dataset_node(package: dict[str, Any], dataset: dict[str, Any], base_url: str) -> dict[str, Any]:
    """A ``dcat:Dataset`` node. ``package``: the CKAN package dictionary; ``dataset``: catalogue values."""
    base = base_url.rstrip("/")
    uri = f"{base}/open/dataset/{package['name']}"
    licence = package["license_id"]
    licence_uri = LICENCES.get(licence, ("", f"{base}/open/licences/{licence}"))[1]
    department = package["organization"]
    node: dict[str, Any] = {
        "@id": uri, "@type": "dcat:Dataset",
        "dct:identifier": package["id"], "adms:identifier": {"@type": "adms:Identifier", "skos:notation": package["name"]},
        "dct:title": _lit(package["title"]), "dct:description": _lit(package["notes"] or package["title"]),
        "dcat:landingPage": {"@id": uri},
        "dct:publisher": {"@id": f"{base}/open/organization/{department['name']}", "@type": "foaf:Agent",
                          "foaf:name": _lit(department["title"]), "dct:identifier": department["name"]},
        "dcat:contactPoint": {"@type": "vcard:Organization", "vcard:fn": _lit(department["title"]),
                              "vcard:hasURL": {"@id": f"{base}/open/organization/{department['name']}"}},
        "dcat:keyword": [_lit(t["name"]) for t in package["tags"]],
        "dcat:theme": [{"@id": f"{EU}data-theme/{EU_THEMES.get(g['name'], 'GOVE')}", "@type": "skos:Concept",
                        "skos:prefLabel": _lit(THEMES.get(g["name"], g["title"]))} for g in package["groups"]],
        "dct:issued": {"@value": package["metadata_created"], "@type": "xsd:dateTime"},
        "dct:modified": {"@value": package["metadata_modified"], "@type": "xsd:dateTime"},
        "dct:accrualPeriodicity": {"@id": f"{EU}frequency/{EU_FREQUENCIES.get(dataset['update_frequency'], 'UNKNOWN')}"},
        "dct:accessRights": {"@id": f"{EU}access-right/PUBLIC"},
        "dct:language": {"@id": f"{EU}language/ZHO"},
        "dct:license": {"@id": licence_uri, "@type": "dct:LicenseDocument"},
        "dct:spatial": [{"@id": f"{base}/open/division/{code}", "@type": "dct:Location", "dct:identifier": code}
                        for code in dataset["spatial_coverage"]],
        "dcat:version": package["version"],
        "dcat:distribution": [distribution_node(r, licence_uri) for r in package["resources"]],
    }
    if dataset["temporal_start"] or dataset["temporal_end"]:
        period: dict[str, Any] = {"@type": "dct:PeriodOfTime"}
        if dataset["temporal_start"]:
            period["dcat:startDate"] = _typed(dataset["temporal_start"])
        if dataset["temporal_end"]:
            period["dcat:endDate"] = _typed(dataset["temporal_end"])
        node["dct:temporal"] = period
    return node


def distribution_node(resource: dict[str, Any], licence_uri: str) -> dict[str, Any]:
    fmt = resource["format"]
    node: dict[str, Any] = {
        "@id": resource["url"], "@type": "dcat:Distribution", "dct:identifier": resource["id"],
        "dct:title": _lit(resource["name"]), "dcat:accessURL": {"@id": resource["url"]},
        "dcat:downloadURL": {"@id": resource["url"]},
        "dct:format": {"@id": f"{EU}file-type/{EU_FILE_TYPES[fmt]}"},
        "dcat:mediaType": {"@id": f"http://www.iana.org/assignments/media-types/{MEDIA_TYPES[fmt]}"},
        "dct:license": {"@id": licence_uri, "@type": "dct:LicenseDocument"},
        "dct:issued": {"@value": resource["created"], "@type": "xsd:dateTime"},
        "dct:description": _lit(f"{EXTENSIONS[fmt]} 文件，由存储的数据生成"),
    }
    if resource["last_modified"]:
        node["dct:modified"] = {"@value": resource["last_modified"], "@type": "xsd:dateTime"}
    return node


def dataset_document(package: dict[str, Any], dataset: dict[str, Any], base_url: str) -> dict[str, Any]:
    return {"@context": CONTEXT, **dataset_node(package, dataset, base_url)}


def catalog_document(nodes: list[dict[str, Any]], *, base_url: str, total: int, page: int, per_page: int,
                     site_title: str, modified: datetime | None) -> dict[str, Any]:
    """The ``dcat:Catalog`` with one page of datasets and hydra paging links."""
    base = base_url.rstrip("/")
    feed = f"{base}/api/v1/opendata/dcat/catalog.jsonld"
    last = max(1, -(-total // per_page))
    view: dict[str, Any] = {"@id": f"{feed}?page={page}", "@type": "hydra:PartialCollectionView",
                            "hydra:totalItems": total, "hydra:itemsPerPage": per_page,
                            "hydra:first": {"@id": f"{feed}?page=1"}, "hydra:last": {"@id": f"{feed}?page={last}"}}
    if page > 1:
        view["hydra:previous"] = {"@id": f"{feed}?page={page - 1}"}
    if page < last:
        view["hydra:next"] = {"@id": f"{feed}?page={page + 1}"}
    catalog: dict[str, Any] = {
        "@context": CONTEXT, "@id": f"{base}/open", "@type": "dcat:Catalog",
        "dct:conformsTo": {"@id": PROFILE}, "dct:title": _lit(site_title),
        "dct:description": _lit("长沙市公共数据开放平台的开放数据目录（L1 公开数据）。"),
        "dct:publisher": {"@id": f"{base}/open/organization/dsj", "@type": "foaf:Agent", "foaf:name": _lit("长沙市数据资源局")},
        "foaf:homepage": {"@id": f"{base}/open"}, "dct:language": {"@id": f"{EU}language/ZHO"},
        "dct:license": {"@id": LICENCES["CC-BY-4.0"][1], "@type": "dct:LicenseDocument"},
        "dcat:themeTaxonomy": {"@id": f"{EU}data-theme"},
        "dcat:dataset": nodes, "hydra:view": view,
    }
    if modified:
        catalog["dct:modified"] = _typed(modified)
    return catalog
