"""frozen plan and immutable verified figures

Passing the Decided gate freezes the plan (baseline version 1): from then on no plan value of the
measure can be inserted, changed or deleted. Verified figures are written once, at closure, and
never changed. Both rules live in the database, so no channel can get around them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PLAN_FROZEN = "plan figures are frozen since the Decided gate (baseline version 1)"
VERIFIED_FINAL = "verified figures are final once written"
CLOSED = "the measure is closed: its verified figures are final"

FROZEN_FOR = """(SELECT m.plan_frozen_at FROM measure m JOIN impact_line l ON l.measure_id = m.id
                 WHERE l.id = {row}.impact_line_id) IS NOT NULL"""
STAGE_OF = """(SELECT m.stage FROM measure m JOIN impact_line l ON l.measure_id = m.id
               WHERE l.id = {row}.impact_line_id)"""

SQLITE_TRIGGERS = {
    "plan_frozen_insert": f"""BEFORE INSERT ON monthly_value
        WHEN NEW.scenario = 'plan' AND {FROZEN_FOR.format(row="NEW")}
        BEGIN SELECT RAISE(ABORT, '{PLAN_FROZEN}'); END""",
    "plan_frozen_update": f"""BEFORE UPDATE ON monthly_value
        WHEN (OLD.scenario = 'plan' AND {FROZEN_FOR.format(row="OLD")})
          OR (NEW.scenario = 'plan' AND {FROZEN_FOR.format(row="NEW")})
        BEGIN SELECT RAISE(ABORT, '{PLAN_FROZEN}'); END""",
    "plan_frozen_delete": f"""BEFORE DELETE ON monthly_value
        WHEN OLD.scenario = 'plan' AND {FROZEN_FOR.format(row="OLD")}
        BEGIN SELECT RAISE(ABORT, '{PLAN_FROZEN}'); END""",
    "verified_final_update": f"""BEFORE UPDATE ON monthly_value
        WHEN OLD.scenario = 'verified' OR NEW.scenario = 'verified'
        BEGIN SELECT RAISE(ABORT, '{VERIFIED_FINAL}'); END""",
    "verified_final_delete": f"""BEFORE DELETE ON monthly_value
        WHEN OLD.scenario = 'verified'
        BEGIN SELECT RAISE(ABORT, '{VERIFIED_FINAL}'); END""",
    "verified_closed_insert": f"""BEFORE INSERT ON monthly_value
        WHEN NEW.scenario = 'verified' AND {STAGE_OF.format(row="NEW")} = 'closed'
        BEGIN SELECT RAISE(ABORT, '{CLOSED}'); END""",
}

POSTGRES_FUNCTION = f"""
CREATE FUNCTION monthly_value_guard() RETURNS trigger AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    IF OLD.scenario = 'verified' THEN RAISE EXCEPTION '{VERIFIED_FINAL}'; END IF;
    IF OLD.scenario = 'plan' AND {FROZEN_FOR.format(row="OLD")} THEN
      RAISE EXCEPTION '{PLAN_FROZEN}';
    END IF;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    IF TG_OP = 'UPDATE' AND NEW.scenario = 'verified' THEN RAISE EXCEPTION '{VERIFIED_FINAL}'; END IF;
    IF NEW.scenario = 'plan' AND {FROZEN_FOR.format(row="NEW")} THEN
      RAISE EXCEPTION '{PLAN_FROZEN}';
    END IF;
    IF NEW.scenario = 'verified' AND {STAGE_OF.format(row="NEW")} = 'closed' THEN
      RAISE EXCEPTION '{CLOSED}';
    END IF;
    RETURN NEW;
  END IF;
  RETURN OLD;
END;
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    with op.batch_alter_table("measure") as batch_op:
        batch_op.add_column(sa.Column("plan_frozen_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("plan_version", sa.Integer(), nullable=False, server_default="0")
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_FUNCTION)
        op.execute(
            "CREATE TRIGGER monthly_value_guard BEFORE INSERT OR UPDATE OR DELETE ON monthly_value "
            "FOR EACH ROW EXECUTE FUNCTION monthly_value_guard()"
        )
    else:
        for name, body in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER monthly_value_{name} {body}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER monthly_value_guard ON monthly_value")
        op.execute("DROP FUNCTION monthly_value_guard()")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER monthly_value_{name}")
    with op.batch_alter_table("measure") as batch_op:
        batch_op.drop_column("plan_version")
        batch_op.drop_column("plan_frozen_at")
