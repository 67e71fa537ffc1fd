"""exchange rates into the group currency

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fx_rate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("rate", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_fx_rate_organization_id_organization"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fx_rate")),
        sa.UniqueConstraint("organization_id", "currency", name=op.f("uq_fx_rate_organization_id")),
    )
    op.create_index(
        op.f("ix_fx_rate_organization_id"), "fx_rate", ["organization_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_fx_rate_organization_id"), table_name="fx_rate")
    op.drop_table("fx_rate")
