"""signed links

One row per signed link sent in an email (only the token's SHA-256), and the outbox's list of
links to mint when an email is sent.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "signed_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("measure_id", sa.Integer(), nullable=False),
        sa.Column("gate_round", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("email_key", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoke_reason", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["measure_id"], ["measure.id"], name=op.f("fk_signed_link_measure_id_measure")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_signed_link_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signed_link")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_signed_link_token_hash")),
    )
    with op.batch_alter_table("signed_link", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_signed_link_measure_id"), ["measure_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_signed_link_email_key"), ["email_key"], unique=False)
    with op.batch_alter_table("outbox_email", schema=None) as batch_op:
        batch_op.add_column(sa.Column("links", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox_email", schema=None) as batch_op:
        batch_op.drop_column("links")
    with op.batch_alter_table("signed_link", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signed_link_email_key"))
        batch_op.drop_index(batch_op.f("ix_signed_link_measure_id"))
    op.drop_table("signed_link")
