"""PostgreSQL: new monthly values are checked once per statement, not once per row

The rules stay those of revision 0003 (no plan value of a measure whose plan is frozen, no
verified value of a closed measure); an insert of many rows (an import's half a million) runs
one set-based check over the rows it added instead of a function call and a lookup per row.
Changes and deletions keep their check per row. SQLite keeps its triggers as they are.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PLAN_FROZEN = "plan figures are frozen since the Decided gate (baseline version 1)"
CLOSED = "the measure is closed: its verified figures are final"

INSERT_GUARD = f"""
CREATE FUNCTION monthly_value_insert_guard() RETURNS trigger AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM added a JOIN impact_line l ON l.id = a.impact_line_id
             JOIN measure m ON m.id = l.measure_id
             WHERE a.scenario = 'plan' AND m.plan_frozen_at IS NOT NULL) THEN
    RAISE EXCEPTION '{PLAN_FROZEN}';
  END IF;
  IF EXISTS (SELECT 1 FROM added a JOIN impact_line l ON l.id = a.impact_line_id
             JOIN measure m ON m.id = l.measure_id
             WHERE a.scenario = 'verified' AND m.stage = 'closed') THEN
    RAISE EXCEPTION '{CLOSED}';
  END IF;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER monthly_value_guard ON monthly_value")
    op.execute(
        "CREATE TRIGGER monthly_value_guard BEFORE UPDATE OR DELETE ON monthly_value "
        "FOR EACH ROW EXECUTE FUNCTION monthly_value_guard()"
    )
    op.execute(INSERT_GUARD)
    op.execute(
        "CREATE TRIGGER monthly_value_insert_guard AFTER INSERT ON monthly_value "
        "REFERENCING NEW TABLE AS added FOR EACH STATEMENT "
        "EXECUTE FUNCTION monthly_value_insert_guard()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER monthly_value_insert_guard ON monthly_value")
    op.execute("DROP FUNCTION monthly_value_insert_guard()")
    op.execute("DROP TRIGGER monthly_value_guard ON monthly_value")
    op.execute(
        "CREATE TRIGGER monthly_value_guard BEFORE INSERT OR UPDATE OR DELETE ON monthly_value "
        "FOR EACH ROW EXECUTE FUNCTION monthly_value_guard()"
    )
