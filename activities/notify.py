"""Activities that send email through the outbox."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity

from activities.names import NOTIFY, SEND_ASSIGNMENT_EMAIL
from models.measure import Measure
from models.people import Person
from models.stages import next_stage
from notifications.mailer import SmtpConfig
from notifications.notices import notice_text
from notifications.render import RenderedEmail, render_email
from services import outbox, snapshot
from workflows.contracts import MeasureRef, Notice


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
            measure_url=self._measure_url(ref.measure_id),
        )
        key = f"measure-{ref.measure_id}/assigned/owner/{owner.id}"
        return await self._send(key, ref.measure_id, owner, email)

    @activity.defn(name=NOTIFY)
    async def send_lifecycle_notice(self, notice: Notice) -> int:
        """Email everyone in the notice's recipient role; returns how many emails went out now."""
        async with self._sessions() as session:
            title, people = await snapshot.people_in(
                session, measure_id=notice.measure_id, role=notice.recipient
            )
        step = notice.step
        text = notice_text(
            kind=notice.kind.value,
            measure_ref=f"M-{notice.measure_id}",
            title=title,
            gate=notice.gate_target.label if notice.gate_target else None,
            approve=notice.approve,
            comment=notice.comment,
            step_kind=step.kind.value if step else None,
            waiting_for=step.waiting_for.value if step and step.waiting_for else None,
            since=step.since if step else None,
        )
        sent = 0
        for person in people:
            email = render_email(
                "lifecycle_notice",
                name=person.name,
                subject=text.subject,
                headline=text.headline,
                lines=text.lines,
                measure_url=self._measure_url(notice.measure_id),
            )
            sent += await self._send(f"{notice.key}/{person.id}", notice.measure_id, person, email)
        return sent

    def _measure_url(self, measure_id: int) -> str:
        return f"{self._public_url}/measures/{measure_id}"

    async def _send(self, key: str, measure_id: int, person: Person, email: RenderedEmail) -> bool:
        """Put the email in the outbox under `key` and deliver it, unless it went out before."""
        row = await outbox.enqueue(
            self._sessions,
            business_key=key,
            measure_id=measure_id,
            recipient=person.email,
            email=email,
            sender=self._sender,
        )
        return await outbox.deliver(self._sessions, row=row, smtp=self._smtp, sender=self._sender)
