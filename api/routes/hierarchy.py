"""REST API for the hierarchy: organizations, portfolios, programs, projects and measure packages.

Every level has the same five operations (list, create, read, rename, roll-up), made here from
its description in `services.hierarchy.LEVELS`. (No `from __future__ import annotations`: the
route functions are made per level, and FastAPI reads their parameter types at run time.)
"""

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel

from api.auth import SIGNED_IN, CurrentPerson
from api.deps import SessionDep, SessionsDep
from api.params import RowId
from models.audit import Actor, Channel
from models.columns import MAX_ID
from models.organization import (
    OrganizationCreate,
    OrganizationPublic,
    PackageCreate,
    PackagePublic,
    PortfolioCreate,
    PortfolioPublic,
    ProgramCreate,
    ProgramPublic,
    ProjectCreate,
    ProjectPublic,
    Rename,
)
from models.rollups import NodeView
from services import hierarchy
from services.db import transaction
from services.hierarchy import LEVELS, Level

SHAPES: dict[str, tuple[type[BaseModel], type[BaseModel]]] = {
    "organization": (OrganizationCreate, OrganizationPublic),
    "portfolio": (PortfolioCreate, PortfolioPublic),
    "program": (ProgramCreate, ProgramPublic),
    "project": (ProjectCreate, ProjectPublic),
    "package": (PackageCreate, PackagePublic),
}
ParentFilter = Annotated[
    int | None, Query(ge=1, le=MAX_ID, description="Only the nodes under this parent.")
]


def _not_found(level: Level, node_id: int) -> HTTPException:
    return HTTPException(404, f"{level.name} {node_id} not found")


def level_router(level: Level) -> APIRouter:
    create_shape, public_shape = SHAPES[level.name]
    router = APIRouter(prefix=f"/api/{level.plural}", tags=["hierarchy"], responses=SIGNED_IN)
    label = level.label.lower()
    may_not: dict[int | str, dict[str, Any]] = {
        403: {"description": f"You may not change this {label}"}
    }

    async def list_nodes(
        person: CurrentPerson, session: SessionDep, parent_id: ParentFilter = None
    ) -> list[Any]:
        nodes = await hierarchy.children(session, level, parent_id, person)
        return [public_shape.model_validate(n) for n in nodes]

    async def read_node(node_id: RowId, person: CurrentPerson, session: SessionDep) -> Any:
        node = await hierarchy.find(session, level, node_id, person)
        if node is None:
            raise _not_found(level, node_id)
        return public_shape.model_validate(node)

    async def rollup(node_id: RowId, person: CurrentPerson, session: SessionDep) -> NodeView:
        return await hierarchy.view(session, level, node_id, person, date.today())

    async def create_node(body: create_shape, person: CurrentPerson, sessions: SessionsDep) -> Any:  # type: ignore[valid-type]
        data = body.model_dump()  # type: ignore[attr-defined]
        async with transaction(sessions) as session:
            actor = Actor.person(person.id, Channel.API)
            node = await hierarchy.add(session, level, data, person, actor)
        return public_shape.model_validate(node)

    async def rename(
        node_id: RowId, body: Rename, person: CurrentPerson, sessions: SessionsDep
    ) -> Any:
        async with transaction(sessions) as session:
            node = await hierarchy.rename(
                session, level, node_id, body.name, person, Actor.person(person.id, Channel.API)
            )
        return public_shape.model_validate(node)

    plural = level.plural
    router.add_api_route(
        "", list_nodes, methods=["GET"], response_model=list[public_shape],  # type: ignore[valid-type]
        summary=f"The {plural} you may see", operation_id=f"list_{plural}",
    )  # fmt: skip
    router.add_api_route(
        "", create_node, methods=["POST"], status_code=201, response_model=public_shape,
        responses={**may_not, 422: {"description": "Invalid input, or an unknown parent"}},
        summary=f"Add a {label}", operation_id=f"create_{level.name}",
    )  # fmt: skip
    router.add_api_route(
        "/{node_id}", read_node, methods=["GET"], response_model=public_shape,
        responses={404: {"description": f"No such {label} (or not yours to see)"}},
        summary=f"One {label}", operation_id=f"read_{level.name}",
    )  # fmt: skip
    router.add_api_route(
        "/{node_id}", rename, methods=["PATCH"], response_model=public_shape,
        responses={**may_not, 404: {"description": f"No such {label}"}},
        summary=f"Rename a {label}", operation_id=f"rename_{level.name}",
    )  # fmt: skip
    router.add_api_route(
        "/{node_id}/rollup", rollup, methods=["GET"], response_model=NodeView,
        responses={404: {"description": f"No such {label} (or not yours to see)"}},
        summary=f"A {label} with its children, each with value and dual status rolled up",
        operation_id=f"rollup_{level.name}",
    )  # fmt: skip
    return router


routers = [level_router(level) for level in LEVELS.values()]
