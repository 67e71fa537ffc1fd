"""Activities that send email through the outbox."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity

from activities.names import SEND_ASSIGNMENT_EMAIL
from models.measure import Measure
from models.people import Person
from models.stages import next_stage
from notifications.mailer import SmtpConfig
from notifications.render import render_email
from services import outbox
from workflows.contracts import MeasureRef


class NotifyActivities:
    """Email activities; holds the database sessions and the SMTP configuration."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        smtp: SmtpConfig,
        sender: str,
        public_url: str,
    ) -> None:
        self._sessions = sessions
        self._smtp = smtp
        self._sender = sender
        self._public_url = public_url.rstrip("/")

    @activity.defn(name=SEND_ASSIGNMENT_EMAIL)
    async def send_assignment_email(self, ref: MeasureRef) -> bool:
        """Tell the owner the measure is theirs; False when there is no owner or it was sent."""
        async with self._sessions() as session:
            measure = await session.get(Measure, ref.measure_id)
            owner = (
                await session.get(Person, measure.owner_id)
                if measure and measure.owner_id
                else None
            )
        if measure is None or owner is None:
            return False
        upcoming = next_stage(measure.stage)
        email = render_email(
            "measure_assigned",
            measure_id=ref.measure_id,
            title=measure.title,
            owner_name=owner.name,
            stage=measure.stage.label,
            next_stage=upcoming.label if upcoming else None,
            measure_url=f"{self._public_url}/measures/{ref.measure_id}",
        )
        row = await outbox.enqueue(
            self._sessions,
            business_key=f"measure-{ref.measure_id}/assigned/owner/{owner.id}",
            measure_id=ref.measure_id,
            recipient=owner.email,
            email=email,
            sender=self._sender,
        )
        return await outbox.deliver(self._sessions, row=row, smtp=self._smtp, sender=self._sender)
