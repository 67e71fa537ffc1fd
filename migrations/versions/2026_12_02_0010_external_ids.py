"""external ids of measures and impact lines, for imports

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("measure", sa.Column("external_id", sa.String(length=80), nullable=True))
    op.create_index(op.f("ix_measure_external_id"), "measure", ["external_id"])
    op.add_column("impact_line", sa.Column("external_id", sa.String(length=80), nullable=True))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+ and PostgreSQL): a batch copy of the tables would trip
    # the monthly_value triggers that name them.
    op.drop_index(op.f("ix_measure_external_id"), table_name="measure")
    op.execute("ALTER TABLE impact_line DROP COLUMN external_id")
    op.execute("ALTER TABLE measure DROP COLUMN external_id")
