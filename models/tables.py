"""Every table, imported once so the metadata is complete (migrations, tests)."""

from models.accounts import ApiToken, PortfolioManager, WebSession
from models.audit import AuditEvent, AuditHead
from models.base import metadata
from models.delegation import Delegation
from models.figures import ImpactLine, Milestone, MonthlyValue
from models.fx import FxRate
from models.gates import (
    Gate,
    GateDecisionRecord,
    GatePolicyVersion,
    LifecycleEvent,
    SteeringMember,
)
from models.idempotency import IdempotencyKey
from models.import_job import ImportFile, ImportJob
from models.links import SignedLink
from models.measure import Measure
from models.organization import (
    BusinessUnit,
    LegalEntity,
    MeasurePackage,
    Organization,
    Portfolio,
    Program,
    Project,
)
from models.outbox import OutboxEmail
from models.people import Person
from models.totals import MeasureMonthTotal, MeasureTotal

__all__ = [
    "ApiToken",
    "AuditEvent",
    "AuditHead",
    "BusinessUnit",
    "Delegation",
    "FxRate",
    "Gate",
    "GateDecisionRecord",
    "GatePolicyVersion",
    "IdempotencyKey",
    "ImpactLine",
    "ImportFile",
    "ImportJob",
    "LegalEntity",
    "LifecycleEvent",
    "Measure",
    "MeasureMonthTotal",
    "MeasurePackage",
    "MeasureTotal",
    "Milestone",
    "MonthlyValue",
    "Organization",
    "OutboxEmail",
    "Person",
    "Portfolio",
    "PortfolioManager",
    "Program",
    "Project",
    "SignedLink",
    "SteeringMember",
    "WebSession",
    "metadata",
]
