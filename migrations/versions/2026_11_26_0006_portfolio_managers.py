"""portfolio managers

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "portfolio_manager",
        sa.Column("portfolio_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_portfolio_manager_person_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["portfolio_id"],
            ["portfolio.id"],
            name=op.f("fk_portfolio_manager_portfolio_id_portfolio"),
        ),
        sa.PrimaryKeyConstraint("portfolio_id", "person_id", name=op.f("pk_portfolio_manager")),
    )


def downgrade() -> None:
    op.drop_table("portfolio_manager")
