"""Activities that read a measure for the lifecycle and write its facts."""

from __future__ import annotations

from sqlalchemy.exc import DataError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import names
from activities.names import FACTS_REFUSED
from models.criteria import MeasureSnapshot
from models.policy import GatePolicy
from models.text import has_nul
from services import delegations, facts, policies, snapshot
from workflows.contracts import (
    DeputyFor,
    DeputyQuery,
    FactBatch,
    FactsRecorded,
    MeasureRef,
    PortfolioRef,
)


class LifecycleActivities:
    """Database work of the lifecycle; holds the session factory."""

    def __init__(self, *, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name=names.LOAD_SNAPSHOT)
    async def load_snapshot(self, ref: MeasureRef) -> MeasureSnapshot:
        """The measure's data as the gate criteria see it."""
        async with self._sessions() as session:
            return await snapshot.load(session, measure_id=ref.measure_id)

    @activity.defn(name=names.LOAD_POLICY)
    async def load_policy(self, ref: PortfolioRef) -> GatePolicy:
        """The portfolio's current gate policy."""
        async with self._sessions() as session:
            return await policies.current(session, portfolio_id=ref.portfolio_id)

    @activity.defn(name=names.FIND_DEPUTY)
    async def find_deputy(self, query: DeputyQuery) -> DeputyFor:
        """The approver, among `principals`, for whom the person deputises that day."""
        async with self._sessions() as session:
            principal = await delegations.acting_for(
                session, deputy_id=query.deputy_id, principals=query.principals, day=query.day
            )
        return DeputyFor(principal=principal)

    @activity.defn(name=names.RECORD_FACTS)
    async def record_facts(self, batch: FactBatch) -> FactsRecorded:
        """Write the facts not written before, each with its audit event, in one transaction.

        Facts the database can never hold end the action with FACTS_REFUSED instead of being
        retried for ever while the measure's lifecycle waits for them."""
        if has_nul(batch.model_dump()):
            raise ApplicationError(
                "text may not contain the NUL character", type=FACTS_REFUSED, non_retryable=True
            )
        try:
            return await facts.record(self._sessions, batch)
        except DataError as error:
            raise ApplicationError(
                f"the database cannot hold these facts ({type(error.orig).__name__})",
                type=FACTS_REFUSED,
                non_retryable=True,
            ) from error
