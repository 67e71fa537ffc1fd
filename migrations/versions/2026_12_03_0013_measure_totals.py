"""measure totals: each measure's figures added up per category, and per category and month

Portfolio views read these instead of adding up every monthly value; the app rewrites a
measure's rows with each change of its figures (services.totals). Filled here from the monthly
values already there.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AMOUNTS = ("plan", "forecast", "actual", "verified", "achieved")

# Per line and month: the sum of each scenario, and whether an actual is entered (then it is
# what was achieved that month, else the forecast); then added up per measure, category, month.
FILL_MONTHS = """
INSERT INTO measure_month_total
  (measure_id, category, period, plan, forecast, actual, verified, achieved)
SELECT measure_id, category, period, SUM(plan), SUM(forecast), SUM(actual), SUM(verified),
       SUM(CASE WHEN actuals > 0 THEN actual ELSE forecast END)
FROM (
  SELECT l.measure_id, l.category, v.period,
         COALESCE(SUM(CASE WHEN v.scenario = 'plan' THEN v.amount END), 0) AS plan,
         COALESCE(SUM(CASE WHEN v.scenario = 'forecast' THEN v.amount END), 0) AS forecast,
         COALESCE(SUM(CASE WHEN v.scenario = 'actual' THEN v.amount END), 0) AS actual,
         COALESCE(SUM(CASE WHEN v.scenario = 'verified' THEN v.amount END), 0) AS verified,
         COUNT(CASE WHEN v.scenario = 'actual' THEN 1 END) AS actuals
  FROM monthly_value v JOIN impact_line l ON l.id = v.impact_line_id
  GROUP BY l.measure_id, l.category, v.impact_line_id, v.period
) line_month
GROUP BY measure_id, category, period
"""

FILL_TOTALS = """
INSERT INTO measure_total (measure_id, category, plan, forecast, actual, verified, achieved)
SELECT measure_id, category, SUM(plan), SUM(forecast), SUM(actual), SUM(verified), SUM(achieved)
FROM measure_month_total GROUP BY measure_id, category
"""


def _amounts() -> list[sa.Column[int]]:
    return [sa.Column(name, sa.BigInteger(), nullable=False) for name in AMOUNTS]


def upgrade() -> None:
    op.create_table(
        "measure_total",
        sa.Column("measure_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        *_amounts(),
        sa.ForeignKeyConstraint(
            ["measure_id"],
            ["measure.id"],
            name=op.f("fk_measure_total_measure_id_measure"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("measure_id", "category", name=op.f("pk_measure_total")),
    )
    op.create_table(
        "measure_month_total",
        sa.Column("measure_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        *_amounts(),
        sa.ForeignKeyConstraint(
            ["measure_id"],
            ["measure.id"],
            name=op.f("fk_measure_month_total_measure_id_measure"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "measure_id", "category", "period", name=op.f("pk_measure_month_total")
        ),
    )
    op.execute(FILL_MONTHS)
    op.execute(FILL_TOTALS)


def downgrade() -> None:
    op.drop_table("measure_month_total")
    op.drop_table("measure_total")
