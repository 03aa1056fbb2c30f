"""Material uploads: content-addressed files under ``<data_dir>/uploads/`` recorded per account."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from sqlalchemy.orm import Session

from xingcheng.core.audit import service as audit
from xingcheng.core.auth import Principal
from xingcheng.core.errors import Forbidden, Invalid, PayloadTooLarge, UnsupportedMediaType
from xingcheng.core.settings import get_settings
from xingcheng.egov.applications.models import ApplicationUpload

MAX_BYTES = 10 * 1024 * 1024
# Scans and photos of paper materials, and OFD (GB/T 33190, China's electronic document format).
SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "application/pdf": (b"%PDF-",), "image/jpeg": (b"\xff\xd8\xff",), "image/png": (b"\x89PNG\r\n\x1a\n",),
    "application/ofd": (b"PK\x03\x04",),
}


def upload_dir() -> Path:
    return get_settings().data_dir / "uploads"


def store(session: Session, *, owner: Principal, file_name: str, content_type: str, content: bytes) -> ApplicationUpload:
    """Check type and size, write the bytes once per SHA-256 (atomically), record the upload; audited."""
    if owner.account_id is None or owner.kind not in ("citizen", "enterprise"):
        raise Forbidden("materials are uploaded by applicants")
    if len(content) > MAX_BYTES:
        raise PayloadTooLarge(f"a material is at most {MAX_BYTES // (1024 * 1024)} MiB")
    if not content:
        raise Invalid("the file is empty")
    kind = content_type.split(";")[0].strip().lower()
    if kind not in SIGNATURES:
        raise UnsupportedMediaType(f"upload PDF, JPEG, PNG or OFD, not {kind or 'an unknown type'}")
    if not content.startswith(SIGNATURES[kind]):
        raise Invalid(f"the file's content is not {kind}")
    digest = hashlib.sha256(content).hexdigest()
    path = upload_dir() / digest[:2] / digest
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.part")
        partial.write_bytes(content)
        partial.replace(path)
    upload = ApplicationUpload(owner_account_id=owner.account_id, file_name=Path(file_name or "material").name[:200],
                               content_type=kind, size_bytes=len(content), sha256=digest)
    session.add(upload)
    session.flush()
    audit.record(session, actor=owner, action="applications.upload", subject=f"upload:{upload.id}",
                 content_hash=bytes.fromhex(digest))
    return upload
