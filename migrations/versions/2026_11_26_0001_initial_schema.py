"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("entity_type", sa.String(length=40), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("reason", sa.String(length=2000), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_event_entity_id"), ["entity_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_audit_event_entity_type"), ["entity_type"], unique=False
        )

    audit_head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_event_id", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    # The chain starts empty: the head names no event and the genesis hash.
    op.bulk_insert(audit_head, [{"id": 1, "last_event_id": 0, "last_hash": "0" * 64}])
    op.create_table(
        "organization",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("group_currency", sa.String(length=3), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organization")),
    )
    op.create_table(
        "person",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person")),
        sa.UniqueConstraint("email", name=op.f("uq_person_email")),
    )
    op.create_table(
        "business_unit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_business_unit_organization_id_organization"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_business_unit")),
        sa.UniqueConstraint(
            "organization_id", "code", name=op.f("uq_business_unit_organization_id")
        ),
    )
    op.create_table(
        "legal_entity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_legal_entity_organization_id_organization"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_entity")),
        sa.UniqueConstraint(
            "organization_id", "code", name=op.f("uq_legal_entity_organization_id")
        ),
    )
    op.create_table(
        "portfolio",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("steering_threshold", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_portfolio_organization_id_organization"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portfolio")),
    )
    with op.batch_alter_table("portfolio", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_portfolio_organization_id"), ["organization_id"], unique=False
        )

    op.create_table(
        "program",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("portfolio_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["portfolio_id"], ["portfolio.id"], name=op.f("fk_program_portfolio_id_portfolio")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_program")),
    )
    with op.batch_alter_table("program", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_program_portfolio_id"), ["portfolio_id"], unique=False)

    op.create_table(
        "project",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["program_id"], ["program.id"], name=op.f("fk_project_program_id_program")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_project")),
    )
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_project_program_id"), ["program_id"], unique=False)

    op.create_table(
        "measure_package",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["project.id"], name=op.f("fk_measure_package_project_id_project")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_measure_package")),
    )
    with op.batch_alter_table("measure_package", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_measure_package_project_id"), ["project_id"], unique=False
        )

    op.create_table(
        "measure",
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=5000), nullable=False),
        sa.Column("package_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("sponsor_id", sa.Integer(), nullable=True),
        sa.Column("controller_id", sa.Integer(), nullable=True),
        sa.Column("business_unit_id", sa.Integer(), nullable=True),
        sa.Column("legal_entity_id", sa.Integer(), nullable=True),
        sa.Column("plan_start", sa.Date(), nullable=True),
        sa.Column("horizon_months", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_unit_id"],
            ["business_unit.id"],
            name=op.f("fk_measure_business_unit_id_business_unit"),
        ),
        sa.ForeignKeyConstraint(
            ["controller_id"], ["person.id"], name=op.f("fk_measure_controller_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["legal_entity_id"],
            ["legal_entity.id"],
            name=op.f("fk_measure_legal_entity_id_legal_entity"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["person.id"], name=op.f("fk_measure_owner_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["package_id"],
            ["measure_package.id"],
            name=op.f("fk_measure_package_id_measure_package"),
        ),
        sa.ForeignKeyConstraint(
            ["sponsor_id"], ["person.id"], name=op.f("fk_measure_sponsor_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_measure")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("measure", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_measure_package_id"), ["package_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_measure_stage"), ["stage"], unique=False)

    op.create_table(
        "impact_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("measure_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("annual_potential", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["measure_id"], ["measure.id"], name=op.f("fk_impact_line_measure_id_measure")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_impact_line")),
    )
    with op.batch_alter_table("impact_line", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_impact_line_measure_id"), ["measure_id"], unique=False)

    op.create_table(
        "milestone",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("measure_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("planned_date", sa.Date(), nullable=False),
        sa.Column("done_date", sa.Date(), nullable=True),
        sa.Column("waived_reason", sa.String(length=1000), nullable=True),
        sa.ForeignKeyConstraint(
            ["measure_id"], ["measure.id"], name=op.f("fk_milestone_measure_id_measure")
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["person.id"], name=op.f("fk_milestone_owner_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_milestone")),
    )
    with op.batch_alter_table("milestone", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_milestone_measure_id"), ["measure_id"], unique=False)

    op.create_table(
        "outbox_email",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_key", sa.String(length=300), nullable=False),
        sa.Column("measure_id", sa.Integer(), nullable=True),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("text_body", sa.Text(), nullable=False),
        sa.Column("html_body", sa.Text(), nullable=False),
        sa.Column("message_id", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=1000), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["measure_id"], ["measure.id"], name=op.f("fk_outbox_email_measure_id_measure")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_email")),
        sa.UniqueConstraint("business_key", name=op.f("uq_outbox_email_business_key")),
    )
    with op.batch_alter_table("outbox_email", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outbox_email_measure_id"), ["measure_id"], unique=False
        )

    op.create_table(
        "monthly_value",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("impact_line_id", sa.Integer(), nullable=False),
        sa.Column("scenario", sa.String(length=10), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["impact_line_id"],
            ["impact_line.id"],
            name=op.f("fk_monthly_value_impact_line_id_impact_line"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monthly_value")),
        sa.UniqueConstraint(
            "impact_line_id", "scenario", "period", name=op.f("uq_monthly_value_impact_line_id")
        ),
    )
    with op.batch_alter_table("monthly_value", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_monthly_value_impact_line_id"), ["impact_line_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("monthly_value", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_monthly_value_impact_line_id"))

    op.drop_table("monthly_value")
    with op.batch_alter_table("outbox_email", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_email_measure_id"))

    op.drop_table("outbox_email")
    with op.batch_alter_table("milestone", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_milestone_measure_id"))

    op.drop_table("milestone")
    with op.batch_alter_table("impact_line", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_impact_line_measure_id"))

    op.drop_table("impact_line")
    with op.batch_alter_table("measure", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_measure_stage"))
        batch_op.drop_index(batch_op.f("ix_measure_package_id"))

    op.drop_table("measure")
    with op.batch_alter_table("measure_package", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_measure_package_project_id"))

    op.drop_table("measure_package")
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_project_program_id"))

    op.drop_table("project")
    with op.batch_alter_table("program", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_program_portfolio_id"))

    op.drop_table("program")
    with op.batch_alter_table("portfolio", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_portfolio_organization_id"))

    op.drop_table("portfolio")
    op.drop_table("legal_entity")
    op.drop_table("business_unit")
    op.drop_table("person")
    op.drop_table("organization")
    op.drop_table("audit_head")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_event_entity_type"))
        batch_op.drop_index(batch_op.f("ix_audit_event_entity_id"))

    op.drop_table("audit_event")
