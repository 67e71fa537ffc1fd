"""The monthly forecast review's activity: ask each owner, in one email, to confirm or revise the
forecasts of their measures between Decided and closure, and tell the measures whose forecast
went unconfirmed (their workflows read their status again)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity

from activities.names import REVIEW_FORECASTS
from models import forecasts as rule
from models.people import Person
from notifications.render import RenderedEmail, render_email
from services import forecasts, lifecycle, outbox
from services.db import transaction
from workflows.contracts import ForecastReview, ForecastReviewOutcome

SIGNALS_AT_ONCE = 50


class ForecastActivities:
    """Holds the database sessions and how emails are delivered."""

    def __init__(
        self, *, sessions: async_sessionmaker[AsyncSession], delivery: outbox.Delivery
    ) -> None:
        self._sessions = sessions
        self._delivery = delivery
        self._public_url = delivery.public_url.rstrip("/")

    @activity.defn(name=REVIEW_FORECASTS)
    async def review_forecasts(self, review: ForecastReview) -> ForecastReviewOutcome:
        """Each owner's email goes in the outbox under a key of the month and the owner, so a
        retried review sends nobody a second one."""
        day = review.day or datetime.now(UTC).date()
        async with self._sessions() as session:
            owners = await forecasts.to_review(session, day=day)
            unconfirmed = await forecasts.unconfirmed(session, today=day)
        asked = 0
        for owner, measures in owners:
            async with transaction(self._sessions) as session:
                outgoing = await outbox.enqueue(
                    session,
                    delivery=self._delivery,
                    business_key=f"forecast-review/{day:%Y-%m}/owner/{owner.id}",
                    measure_id=None,
                    recipient=owner.email,
                    email=self._render(owner, measures, day),
                )
            await outbox.deliver(self._sessions, outgoing=outgoing, delivery=self._delivery)
            asked += len(measures)
            activity.heartbeat()
        client = activity.client()
        for start in range(0, len(unconfirmed), SIGNALS_AT_ONCE):
            chunk = unconfirmed[start : start + SIGNALS_AT_ONCE]
            await asyncio.gather(*(lifecycle.figures_changed(client, m) for m in chunk))
            activity.heartbeat()
        return ForecastReviewOutcome(
            owners=len(owners), measures=asked, unconfirmed=len(unconfirmed)
        )

    def _render(self, owner: Person, measures: list[forecasts.Asked], day: date) -> RenderedEmail:
        return render_email(
            "forecast_review",
            name=owner.name,
            month=f"{day:%B %Y}",
            measures=[
                {
                    "ref": m.ref,
                    "title": m.title,
                    "confirmed": f"{m.confirmed_on:%d %b %Y}",
                    "due": f"{rule.due_by(m.confirmed_on):%d %b %Y}",
                    "overdue": rule.unconfirmed(m.confirmed_on, today=day),
                    "url": f"{self._public_url}/measures/{m.measure_id}#forecast",
                }
                for m in measures
            ],
        )
