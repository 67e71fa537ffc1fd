"""REST API for the dimensions every measure carries: business units and legal entities (with the
currency its figures are in). Everyone signed in may read them; admins change them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

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
    Rename,
)
from models.people import Person
from services import dimensions
from services.db import transaction

ADMIN_ONLY: dict[int | str, dict[str, Any]] = {403: {"description": "Only an admin may do this"}}
TAKEN: dict[int | str, dict[str, Any]] = {
    409: {"description": "The organization already has this code"}
}


def _router(
    path: str,
    entity: str,
    table: dimensions.Dimension,
    create: type[BaseModel],
    public: type[BaseModel],
) -> APIRouter:
    router = APIRouter(prefix=f"/api/{path}", tags=["dimensions"], responses=SIGNED_IN)
    label = entity.replace("_", " ")

    async def list_all(person: CurrentPerson, session: SessionDep) -> list[Any]:
        return [public.model_validate(row) for row in await dimensions.of(session, table)]

    async def add(body: Any, admin: CurrentAdmin, sessions: SessionsDep) -> Any:
        async with transaction(sessions) as session:
            row = await dimensions.add(session, table, body.model_dump(), _actor(admin))
        return public.model_validate(row)

    async def rename(
        node_id: RowId, body: Rename, admin: CurrentAdmin, sessions: SessionsDep
    ) -> Any:
        async with transaction(sessions) as session:
            row = await dimensions.rename(session, table, node_id, body.name, _actor(admin))
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


def _actor(admin: Person) -> Actor:
    return Actor.person(admin.id, Channel.API)


business_units = _router(
    "business-units", "business_unit", BusinessUnit, BusinessUnitCreate, BusinessUnitPublic
)
legal_entities = _router(
    "legal-entities", "legal_entity", LegalEntity, LegalEntityCreate, LegalEntityPublic
)
