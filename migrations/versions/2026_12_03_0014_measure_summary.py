"""measure summaries and package month totals: one row per measure, one per package and month

Portfolio views read each measure from one narrow row (stage, place, EBITDA figures, value
light, first open milestone), and the dashboard's month series from one row per package
(business unit, legal entity) and month; the app keeps both with every change of figures,
milestones, stage or place (services.totals). Filled here from what is already there.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FILL_SUMMARIES = """
INSERT INTO measure_summary (measure_id, stage, package_id, business_unit_id, legal_entity_id,
                             plan, achieved, verified, value, first_open, counted)
SELECT m.id, m.stage, m.package_id, m.business_unit_id, m.legal_entity_id,
       COALESCE(t.plan, 0), COALESCE(t.achieved, 0), COALESCE(t.verified, 0),
       CASE WHEN COALESCE(t.plan, 0) <= 0 THEN 'none'
            WHEN COALESCE(t.achieved, 0) * 20 >= t.plan * 19 THEN 'green'
            WHEN COALESCE(t.achieved, 0) * 5 >= t.plan * 4 THEN 'amber'
            ELSE 'red' END,
       o.first_open, m.stage <> 'cancelled'
FROM measure m
LEFT JOIN (SELECT measure_id, SUM(plan) AS plan, SUM(achieved) AS achieved,
                  SUM(verified) AS verified
           FROM measure_total WHERE category <> 'capex' GROUP BY measure_id) t
       ON t.measure_id = m.id
LEFT JOIN (SELECT measure_id, MIN(planned_date) AS first_open FROM milestone
           WHERE done_date IS NULL AND waived_reason IS NULL GROUP BY measure_id) o
       ON o.measure_id = m.id
"""

FILL_PACKAGES = """
INSERT INTO package_month_total (package_id, business_unit_id, legal_entity_id, period, plan,
                                 achieved, verified)
SELECT s.package_id, COALESCE(s.business_unit_id, 0), COALESCE(s.legal_entity_id, 0), t.period,
       SUM(t.plan), SUM(t.achieved), SUM(t.verified)
FROM measure_summary s JOIN measure_month_total t ON t.measure_id = s.measure_id
WHERE s.counted AND t.category <> 'capex'
GROUP BY s.package_id, COALESCE(s.business_unit_id, 0), COALESCE(s.legal_entity_id, 0),
         t.period
HAVING SUM(t.plan) <> 0 OR SUM(t.achieved) <> 0 OR SUM(t.verified) <> 0
"""


def _amounts() -> list[sa.Column[int]]:
    names = ("plan", "achieved", "verified")
    return [sa.Column(name, sa.BigInteger(), nullable=False) for name in names]


def upgrade() -> None:
    op.create_table(
        "measure_summary",
        sa.Column("measure_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("package_id", sa.Integer(), nullable=False),
        sa.Column("business_unit_id", sa.Integer(), nullable=True),
        sa.Column("legal_entity_id", sa.Integer(), nullable=True),
        *_amounts(),
        sa.Column("value", sa.String(length=20), nullable=False),
        sa.Column("first_open", sa.Date(), nullable=True),
        sa.Column("counted", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["measure_id"],
            ["measure.id"],
            name=op.f("fk_measure_summary_measure_id_measure"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("measure_id", name=op.f("pk_measure_summary")),
    )
    op.create_index(
        op.f("ix_measure_summary_package_id"), "measure_summary", ["package_id"], unique=False
    )
    op.create_table(
        "package_month_total",
        sa.Column("package_id", sa.Integer(), nullable=False),
        sa.Column("business_unit_id", sa.Integer(), nullable=False),
        sa.Column("legal_entity_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        *_amounts(),
        sa.PrimaryKeyConstraint(
            "package_id",
            "business_unit_id",
            "legal_entity_id",
            "period",
            name=op.f("pk_package_month_total"),
        ),
    )
    op.execute(FILL_SUMMARIES)
    op.execute(FILL_PACKAGES)


def downgrade() -> None:
    op.drop_table("package_month_total")
    op.drop_index(op.f("ix_measure_summary_package_id"), table_name="measure_summary")
    op.drop_table("measure_summary")
