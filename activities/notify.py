"""Activities that send email through the outbox."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity

from activities.names import NOTIFY, SEND_ASSIGNMENT_EMAIL
from models.escalation import StepKind
from models.gates import Gate
from models.links import LinkAction
from models.money import Scenario
from models.people import Person
from models.policy import Criterion, Role
from models.stages import Stage
from notifications.links import placeholder
from notifications.notices import NoticeText, notice_text
from notifications.render import RenderedEmail, render_email
from services import briefing, delegations, links, outbox, snapshot
from services.briefing import Briefing
from services.db import transaction
from workflows.contracts import MeasureRef, Notice, NoticeKind

# Which signed links an email carries, by kind.
LINK_ACTIONS = {
    NoticeKind.APPROVAL_REQUEST: (LinkAction.APPROVE, LinkAction.REJECT),
    NoticeKind.CLOSURE_REQUEST: (LinkAction.VERIFY, LinkAction.REJECT),
}
WITH_FIGURES = {NoticeKind.APPROVAL_REQUEST, NoticeKind.CLOSURE_REQUEST, NoticeKind.ESCALATION}


@dataclass(frozen=True)
class Content:
    """The parts of a lifecycle email that are the same for every recipient."""

    text: NoticeText
    figures: list[tuple[str, str]]
    checklist: list[tuple[bool, str]]


class NotifyActivities:
    """Email activities; holds the database sessions and how emails are delivered."""

    def __init__(
        self, *, sessions: async_sessionmaker[AsyncSession], delivery: outbox.Delivery
    ) -> None:
        self._sessions = sessions
        self._delivery = delivery
        self._public_url = delivery.public_url.rstrip("/")

    @activity.defn(name=SEND_ASSIGNMENT_EMAIL)
    async def send_assignment_email(self, ref: MeasureRef) -> bool:
        """The owner's first task email: the measure is theirs, and what the next gate needs."""
        async with transaction(self._sessions) as session:
            about = await briefing.load(session, measure_id=ref.measure_id)
            owners = await snapshot.people(session, about.people[Role.OWNER])
            if not owners:
                return False
            text = notice_text(kind="assigned", measure_ref=about.ref, title=about.title, gate=None)
            upcoming = about.next_gate.label if about.next_gate else None
            if upcoming:
                text.lines.append(
                    f"It is in stage {about.stage.label}; the next gate is {upcoming}."
                )
            content = Content(text=text, figures=[], checklist=_owner_checklist(about))
            owner = owners[0]
            key = f"measure-{ref.measure_id}/assigned/owner/{owner.id}"
            outgoing = await self._enqueue(session, key, about, owner, content)
        return await outbox.deliver(self._sessions, outgoing=outgoing, delivery=self._delivery)

    @activity.defn(name=NOTIFY)
    async def send_lifecycle_notice(self, notice: Notice) -> int:
        """Email everyone in the notice's recipient role; returns how many emails went out now."""
        step = notice.step
        # What the emails say is read, and the emails are put in the outbox, in one transaction;
        # each is sent after it committed.
        waiting_for = step.waiting_for if step else None
        async with transaction(self._sessions) as session:
            about = await briefing.load(
                session,
                measure_id=notice.measure_id,
                checklist=_with_owner_checklist(notice),
                committee=Role.STEERING_COMMITTEE in (notice.recipient, waiting_for),
            )
            late_ids = about.people[waiting_for] if waiting_for else []
            found = await snapshot.people(session, [*about.people[notice.recipient], *late_ids])
            checked = await _criteria_checked(session, notice)
            late = [p for p in found if p.id in late_ids]
            content = self._content(notice, about, late, checked)
            recipients = [(p, content) for p in found if p.id in about.people[notice.recipient]]
            if _link_actions(notice):
                recipients += await _deputies(session, about, recipients)
            outgoing = []
            for person, said in recipients:
                specs = [
                    links.spec(
                        measure_id=notice.measure_id,
                        gate_round=notice.gate_round or 0,
                        action=action,
                        person_id=person.id or 0,
                    )
                    for action in _link_actions(notice)
                ]
                key = f"{notice.key}/{person.id}"
                outgoing.append(await self._enqueue(session, key, about, person, said, specs))
        sent = 0
        for email in outgoing:
            sent += await outbox.deliver(self._sessions, outgoing=email, delivery=self._delivery)
        return sent

    def _content(
        self, notice: Notice, about: Briefing, late: list[Person], checked: list[str]
    ) -> Content:
        step = notice.step
        text = notice_text(
            kind=notice.kind.value,
            measure_ref=about.ref,
            title=about.title,
            gate=notice.gate_target.label if notice.gate_target else None,
            approve=notice.approve,
            comment=notice.comment,
            step_kind=step.kind.value if step else None,
            waiting_for=step.waiting_for.label if step and step.waiting_for else None,
            late=", ".join(person.name for person in late),
            since=step.since if step else None,
            at_stake=about.money(about.annual_ebitda),
        )
        checklist: list[tuple[bool, str]] = []
        if notice.kind in LINK_ACTIONS:
            checklist = [(True, Criterion(code).label) for code in checked]
        elif _with_owner_checklist(notice):
            checklist = _owner_checklist(about)
        return Content(
            text=text,
            figures=_figures(about) if notice.kind in WITH_FIGURES else [],
            checklist=checklist,
        )

    async def _enqueue(
        self,
        session: AsyncSession,
        key: str,
        about: Briefing,
        person: Person,
        content: Content,
        specs: list[dict[str, object]] | None = None,
    ) -> outbox.Outgoing:
        """The email to `person` in the outbox under `key` (as it was if it was there before)."""
        email = self._render(about, person, content, [str(s["action"]) for s in specs or []])
        return await outbox.enqueue(
            session,
            delivery=self._delivery,
            business_key=key,
            measure_id=about.measure_id,
            recipient=person.email,
            email=email,
            links=list(specs) if specs else None,
        )

    def _render(
        self, about: Briefing, person: Person, content: Content, actions: list[str]
    ) -> RenderedEmail:
        days = self._delivery.link_ttl.days
        return render_email(
            "lifecycle_notice",
            name=person.name,
            subject=content.text.subject,
            headline=content.text.headline,
            lines=content.text.lines,
            figures=content.figures,
            checklist=content.checklist,
            actions=[(LinkAction(action).label, placeholder(action)) for action in actions],
            link_note=(
                f"The {' and '.join(LinkAction(a).label for a in actions)} links are for you "
                f"alone, work once, and expire after {days} days. Each first shows what you "
                "are about to do and asks you to confirm."
                if actions
                else ""
            ),
            measure_url=f"{self._public_url}/measures/{about.measure_id}",
        )


