"""免提交: which of an item's materials the city already holds, and checking what the applicant provides.

A material is not asked for when the online form produces it (申请表/申请书), the process itself produces
it (the 营业执照 of an enterprise start), a base registry answers it (identity, the applicant company,
retirement) or the applicant holds it as a valid e-licence. Everything else is uploaded or referenced
as an e-licence the applicant holds, and checked here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from xingcheng.core.masking import mask
from xingcheng.datahub.registries import licences as licence_registry
from xingcheng.datahub.registries.models import LegalEntity, Person
from xingcheng.datahub.registries.service import get_person
from xingcheng.egov.applications.models import ApplicationUpload
from xingcheng.egov.applications.schemas import MaterialIn
from xingcheng.egov.services.service import ItemFacts

# Filled in online and signed electronically (一表申请): generated from the form, never uploaded.
ONLINE_FORM_SUFFIXES = ("表", "申请书", "声明书", "声明", "自填单", "承诺书", "申请")
IDENTITY_MARKERS = ("身份证", "户口簿", "身份证明")
ENTITY_MARKERS = ("营业执照", "统一社会信用代码证书", "法人登记证书")


@dataclass(frozen=True)
class Applicant:
    """The registry facts material planning needs about who applies."""

    kind: str  # citizen | enterprise
    key: str  # ID number or credit code
    name: str
    person: Person | None
    entity: LegalEntity | None


@dataclass
class Need:
    item_code: str
    name: str
    provision: str | None  # None: the applicant must provide it
    reference: str | None = None
    upload_id: int | None = None


def load_applicant(session: Session, *, kind: str, key: str, fallback_name: str) -> Applicant:
    if kind == "enterprise":
        entity = session.scalar(select(LegalEntity).where(LegalEntity.credit_code == key))
        person = None
        if entity is not None and entity.legal_representative_id_number:
            person = get_person(session, id_number=entity.legal_representative_id_number)
        return Applicant(kind, key, entity.name if entity else fallback_name, person, entity)
    person = get_person(session, id_number=key)
    return Applicant(kind, key, person.name if person else fallback_name, person, None)


def _registry_answer(name: str, applicant: Applicant) -> str | None:
    if any(marker in name for marker in IDENTITY_MARKERS) and applicant.person is not None:
        return f"person:{mask('id_number', applicant.person.id_number)}"
    if any(marker in name for marker in ENTITY_MARKERS) and applicant.entity is not None \
            and applicant.entity.status == "active":
        return f"legal_entity:{applicant.entity.credit_code}"
    if "退休" in name and applicant.person is not None and applicant.person.retired:
        return f"person:{mask('id_number', applicant.person.id_number)}"
    return None


def plan(session: Session, *, items: Sequence[ItemFacts], applicant: Applicant, produced: Sequence[str] = ()
         ) -> list[Need]:
    """Every required material of ``items`` and how the city gets it (``provision`` None = ask the applicant)."""
    held = [lic for lic in licence_registry.licences_of(session, applicant.key) if licence_registry.state(lic) == "valid"]
    if applicant.person is not None and applicant.kind == "enterprise":
        held += [lic for lic in licence_registry.licences_of(session, applicant.person.id_number)
                 if licence_registry.state(lic) == "valid"]
    needs: list[Need] = []
    for item in items:
        for material in item.materials:
            if not material.required:
                continue
            name = material.name
            if name.endswith(ONLINE_FORM_SUFFIXES):
                needs.append(Need(item.code, name, "online_form"))
            elif any(marker in name for marker in produced):
                needs.append(Need(item.code, name, "produced"))
            elif (reference := _registry_answer(name, applicant)) is not None:
                needs.append(Need(item.code, name, "registry", reference))
            elif (licence := next((lic for lic in held if lic.type_name in name), None)) is not None:
                needs.append(Need(item.code, name, "auto_licence", licence.number))
            else:
                needs.append(Need(item.code, name, None))
    return needs


def provided_count(needs: Sequence[Need]) -> int:
    """What the applicant had to provide: the one online form (if any) and each material asked for."""
    forms = any(n.provision == "online_form" for n in needs)
    return int(forms) + sum(1 for n in needs if n.provision in (None, "upload", "e_licence"))


def _problem(index: int | None, message: str, kind: str) -> dict[str, object]:
    where = "materials" if index is None else f"materials.{index}"
    pointer = "/materials" if index is None else f"/materials/{index}"
    return {"in": "body", "field": where, "pointer": pointer, "message": message, "type": kind}


def attach(session: Session, *, needs: list[Need], given: Sequence[MaterialIn], applicant: Applicant,
           account_id: int, only: set[str] | None = None) -> list[dict[str, object]]:
    """Match the provided materials to the open needs (uploads of this account, e-licences of this
    applicant); returns one problem per missing, unknown or unusable material."""
    problems: list[dict[str, object]] = []
    open_needs = {n.name: n for n in needs if n.provision in (None, "upload", "e_licence")
                  and (only is None or n.name in only)}
    seen: set[str] = set()
    for index, material in enumerate(given):
        need = open_needs.get(material.name)
        if need is None:
            problems.append(_problem(index, f"“{material.name}”不是本事项需要申请人提供的材料", "unknown_material"))
            continue
        if material.name in seen:
            problems.append(_problem(index, f"材料“{material.name}”重复提交", "duplicate_material"))
            continue
        seen.add(material.name)
        if material.upload_id is not None:
            upload = session.get(ApplicationUpload, material.upload_id)
            if upload is None or upload.owner_account_id != account_id:
                problems.append(_problem(index, f"材料“{material.name}”的上传文件不存在", "unknown_upload"))
                continue
            need.provision, need.reference, need.upload_id = "upload", upload.sha256, upload.id
        else:
            number = str(material.licence_number)
            licence = licence_registry.get_licence(session, number)
            holders = {applicant.key, *((applicant.person.id_number,) if applicant.person else ())}
            if licence is None or licence.holder_id not in holders:
                problems.append(_problem(index, f"材料“{material.name}”引用的电子证照不存在或不属于申请人", "unknown_licence"))
                continue
            if licence_registry.state(licence) != "valid":
                problems.append(_problem(index, f"材料“{material.name}”引用的电子证照已失效", "licence_not_valid"))
                continue
            need.provision, need.reference = "e_licence", licence.number
    for name, need in open_needs.items():
        if name not in seen and need.provision is None:
            problems.append(_problem(None, f"缺少材料：{name}", "missing_material"))
    return problems
