"""REST API for the dimensions every measure carries: business units and legal entities (with the
currency its figures are in). Everyone signed in may read them; admins change them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, col, select

from api.auth import SIGNED_IN, CurrentAdmin, CurrentPerson
from api.deps import SessionDep, SessionsDep
from api.params import RowId
from models.audit import Actor, Channel
from models.organization import (
    BusinessUnit,
    BusinessUnitCreate,
    BusinessUnitPublic,
    LegalEntity,
    LegalEntityCreate,
    LegalEntityPublic,
    Organization,
    Rename,
)
from services import audit
from services.db import transaction
from services.errors import FieldProblem, InvalidInput

ADMIN_ONLY: dict[int | str, dict[str, Any]] = {403: {"description": "Only an admin may do this"}}
TAKEN: dict[int | str, dict[str, Any]] = {
    409: {"description": "The organization already has this code"}
}


def _router(
    path: str,
    entity: str,
    table: type[SQLModel],
    create: type[BaseModel],
    public: type[BaseModel],
) -> APIRouter:
    router = APIRouter(prefix=f"/api/{path}", tags=["dimensions"], responses=SIGNED_IN)
    label = entity.replace("_", " ")

    async def list_all(person: CurrentPerson, session: SessionDep) -> list[Any]:
        rows = await session.exec(select(table).order_by(col(table.code)))  # type: ignore[attr-defined]
        return [public.model_validate(row) for row in rows.all()]

    async def add(body: Any, admin: CurrentAdmin, sessions: SessionsDep) -> Any:
        data = body.model_dump()
        try:
            async with transaction(sessions) as session:
                if await session.get(Organization, data["organization_id"]) is None:
                    raise InvalidInput(
                        [FieldProblem("organization_id", f"no organization {body.organization_id}")]
                    )
                row: Any = table(**data)
                session.add(row)
                await session.flush()
                await _audit(session, admin, entity, row.id, "created", data)
        except IntegrityError as error:
            raise HTTPException(
                409, f"the organization already has the code {body.code}"
            ) from error
        return public.model_validate(row)

    async def rename(
        node_id: RowId, body: Rename, admin: CurrentAdmin, sessions: SessionsDep
    ) -> Any:
        async with transaction(sessions) as session:
            row: Any = await session.get(table, node_id)
            if row is None:
                raise HTTPException(404, f"{label} {node_id} not found")
            before = {"name": row.name}
            row.name = body.name
            session.add(row)
            await _audit(session, admin, entity, node_id, "renamed", {"name": body.name}, before)
        return public.model_validate(row)

    add.__annotations__["body"] = create
    router.add_api_route(
        "", list_all, methods=["GET"], response_model=list[public],  # type: ignore[valid-type]
        summary=f"Every {label}", operation_id=f"list_{path.replace('-', '_')}",
    )  # fmt: skip
    router.add_api_route(
        "", add, methods=["POST"], status_code=201, response_model=public,
        responses={**ADMIN_ONLY, **TAKEN}, summary=f"Add a {label}",
        operation_id=f"create_{entity}",
    )  # fmt: skip
    router.add_api_route(
        "/{node_id}", rename, methods=["PATCH"], response_model=public,
        responses={**ADMIN_ONLY, 404: {"description": f"No such {label}"}},
        summary=f"Rename a {label} (a legal entity's currency never changes)",
        operation_id=f"rename_{entity}",
    )  # fmt: skip
    return router


async def _audit(
    session: Any,
    admin: Any,
    entity: str,
    entity_id: int,
    verb: str,
    after: dict[str, object],
    before: dict[str, object] | None = None,
) -> None:
    await audit.record(
        session,
        actor=Actor.person(admin.id, Channel.API),
        entity_type=entity,
        entity_id=entity_id,
        action=f"{entity}.{verb}",
        before=before,
        after=after,
    )


business_units = _router(
    "business-units", "business_unit", BusinessUnit, BusinessUnitCreate, BusinessUnitPublic
)
legal_entities = _router(
    "legal-entities", "legal_entity", LegalEntity, LegalEntityCreate, LegalEntityPublic
)
