"""Search attributes that let an admin filter measures in the Temporal UI (ids and codes only)."""

from __future__ import annotations

from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
)

from workflows.contracts import MeasureFacts

MEASURE_STAGE = SearchAttributeKey.for_keyword("MeasureStage")
PORTFOLIO_ID = SearchAttributeKey.for_int("PortfolioId")
LEGAL_ENTITY_ID = SearchAttributeKey.for_int("LegalEntityId")
BUSINESS_UNIT_ID = SearchAttributeKey.for_int("BusinessUnitId")
IMPLEMENTATION_STATUS = SearchAttributeKey.for_keyword("ImplementationStatus")
POTENTIAL_STATUS = SearchAttributeKey.for_keyword("PotentialStatus")
PENDING_APPROVER_ROLES = SearchAttributeKey.for_keyword_list("PendingApproverRoles")

ALL_KEYS: tuple[SearchAttributeKey, ...] = (
    MEASURE_STAGE,
    PORTFOLIO_ID,
    LEGAL_ENTITY_ID,
    BUSINESS_UNIT_ID,
    IMPLEMENTATION_STATUS,
    POTENTIAL_STATUS,
    PENDING_APPROVER_ROLES,
)


def for_measure(facts: MeasureFacts) -> TypedSearchAttributes:
    """The search attributes describing `facts`."""
    pairs: list[SearchAttributePair] = [
        SearchAttributePair(MEASURE_STAGE, facts.stage.value),
        SearchAttributePair(PORTFOLIO_ID, facts.portfolio_id),
        SearchAttributePair(IMPLEMENTATION_STATUS, facts.implementation_status.value),
        SearchAttributePair(POTENTIAL_STATUS, facts.potential_status.value),
    ]
    if facts.legal_entity_id is not None:
        pairs.append(SearchAttributePair(LEGAL_ENTITY_ID, facts.legal_entity_id))
    if facts.business_unit_id is not None:
        pairs.append(SearchAttributePair(BUSINESS_UNIT_ID, facts.business_unit_id))
    return TypedSearchAttributes(pairs)
