"""The CKAN Action API's read actions, as plain functions of a session and the request's parameters.

Parameters arrive as CKAN clients send them (query strings, form fields or a JSON body: numbers
and booleans may be strings, lists may be JSON text); each action validates its own and raises
``Invalid`` with the offending parameter, which the edge renders as CKAN's "Validation Error".
Everything here reads through ``service.is_public()``: L1 and published, nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from xingcheng.core.errors import Forbidden, Invalid, NotFound
from xingcheng.core.identity.models import Department
from xingcheng.datahub.catalog import export
from xingcheng.datahub.catalog import service as catalog
from xingcheng.datahub.catalog.models import Dataset, DatasetTag
from xingcheng.datahub.catalog.schemas import CATEGORY_LABELS, FREQUENCY_LABELS
from xingcheng.datahub.opendata import datastore, dcat, search
from xingcheng.datahub.opendata.constants import LICENCES, MEDIA_TYPES, THEMES
from xingcheng.datahub.opendata.models import OpenPackage, OpenResource
from xingcheng.datahub.opendata.service import download_url, find_public, find_public_resource, is_public, public_ids

CKAN_VERSION = "2.10.4"
MAX_ROWS = 1000
SITE_TITLE = "星城开放数据"
# CKAN's write actions: known, refused here (publishing goes through /api/v1/opendata with a login).
WRITE_ACTIONS = frozenset({
    "package_create", "package_update", "package_patch", "package_delete", "resource_create", "resource_update",
    "resource_patch", "resource_delete", "organization_create", "organization_update", "organization_delete",
    "group_create", "group_update", "group_delete", "datastore_create", "datastore_upsert", "datastore_delete",
    "tag_create", "user_create", "member_create", "dataset_purge",
})
Params = dict[str, Any]


def iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") if value else None


def _invalid(name: str, message: str) -> Invalid:
    return Invalid(f"{name}: {message}", errors=[{"field": name, "message": message}])


def _int(params: Params, name: str, default: int, lo: int, hi: int) -> int:
    value = params.get(name, default)
    if value in (None, ""):
        return default
    try:
        number = int(value) if not isinstance(value, bool) and str(value).strip().lstrip("+-").isdigit() else None
    except (TypeError, ValueError):
        number = None
    if number is None:
        raise _invalid(name, "Invalid integer")
    if not lo <= number <= hi:
        raise _invalid(name, f"Must be between {lo} and {hi}")
    return number


def _bool(params: Params, name: str, default: bool = False) -> bool:
    value = params.get(name, default)
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off", "", "none"):
        return False
    raise _invalid(name, "Invalid boolean")


def _str(params: Params, name: str, default: str = "", max_length: int = 1000) -> str:
    value = params.get(name, default)
    if value is None:
        return default
    if isinstance(value, list | dict):
        raise _invalid(name, "Must be a string")
    text = str(value)
    if len(text) > max_length:
        raise _invalid(name, f"Must be at most {max_length} characters")
    return text


def _list(params: Params, name: str) -> list[str]:
    """A list given as a list, as JSON text, or as comma-separated text."""
    value = params.get(name)
    if value in (None, ""):
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError:
                raise _invalid(name, "Invalid JSON list") from None
        else:
            value = [v.strip() for v in text.split(",") if v.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _invalid(name, "Must be a list of strings")
    return list(value)


def _object(params: Params, name: str) -> dict[str, Any]:
    value = params.get(name)
    if value in (None, ""):
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise _invalid(name, "Invalid JSON object") from None
    if not isinstance(value, dict):
        raise _invalid(name, "Must be a JSON object")
    return value


def _required(params: Params, name: str) -> str:
    value = _str(params, name)
    if not value.strip():
        raise _invalid(name, "Missing value")
    return value.strip()


# ---- dictionaries in CKAN's shapes ------------------------------------------------------------------

def organization_dict(department: Department, package_count: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": department.code, "name": department.code, "title": department.name, "display_name": department.name,
        "description": f"{department.name}（{department.kind}）", "type": "organization", "is_organization": True,
        "state": "active", "approval_status": "approved", "image_url": "", "image_display_url": "",
        "created": iso(department.created_at),
    }
    if package_count is not None:
        out["package_count"] = package_count
    return out


def group_dict(theme: str, package_count: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": theme, "name": theme, "title": THEMES[theme], "display_name": THEMES[theme],
                           "description": f"开放主题：{THEMES[theme]}", "type": "group", "is_organization": False,
                           "state": "active", "approval_status": "approved", "image_url": "", "image_display_url": ""}
    if package_count is not None:
        out["package_count"] = package_count
    return out


def resource_dict(resource: OpenResource, package: OpenPackage, dataset: Dataset, base_url: str) -> dict[str, Any]:
    return {
        "id": resource.id, "package_id": package.id, "name": f"{dataset.title}（{resource.format}）",
        "description": f"{dataset.title}的全部数据，{resource.format} 格式，由存储的数据实时生成。",
        "format": resource.format, "mimetype": MEDIA_TYPES[resource.format], "url": download_url(base_url, resource.id),
        "url_type": None, "created": iso(resource.created_at), "last_modified": iso(dataset.last_row_update),
        "metadata_modified": iso(package.modified_at), "position": resource.position, "state": "active",
        "datastore_active": True, "size": None, "hash": "", "cache_url": None, "resource_type": None,
    }


def package_dicts(session: Session, pairs: list[tuple[OpenPackage, Dataset]], base_url: str) -> list[dict[str, Any]]:
    """Full CKAN package dictionaries for ``pairs``, with a fixed number of queries whatever their count."""
    if not pairs:
        return []
    ids = [d.id for _, d in pairs]
    departments = {d.code: d for d in session.scalars(select(Department).where(
        Department.code.in_({d.owner_department_code for _, d in pairs})))}
    tags: dict[int, list[str]] = {}
    for dataset_id, tag in session.execute(select(DatasetTag.dataset_id, DatasetTag.tag)
                                           .where(DatasetTag.dataset_id.in_(ids)).order_by(DatasetTag.tag)):
        tags.setdefault(dataset_id, []).append(tag)
    resources: dict[str, list[OpenResource]] = {}
    for resource in session.scalars(select(OpenResource).where(OpenResource.package_id.in_([p.id for p, _ in pairs]))
                                    .order_by(OpenResource.position)):
        resources.setdefault(resource.package_id, []).append(resource)
    out = []
    for package, dataset in pairs:
        department = departments[dataset.owner_department_code]
        licence = LICENCES.get(dataset.licence, (dataset.licence or "未注明", ""))
        temporal = f"{dataset.temporal_start or ''}/{dataset.temporal_end or ''}"
        extras = {"category": CATEGORY_LABELS.get(dataset.category, dataset.category),
                  "update_frequency": FREQUENCY_LABELS.get(dataset.update_frequency, dataset.update_frequency),
                  "spatial_coverage": ",".join(dataset.spatial_coverage or []), "temporal_coverage": temporal,
                  "row_count": str(dataset.row_count), "source_system": dataset.source_system, "grade": dataset.grade,
                  "schema_version": str(dataset.schema_version)}
        notes = dataset.description + (f"\n\n{package.notes}" if package.notes else "")
        package_tags = tags.get(dataset.id, [])
        out.append({
            "id": package.id, "name": dataset.slug, "title": dataset.title, "notes": notes, "type": "dataset",
            "state": "active", "private": False, "author": department.name, "author_email": None,
            "maintainer": department.name, "maintainer_email": None, "license_id": dataset.licence,
            "license_title": licence[0], "license_url": licence[1], "isopen": dataset.licence in LICENCES,
            "metadata_created": iso(package.published_at), "metadata_modified": iso(package.modified_at),
            "version": f"v{dataset.schema_version}", "url": f"{base_url.rstrip('/')}/open/dataset/{dataset.slug}",
            "owner_org": department.code, "organization": organization_dict(department),
            "groups": [group_dict(package.theme)], "num_tags": len(package_tags),
            "tags": [{"id": t, "name": t, "display_name": t, "state": "active", "vocabulary_id": None} for t in package_tags],
            "num_resources": len(resources.get(package.id, [])),
            "resources": [resource_dict(r, package, dataset, base_url) for r in resources.get(package.id, [])],
            "extras": [{"key": k, "value": v} for k, v in extras.items()],
            "relationships_as_object": [], "relationships_as_subject": [],
        })
    return out


# ---- actions ---------------------------------------------------------------------------------------

def status_show(session: Session, params: Params, base_url: str) -> dict[str, Any]:
    """Site information: CKAN version emulated, title, locale and extensions."""
    return {"ckan_version": CKAN_VERSION, "site_title": SITE_TITLE, "site_url": base_url.rstrip("/"),
            "site_description": "长沙市公共数据开放平台（星城）：L1 公开数据的下载、检索与数据接口。",
            "locale_default": "zh_Hans_CN", "error_emails_to": None, "extensions": ["datastore", "dcat", "xingcheng"]}


def package_list(session: Session, params: Params, base_url: str) -> list[str]:
    """Names of every public package, sorted; ``limit`` and ``offset`` page through them."""
    limit, offset = _int(params, "limit", 100_000, 0, 100_000), _int(params, "offset", 0, 0, 10**9)
    statement = select(Dataset.slug).join(OpenPackage, OpenPackage.dataset_id == Dataset.id).where(is_public())
    return list(session.scalars(statement.order_by(Dataset.slug).limit(limit).offset(offset)))


def package_search(session: Session, params: Params, base_url: str) -> dict[str, Any]:
    """Search public packages: q (Chinese full text), fq (field:value terms), rows, start, sort, facet.field."""
    facet_fields = _list(params, "facet.field")
    unknown = [f for f in facet_fields if f not in search.FACET_FIELDS]
    if unknown:
        raise _invalid("facet.field", f"cannot facet on {unknown[0]!r}; one of {', '.join(search.FACET_FIELDS)}")
    query = search.Query(
        q=_str(params, "q", max_length=500), fq=_str(params, "fq", max_length=1000),
        rows=_int(params, "rows", 10, 0, MAX_ROWS), start=_int(params, "start", 0, 0, 10**9),
        sort=_str(params, "sort", search.DEFAULT_SORT, max_length=200) or search.DEFAULT_SORT,
        facet_fields=list(dict.fromkeys(facet_fields)), facet_limit=_int(params, "facet.limit", 50, -1, 1000),
        facet_mincount=_int(params, "facet.mincount", 1, 0, 10**9))
    pairs, count, facets = search.search(session, query)
    titles = _facet_titles(session, facets)
    return {
        "count": count, "sort": query.sort, "results": package_dicts(session, pairs, base_url),
        "facets": {name: dict(items) for name, items in facets.items()},
        "search_facets": {name: {"title": name, "items": [
            {"name": value, "display_name": titles.get((name, value), value), "count": n} for value, n in items]}
            for name, items in facets.items()},
    }


def _facet_titles(session: Session, facets: dict[str, list[tuple[str, int]]]) -> dict[tuple[str, str], str]:
    titles: dict[tuple[str, str], str] = {}
    codes = [v for v, _ in facets.get("organization", [])]
    if codes:
        for code, name in session.execute(select(Department.code, Department.name).where(Department.code.in_(codes))):
            titles[("organization", code)] = name
    for theme, _ in facets.get("groups", []):
        titles[("groups", theme)] = THEMES.get(theme, theme)
    for licence, _ in facets.get("license_id", []):
        titles[("license_id", licence)] = LICENCES.get(licence, (licence, ""))[0]
    return titles


def package_show(session: Session, params: Params, base_url: str) -> dict[str, Any]:
    """One public package by ``id`` (CKAN id or name)."""
    package, dataset = find_public(session, _required(params, "id"))
    return package_dicts(session, [(package, dataset)], base_url)[0]


def resource_show(session: Session, params: Params, base_url: str) -> dict[str, Any]:
    """One resource of a public package by ``id``."""
    resource, package, dataset = find_public_resource(session, _required(params, "id"))
    return resource_dict(resource, package, dataset, base_url)


def _organization_counts(session: Session) -> dict[str, int]:
    return dict(session.execute(select(Dataset.owner_department_code, func.count()).where(Dataset.id.in_(public_ids()))
                                .group_by(Dataset.owner_department_code)).all())


def _sorted(items: list[dict[str, Any]], sort: str, parameter: str) -> list[dict[str, Any]]:
    bits = (sort or "name asc").split()
    key, direction = bits[0], (bits[1].lower() if len(bits) > 1 else "asc")
    if key not in ("name", "title", "package_count") or direction not in ("asc", "desc") or len(bits) > 2:
        raise _invalid(parameter, "sort by name, title or package_count, asc or desc")
    return sorted(items, key=lambda i: (i[key], i["name"]), reverse=direction == "desc")


def organization_list(session: Session, params: Params, base_url: str) -> list[Any]:
    """Departments that publish open data: names, or dictionaries with ``all_fields``."""
    counts = _organization_counts(session)
    wanted = set(_list(params, "organizations"))
    departments = session.scalars(select(Department).where(Department.code.in_(list(counts)))).all()
    items = [organization_dict(d, counts[d.code]) for d in departments if not wanted or d.code in wanted]
    items = _sorted(items, _str(params, "sort", "name asc", 100), "sort")
    offset, limit = _int(params, "offset", 0, 0, 10**9), _int(params, "limit", 1000, 0, 1000)
    items = items[offset:offset + limit]
    return items if _bool(params, "all_fields") else [i["name"] for i in items]


def organization_show(session: Session, params: Params, base_url: str) -> dict[str, Any]:
    """A department as a CKAN organization, with its public packages when ``include_datasets``."""
    key = _required(params, "id")
    department = session.scalar(select(Department).where(Department.code == key))
    if department is None:
        raise NotFound(f'Organization "{key}" was not found')
    out = organization_dict(department, _organization_counts(session).get(department.code, 0))
    if _bool(params, "include_datasets"):
        pairs, _, _ = search.search(session, search.Query(fq=f"organization:{department.code}", rows=MAX_ROWS,
                                                          sort="name asc"))
        out["packages"] = package_dicts(session, pairs, base_url)
    return out


def _theme_counts(session: Session) -> dict[str, int]:
    return dict(session.execute(select(OpenPackage.theme, func.count()).where(OpenPackage.dataset_id.in_(public_ids()))
                                .group_by(OpenPackage.theme)).all())


def group_list(session: Session, params: Params, base_url: str) -> list[Any]:
    """Open-data themes (CKAN groups): names, or dictionaries with ``all_fields``."""
    counts = _theme_counts(session)
    wanted = set(_list(params, "groups"))
    items = [group_dict(t, counts.get(t, 0)) for t in THEMES if not wanted or t in wanted]
    items = _sorted(items, _str(params, "sort", "name asc", 100), "sort")
    offset, limit = _int(params, "offset", 0, 0, 10**9), _int(params, "limit", 1000, 0, 1000)
    items = items[offset:offset + limit]
    return items if _bool(params, "all_fields") else [i["name"] for i in items]


def group_show(session: Session, params: Params, base_url: str) -> dict[str, Any]:
    """One theme with its public package count."""
    key = _required(params, "id")
    if key not in THEMES:
        raise NotFound(f'Group "{key}" was not found')
    return group_dict(key, _theme_counts(session).get(key, 0))


def tag_list(session: Session, params: Params, base_url: str) -> list[Any]:
    """Tags of public packages; ``query`` keeps those containing it."""
    statement = select(DatasetTag.tag).where(DatasetTag.dataset_id.in_(public_ids())).distinct().order_by(DatasetTag.tag)
    query = _str(params, "query", max_length=100)
    if query:
        statement = statement.where(DatasetTag.tag.contains(query, autoescape=True))
    names = list(session.scalars(statement))
    if _bool(params, "all_fields"):
        return [{"id": n, "name": n, "display_name": n, "vocabulary_id": None} for n in names]
    return names


def datastore_search(session: Session, params: Params, base_url: str) -> dict[str, Any]:
    """Rows of a public resource: filters, q, limit, offset, fields, sort; with fields metadata and total."""
    resource_id = _required(params, "resource_id") if "resource_id" in params else _required(params, "id")
    resource, _, dataset = find_public_resource(session, resource_id)
    if _str(params, "records_format", "objects", 20) != "objects":
        raise _invalid("records_format", "only objects is supported")
    if _bool(params, "distinct"):
        raise _invalid("distinct", "distinct is not supported")
    raw_q = params.get("q", "")
    q: str | dict[str, str] = _object(params, "q") if isinstance(raw_q, dict) or str(raw_q).strip().startswith("{") \
        else _str(params, "q", max_length=500)
    query = datastore.RowQuery(
        filters=_object(params, "filters"), q=q, limit=_int(params, "limit", 100, 0, datastore.MAX_LIMIT),
        offset=_int(params, "offset", 0, 0, 10**12), fields=_list(params, "fields") or None,
        sort=_str(params, "sort", max_length=300), include_total=_bool(params, "include_total", True))
    fields = catalog.current_fields(session, dataset)
    parts = export.stored_parts(session, dataset)
    paths = list(zip(export.part_paths(parts), [n for _, n in parts], strict=True))
    found = datastore.search(paths, fields, query)
    link = f"/api/3/action/datastore_search?resource_id={resource.id}"
    result: dict[str, Any] = {"resource_id": resource.id, "fields": found["fields"], "records": found["records"],
                              "records_format": "objects", "limit": query.limit, "offset": query.offset,
                              "include_total": query.include_total,
                              "_links": {"start": link, "next": f"{link}&offset={query.offset + query.limit}"}}
    if query.include_total:
        result["total"] = found["total"]
        result["total_was_estimated"] = False
    for name in ("filters", "q", "sort"):
        if params.get(name) not in (None, ""):
            result[name] = getattr(query, name)
    return result


Action = Callable[[Session, Params, str], Any]
ACTIONS: dict[str, Action] = {f.__name__: f for f in (
    status_show, package_list, package_search, package_show, resource_show, organization_list, organization_show,
    group_list, group_show, tag_list, datastore_search)}


def help_show(session: Session, params: Params, base_url: str) -> str:
    """The documentation of action ``name``."""
    name = _required(params, "name")
    if name not in ACTIONS and name != "help_show":
        raise NotFound(f'Action "{name}" was not found')
    return (ACTIONS.get(name) or help_show).__doc__ or ""


ACTIONS["help_show"] = help_show


def run(session: Session, action: str, params: Params, base_url: str) -> Any:
    """Dispatch one action call; write actions are refused, unknown ones are a bad request."""
    if action in WRITE_ACTIONS:
        raise Forbidden(f"Access denied: {action} is not open to the public; departments publish through "
                        "/api/v1/opendata with a login")
    handler = ACTIONS.get(action)
    if handler is None:
        raise Invalid(f"Bad request - Action name not known: {action}",
                      errors=[{"field": "action", "message": "Action name not known"}])
    return handler(session, params, base_url)


# ---- DCAT-AP feeds (not CKAN actions; served under /api/v1/opendata/dcat) ------------------------------

def _catalogue_values(dataset: Dataset) -> dict[str, Any]:
    return {"update_frequency": dataset.update_frequency, "spatial_coverage": list(dataset.spatial_coverage or []),
            "temporal_start": dataset.temporal_start, "temporal_end": dataset.temporal_end}


def dcat_dataset(session: Session, *, key: str, base_url: str) -> dict[str, Any]:
    package, dataset = find_public(session, key)
    return dcat.dataset_document(package_dicts(session, [(package, dataset)], base_url)[0], _catalogue_values(dataset),
                                 base_url)


def dcat_catalog(session: Session, *, page: int, per_page: int, base_url: str) -> dict[str, Any]:
    pairs, total, _ = search.search(session, search.Query(rows=per_page, start=(page - 1) * per_page, sort="name asc"))
    nodes = [dcat.dataset_node(p, _catalogue_values(d), base_url)
             for p, (_, d) in zip(package_dicts(session, pairs, base_url), pairs, strict=True)]
    modified = session.scalar(select(func.max(OpenPackage.modified_at)).where(OpenPackage.dataset_id.in_(public_ids())))
    return dcat.catalog_document(nodes, base_url=base_url, total=total, page=page, per_page=per_page,
                                 site_title=SITE_TITLE, modified=modified)