async def _deputies(
    session: AsyncSession, about: Briefing, recipients: list[tuple[Person, Content]]
) -> list[tuple[Person, Content]]:
    """The people deputising today for the approvers asked: they get the same email with their
    own links, saying for whom. Nobody who takes part in the measure deputises on it."""
    today = datetime.now(UTC).date()
    named = await delegations.deputies(session, [p.id or 0 for p, _ in recipients], today)
    taking_part = {person for people in about.people.values() for person in people}
    ids = {d for deputies in named.values() for d in deputies} - taking_part
    found = {d.id: d for d in await snapshot.people(session, sorted(ids))}
    extra = []
    for principal, content in recipients:
        for deputy_id in named.get(principal.id or 0, []):
            if deputy_id in found:
                line = f"You receive this as {principal.name}'s deputy; you decide on their behalf."
                text = replace(content.text, lines=[line, *content.text.lines])
                extra.append((found[deputy_id], replace(content, text=text)))
    return extra


def _link_actions(notice: Notice) -> tuple[LinkAction, ...]:
    """The signed links the notice carries: requests do, and so does a reminder to the approver
    (fresh links, bound to the same gate; whichever is used first decides)."""
    if notice.kind in LINK_ACTIONS:
        return LINK_ACTIONS[notice.kind]
    if notice.step is not None and notice.step.kind is StepKind.APPROVAL_REMINDER:
        closing = notice.gate_target is Stage.CLOSED
        return LINK_ACTIONS[NoticeKind.CLOSURE_REQUEST if closing else NoticeKind.APPROVAL_REQUEST]
    return ()


def _figures(about: Briefing) -> list[tuple[str, str]]:
    return [
        ("Stage", about.stage.label),
        ("Planned annual EBITDA effect", about.money(about.annual_ebitda)),
        ("Plan over the horizon", about.money(about.ebitda_total(Scenario.PLAN))),
        ("Forecast (actuals where entered)", about.money(about.ebitda_total(Scenario.FORECAST))),
    ]


def _with_owner_checklist(notice: Notice) -> bool:
    """A stalled stage's reminder or escalation lists what the next gate still lacks."""
    return notice.step is not None and notice.step.kind.value.startswith("stage_")


def _owner_checklist(about: Briefing) -> list[tuple[bool, str]]:
    return [(False, missing) for missing in about.unmet]


async def _criteria_checked(session: AsyncSession, notice: Notice) -> list[str]:
    """The criteria the open gate was checked against when it was submitted."""
    if notice.gate_round is None or notice.kind not in LINK_ACTIONS:
        return []
    gate = (
        await session.exec(
            select(Gate).where(
                Gate.measure_id == notice.measure_id, Gate.round == notice.gate_round
            )
        )
    ).first()
    return list(gate.criteria_checked) if gate else []
