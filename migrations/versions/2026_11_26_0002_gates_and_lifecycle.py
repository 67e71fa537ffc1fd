"""gates and lifecycle

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "gate_policy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("portfolio_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["portfolio_id"], ["portfolio.id"], name=op.f("fk_gate_policy_portfolio_id_portfolio")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gate_policy")),
        sa.UniqueConstraint("portfolio_id", "version", name=op.f("uq_gate_policy_portfolio_id")),
    )
    with op.batch_alter_table("gate_policy", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_gate_policy_portfolio_id"), ["portfolio_id"], unique=False
        )

    op.create_table(
        "steering_member",
        sa.Column("portfolio_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_steering_member_person_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["portfolio_id"],
            ["portfolio.id"],
            name=op.f("fk_steering_member_portfolio_id_portfolio"),
        ),
        sa.PrimaryKeyConstraint("portfolio_id", "person_id", name=op.f("pk_steering_member")),
    )
    op.create_table(
        "gate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("measure_id", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=20), nullable=False),
        sa.Column("submitted_by", sa.Integer(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("required", sa.JSON(), nullable=False),
        sa.Column("criteria_checked", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("close_reason", sa.String(length=2000), nullable=True),
        sa.ForeignKeyConstraint(
            ["measure_id"], ["measure.id"], name=op.f("fk_gate_measure_id_measure")
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by"], ["person.id"], name=op.f("fk_gate_submitted_by_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gate")),
        sa.UniqueConstraint("measure_id", "round", name=op.f("uq_gate_measure_id")),
    )
    with op.batch_alter_table("gate", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gate_measure_id"), ["measure_id"], unique=False)

    op.create_table(
        "lifecycle_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("measure_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["measure_id"], ["measure.id"], name=op.f("fk_lifecycle_event_measure_id_measure")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lifecycle_event")),
        sa.UniqueConstraint("measure_id", "key", name=op.f("uq_lifecycle_event_measure_id")),
    )
    with op.batch_alter_table("lifecycle_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_lifecycle_event_measure_id"), ["measure_id"], unique=False
        )

    op.create_table(
        "gate_decision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("gate_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("approve", sa.Boolean(), nullable=False),
        sa.Column("comment", sa.String(length=2000), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["gate_id"], ["gate.id"], name=op.f("fk_gate_decision_gate_id_gate")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_gate_decision_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gate_decision")),
        sa.UniqueConstraint("gate_id", "role", name=op.f("uq_gate_decision_gate_id")),
    )
    with op.batch_alter_table("gate_decision", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gate_decision_gate_id"), ["gate_id"], unique=False)

    with op.batch_alter_table("measure", schema=None) as batch_op:
        batch_op.add_column(sa.Column("baseline_amount", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("baseline_period", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("baseline_source", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("hold_reason", sa.String(length=2000), nullable=True))
        batch_op.add_column(sa.Column("hold_review_date", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("cancel_reason", sa.String(length=2000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("measure", schema=None) as batch_op:
        batch_op.drop_column("cancel_reason")
        batch_op.drop_column("hold_review_date")
        batch_op.drop_column("hold_reason")
        batch_op.drop_column("baseline_source")
        batch_op.drop_column("baseline_period")
        batch_op.drop_column("baseline_amount")

    with op.batch_alter_table("gate_decision", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gate_decision_gate_id"))

    op.drop_table("gate_decision")
    with op.batch_alter_table("lifecycle_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lifecycle_event_measure_id"))

    op.drop_table("lifecycle_event")
    with op.batch_alter_table("gate", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gate_measure_id"))

    op.drop_table("gate")
    op.drop_table("steering_member")
    with op.batch_alter_table("gate_policy", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gate_policy_portfolio_id"))

    op.drop_table("gate_policy")
