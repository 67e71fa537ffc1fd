"""forecast confirmations: the day a measure's forecast was last confirmed or revised

From the Decided gate until closure owners confirm or revise their forecasts each month
(models.forecasts); the measure keeps the day, and its summary keeps it while the measure is in
a stage where forecasts are asked for, so portfolio views judge the value light from one row.
Measures already between Decided and closure count as confirmed on the day of the upgrade.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ASKED_IN = "('decided', 'implemented')"


def upgrade() -> None:
    op.add_column("measure", sa.Column("forecast_confirmed_on", sa.Date(), nullable=True))
    op.add_column("measure_summary", sa.Column("forecast_confirmed_on", sa.Date(), nullable=True))
    op.execute(f"UPDATE measure SET forecast_confirmed_on = CURRENT_DATE WHERE stage IN {ASKED_IN}")
    op.execute(
        f"UPDATE measure_summary SET forecast_confirmed_on = CURRENT_DATE WHERE stage IN {ASKED_IN}"
    )


def downgrade() -> None:
    # A plain DROP COLUMN (SQLite 3.35+): a batch copy of `measure` would trip the frozen-plan
    # triggers, which name it.
    for table in ("measure_summary", "measure"):
        op.execute(f"ALTER TABLE {table} DROP COLUMN forecast_confirmed_on")
