"""The portfolio dashboard through the REST API, on known figures."""

from __future__ import annotations

from datetime import date

import httpx
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from models.stages import Stage
from tests.rollup_data import FEB, JAN, Figures, add_measure, make_tree


async def test_pipeline_matrix_and_months_in_the_group_currency(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    tree = await make_tree(sessions, usd_rate="0.5")
    today = date.today()
    await add_measure(
        sessions,
        tree,
        Figures(
            plan={JAN: "100", FEB: "100"},
            forecast={JAN: "100", FEB: "100"},
            verified={JAN: "100"},
            stage=Stage.IMPLEMENTED,
        ),
        today=today,
    )
    await add_measure(
        sessions,
        tree,
        Figures(plan={JAN: "400"}, forecast={JAN: "100"}, overdue_days=30, stage=Stage.DECIDED),
        currency="USD",
        program="B",
        today=today,
    )
    await add_measure(sessions, tree, Figures(stage=Stage.IDENTIFIED), today=today)
    await add_measure(
        sessions, tree, Figures(plan={JAN: "900"}, stage=Stage.CANCELLED), today=today
    )

    board = await client.get("/api/dashboard", params={"organization_id": tree.organization_id})
    assert board.status_code == 200, board.text
    data = board.json()
    assert data["currency"] == "EUR"
    assert (data["total"]["measures"], data["total"]["plan"]) == (3, "400.0000")
    pipeline = {row["stage"]: (row["measures"], row["plan"]) for row in data["pipeline"]}
    assert pipeline["identified"] == (1, "0.0000")
    assert pipeline["decided"] == (1, "200.0000")  # USD 400 at 0.5
    assert pipeline["implemented"] == (1, "200.0000")
    assert pipeline["cancelled"] == (1, "900.0000")
    assert pipeline["closed"] == (0, "0")
    cells = {(c["delivery"], c["value"]): c["measures"] for c in data["matrix"]}
    assert cells[("green", "green")] == 1
    assert cells[("red", "red")] == 1
    assert cells[("green", "none")] == 1
    assert sum(cells.values()) == 3
    months = {m["period"]: (m["plan"], m["achieved"], m["verified"]) for m in data["months"]}
    assert months == {
        "2027-01-01": ("300.0000", "150.0000", "100.0000"),
        "2027-02-01": ("100.0000", "100.0000", "0.0000"),
    }

    narrowed = await client.get(
        "/api/dashboard",
        params={"organization_id": tree.organization_id, "program_id": tree.programs["B"]},
    )
    assert narrowed.json()["total"]["measures"] == 1
    by_entity = await client.get(
        "/api/dashboard",
        params={"organization_id": tree.organization_id, "legal_entity_id": tree.entities["EUR"]},
    )
    assert by_entity.json()["total"]["plan"] == "200.0000"
    unknown = await client.get("/api/dashboard", params={"organization_id": 999999})
    assert unknown.status_code == 404
    typo = await client.get("/api/dashboard", params={"portfolio": 1})
    assert typo.status_code == 422
