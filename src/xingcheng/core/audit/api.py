"""Read the audit ledger: entries, the latest signed tree head, inclusion and consistency proofs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from xingcheng.core.audit import service
from xingcheng.core.audit.schemas import AuditEntryRead, ConsistencyProofRead, InclusionProofRead, TreeHeadRead
from xingcheng.core.audit.signing import public_key_of
from xingcheng.core.deps import DbSession, Pagination, require
from xingcheng.core.schemas import Page

router = APIRouter(prefix="/api/v1/audit", tags=["audit"], dependencies=[Depends(require("audit:read"))])


@router.get("/entries", response_model=Page[AuditEntryRead], operation_id="audit-entries")
def entries(
    session: DbSession,
    page: Pagination,
    actor: Annotated[str | None, Query(max_length=128, description="actor name")] = None,
    action: Annotated[str | None, Query(max_length=64, description="e.g. exchange.approve")] = None,
    subject: Annotated[str | None, Query(max_length=256)] = None,
) -> Any:
    items, total = service.list_entries(
        session, actor=actor, action=action, subject=subject, limit=page.limit, offset=page.offset
    )
    return {"items": items, "total": total, "limit": page.limit, "offset": page.offset}


@router.get("/sth", response_model=TreeHeadRead, operation_id="audit-sth")
def signed_tree_head(session: DbSession) -> Any:
    head = service.latest_tree_head_or_raise(session)
    return {
        "version": head.version, "tree_size": head.tree_size, "previous_size": head.previous_size,
        "root_hash": head.root_hash, "algorithm": head.algorithm, "timestamp": head.timestamp_ms,
        "issued_at": head.issued_at, "signature": head.signature, "key_id": head.key_id,
        "public_key": public_key_of(service.signing_key_path()),
    }


@router.get("/proof/inclusion", response_model=InclusionProofRead, operation_id="audit-proof-inclusion")
def inclusion(
    session: DbSession,
    leaf_index: Annotated[int, Query(ge=0)],
    tree_size: Annotated[int | None, Query(ge=1, description="default: the latest signed tree head's")] = None,
) -> Any:
    return service.inclusion_proof(session, leaf_index=leaf_index, tree_size=tree_size)


@router.get("/proof/consistency", response_model=ConsistencyProofRead, operation_id="audit-proof-consistency")
def consistency(
    session: DbSession,
    first: Annotated[int, Query(ge=0)],
    second: Annotated[int | None, Query(ge=0, description="default: the latest signed tree head's")] = None,
) -> Any:
    return service.consistency_proof(session, first=first, second=second)
