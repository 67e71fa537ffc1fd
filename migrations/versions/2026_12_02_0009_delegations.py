"""delegations, and decisions taken on behalf of another person

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "delegation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("deputy_id", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_delegation_person_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["deputy_id"], ["person.id"], name=op.f("fk_delegation_deputy_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["person.id"], name=op.f("fk_delegation_created_by_person")
        ),
        sa.ForeignKeyConstraint(
            ["revoked_by"], ["person.id"], name=op.f("fk_delegation_revoked_by_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delegation")),
    )
    op.create_index(op.f("ix_delegation_person_id"), "delegation", ["person_id"])
    op.create_index(op.f("ix_delegation_deputy_id"), "delegation", ["deputy_id"])
    with op.batch_alter_table("gate_decision") as batch:
        batch.add_column(sa.Column("on_behalf_of", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_gate_decision_on_behalf_of_person"), "person", ["on_behalf_of"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("gate_decision") as batch:
        batch.drop_constraint(op.f("fk_gate_decision_on_behalf_of_person"), type_="foreignkey")
        batch.drop_column("on_behalf_of")
    op.drop_index(op.f("ix_delegation_deputy_id"), table_name="delegation")
    op.drop_index(op.f("ix_delegation_person_id"), table_name="delegation")
    op.drop_table("delegation")
