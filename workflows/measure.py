"""The lifecycle of one measure as a durable workflow, id `measure-<id>`.

It owns the stage, the open gate and its approvals, the escalation ladder on durable timers, and
the wait for the controller's verified figures. Every fact it establishes is written to the
database by an activity, idempotently, before the workflow's own state moves on.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    import activities.names as names
    from models.closure import closure_problems
    from models.criteria import (
        MeasureSnapshot,
        missing_rate,
        people_in_role,
        required_approvers,
        unmet_criteria,
    )
    from models.escalation import (
        EscalationStep,
        approval_steps,
        hold_review_step,
        next_due,
        stalled_stage_steps,
    )
    from models.policy import GatePolicy, Role
    from models.stages import TERMINAL_STAGES, Stage, next_stage
    from workflows import search_attributes as sa
    from workflows.contracts import (
        ApproverReplaced,
        Cancel,
        ClosureConfirmed,
        ConfirmClosure,
        Decide,
        DeputyFor,
        DeputyQuery,
        EscalationFired,
        FactBatch,
        FactRecord,
        GateClosed,
        GateDecided,
        GateDecision,
        GateSubmitted,
        GateView,
        Hold,
        LifecycleView,
        MeasureRef,
        MeasureStart,
        MeasureState,
        Notice,
        NoticeKind,
        OpenGate,
        PortfolioRef,
        PutOnHold,
        Resume,
        StageChanged,
        SubmitGate,
        SubmitRefused,
    )

# Error types the API maps to HTTP answers.
CONFLICT = "Conflict"  # 409: the measure is not in a state that allows this
RULE = "RuleViolation"  # 422: a rule (segregation of duties, comment required, ...) forbids it
UNMET = "UnmetCriteria"  # 422: the gate's criteria are not met (details: SubmitRefused)
FIGURES = "InvalidFigures"  # 422: verified figures are wrong (details: list of problems)

# Database facts must land: retry until the database is back. A database activity takes
# milliseconds; the timeout is what a lost worker costs before another one retries it.
DB_TIMEOUT = timedelta(seconds=10)
DB_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
# Email never blocks or fails the lifecycle: retry with backoff for as long as it takes.
EMAIL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
)


def _conflict(message: str) -> ApplicationError:
    return ApplicationError(message, type=CONFLICT, non_retryable=True)


def _rule(message: str) -> ApplicationError:
    return ApplicationError(message, type=RULE, non_retryable=True)


@workflow.defn(name="MeasureWorkflow")
class MeasureWorkflow:
    @workflow.init
    def __init__(self, start: MeasureStart) -> None:
        facts = start.facts
        self.s: MeasureState = start.state or MeasureState(
            measure_id=facts.measure_id,
            title=facts.title,
            stage=facts.stage,
            facts=facts,
            stage_since=workflow.now(),
        )
        self._history_limit = start.history_limit
        # Lifecycle changes run one at a time; each re-checks its preconditions under the lock.
        self._lock = asyncio.Lock()
        self._changed = False
        # Emails on their way: an SMTP outage delays them, never the lifecycle.
        self._emails: set[asyncio.Task[Any]] = set()

    @workflow.run
    async def run(self, start: MeasureStart) -> LifecycleView:
        if start.state is None:
            await self._greet_owner()
            policy = await self._load_policy(self.s.facts.portfolio_id)
            self.s.timings = policy.escalation
        while self.s.stage not in TERMINAL_STAGES:
            await self._wait_for_change_or_next_step()
            if self._history_is_long():
                await workflow.wait_condition(
                    lambda: (
                        workflow.all_handlers_finished()
                        and not self._lock.locked()
                        and not self._emails
                    )
                )
                if self.s.stage not in TERMINAL_STAGES:
                    workflow.continue_as_new(
                        MeasureStart(
                            facts=self.s.facts, state=self.s, history_limit=self._history_limit
                        )
                    )
        await workflow.wait_condition(lambda: workflow.all_handlers_finished() and not self._emails)
        return self.view()

    # --- the escalation ladder ------------------------------------------------------------

    def _schedule(self) -> list[EscalationStep]:
        s = self.s
        if s.hold is not None:
            return [
                hold_review_step(
                    hold_round=s.hold.round, since=s.hold.since, review_date=s.hold.review_date
                )
            ]
        if s.gate is not None:
            return approval_steps(
                gate_round=s.gate.round,
                opened_at=s.gate.opened_at,
                pending=s.gate.pending,
                timings=s.gate.policy.escalation,
            )
        if next_stage(s.stage) is not None:
            return stalled_stage_steps(
                stage_round=s.stage_round, since=s.stage_since, timings=s.timings
            )
        return []

    async def _wait_for_change_or_next_step(self) -> None:
        self._changed = False
        due = next_due(self._schedule(), set(self.s.fired))
        if not due:
            await workflow.wait_condition(lambda: self._changed)
            return
        step = due[0]
        delay = step.due_at - workflow.now()
        if delay > timedelta(0):
            try:
                await workflow.wait_condition(
                    lambda: self._changed,
                    timeout=delay,
                    timeout_summary=f"{step.kind.value.replace('_', ' ')} due",
                )
                return  # something happened first: compute the schedule again
            except TimeoutError:
                pass
        async with self._lock:
            if step in next_due(self._schedule(), set(self.s.fired)):
                await self._fire(step)

    async def _fire(self, step: EscalationStep) -> None:
        self.s.fired.append(step.key)
        await self._record([FactRecord(key=step.key, fact=EscalationFired(step=step))])
        await self._notify(
            Notice(
                key=f"measure-{self.s.measure_id}/{step.key}",
                measure_id=self.s.measure_id,
                kind=NoticeKind.ESCALATION,
                recipient=step.recipient,
                gate_target=self.s.gate.target if self.s.gate else None,
                gate_round=self.s.gate.round if self.s.gate else None,
                step=step,
            )
        )

    # --- submitting a gate ----------------------------------------------------------------

    def _check_submit(self, msg: SubmitGate) -> None:
        if self.s.stage in TERMINAL_STAGES or self.s.stage is Stage.ON_HOLD:
            raise _conflict(
                f"the measure is {self.s.stage.label.lower()}: no gate can be submitted"
            )
        if self.s.gate is not None:
            raise _conflict(f"the gate to {self.s.gate.target.label} is already open")

    @workflow.update(name="submit_gate")
    async def submit_gate(self, msg: SubmitGate) -> GateView:
        async with self._lock:
            self._check_submit(msg)
            target = next_stage(self.s.stage)
            assert target is not None
            snapshot, policy = await self._load_gate_inputs()
            if msg.by != snapshot.owner_id:
                raise _rule("only the measure's owner submits its gates")
            self._check_segregation(snapshot)
            if snapshot.portfolio_id != self.s.facts.portfolio_id:
                policy = await self._load_policy(snapshot.portfolio_id)
            unmet = unmet_criteria(target, snapshot, policy)
            if unmet:
                raise ApplicationError(
                    f"{len(unmet)} criteria for the gate to {target.label} are not met",
                    SubmitRefused(unmet=unmet),
                    type=UNMET,
                    non_retryable=True,
                )
            if (no_rate := missing_rate(target, snapshot)) is not None:
                raise _rule(no_rate)
            required = required_approvers(target, snapshot, policy)
            eligible = {role: people_in_role(role, snapshot) for role in required}
            if nobody := [role.label for role in required if not eligible[role]]:
                raise _rule(f"nobody can approve as {', '.join(nobody)}: name them first")
            gate = OpenGate(
                round=self.s.gate_rounds + 1,
                target=target,
                submitted_by=msg.by,
                opened_at=workflow.now(),
                policy=policy,
                required=required,
                eligible=eligible,
                snapshot=snapshot,
            )
            await self._record(
                [
                    FactRecord(
                        key=f"gate{gate.round}/submitted",
                        fact=GateSubmitted(
                            round=gate.round,
                            target=target,
                            by=msg.by,
                            policy_version=policy.version,
                            required=required,
                            criteria_checked=[c.value for c in policy.gates[target].criteria],
                            channel=msg.channel,
                        ),
                    )
                ]
            )
            self.s.gate_rounds = gate.round
            self.s.gate = gate
            self.s.timings = policy.escalation
            self._moved()
            kind = (
                NoticeKind.CLOSURE_REQUEST
                if target is Stage.CLOSED
                else NoticeKind.APPROVAL_REQUEST
            )
            for role in required:
                await self._notify(self._gate_notice(gate, kind, role, f"requested/{role.value}"))
            return self._gate_view(gate)

    @submit_gate.validator
    def _validate_submit(self, msg: SubmitGate) -> None:
        self._check_submit(msg)

    # --- deciding a gate ------------------------------------------------------------------

    def _check_decide(self, msg: Decide) -> tuple[OpenGate, Role | None]:
        """The gate and the role `msg.by` decides in; None where they may be a deputy."""
        gate = self.s.gate
        if gate is None:
            raise _conflict("no gate is open on this measure")
        if msg.by == gate.submitted_by:
            raise _rule("the submitter never approves their own submission")
        if any(msg.by in (d.by, d.on_behalf_of) for d in gate.decisions):
            raise _rule("this person has already decided on this gate")
        role = next((r for r in gate.pending if msg.by in gate.eligible[r]), None)
        if role is None and self._takes_part(gate, msg.by):
            raise _rule("this person is not a pending approver of this gate")
        if not msg.approve and not msg.comment.strip():
            raise _rule("a rejection needs a comment for the owner")
        if msg.approve and gate.target is Stage.CLOSED:
            raise _rule("the controller closes the measure by confirming the verified figures")
        return gate, role

    def _takes_part(self, gate: OpenGate, person: int) -> bool:
        """Whether the person holds a role on the measure: then they act only in it, never as
        someone's deputy (segregation of duties holds for deputies too)."""
        snapshot = gate.snapshot
        roles = {snapshot.owner_id, snapshot.sponsor_id, snapshot.controller_id}
        eligible = {p for people in gate.eligible.values() for p in people}
        return person in roles | eligible | {gate.submitted_by}

    async def _as_deputy(self, gate: OpenGate, person: int, roles: list[Role]) -> tuple[Role, int]:
        """The pending role, and its approver, for whom `person` deputises today."""
        principals = [p for role in roles for p in gate.eligible.get(role, [])]
        found = await workflow.execute_activity(
            names.FIND_DEPUTY,
            DeputyQuery(deputy_id=person, principals=principals, day=workflow.now().date()),
            result_type=DeputyFor,
            summary="Find whom the person deputises for",
            start_to_close_timeout=DB_TIMEOUT,
            retry_policy=DB_RETRY,
        )
        principal = found.principal
        if principal is None or self.s.gate is not gate:
            raise _rule("this person is not a pending approver of this gate")
        role = next((r for r in roles if principal in gate.eligible.get(r, [])), None)
        if role is None or role not in gate.pending:
            raise _rule("this person is not a pending approver of this gate")
        return role, principal

    @workflow.update(name="decide_gate")
    async def decide_gate(self, msg: Decide) -> LifecycleView:
        async with self._lock:
            gate, role = self._check_decide(msg)
            on_behalf_of = None
            if role is None:
                role, on_behalf_of = await self._as_deputy(gate, msg.by, gate.pending)
            decision = GateDecision(
                role=role,
                by=msg.by,
                approve=msg.approve,
                comment=msg.comment,
                at=workflow.now(),
                on_behalf_of=on_behalf_of,
            )
            facts: list[FactRecord] = [
                FactRecord(
                    key=f"gate{gate.round}/decision/{role.value}",
                    fact=GateDecided(
                        round=gate.round,
                        role=role,
                        by=msg.by,
                        approve=msg.approve,
                        comment=msg.comment,
                        channel=msg.channel,
                        on_behalf_of=on_behalf_of,
                    ),
                )
            ]
            passed = msg.approve and gate.pending == [role]
            if not msg.approve:
                facts.append(self._closed(gate, "rejected", msg.comment))
            elif passed:
                facts.append(self._closed(gate, "approved"))
                facts.append(
                    self._stage_change(
                        gate.target,
                        by=msg.by,
                        reason=f"gate {gate.round} approved",
                        channel=msg.channel,
                    )
                )
            await self._record(facts)
            gate.decisions.append(decision)
            if not msg.approve:
                self.s.gate = None
                self._restart_stage_clock()
            elif passed:
                self._enter(gate.target)
            self._moved()
            if not msg.approve or passed:
                await self._notify(
                    self._gate_notice(gate, NoticeKind.DECISION_OUTCOME, Role.OWNER, "outcome", msg)
                )
            return self.view()

    @decide_gate.validator
    def _validate_decide(self, msg: Decide) -> None:
        self._check_decide(msg)

    # --- controller-backed closure ----------------------------------------------------------

    def _check_closure(self, msg: ConfirmClosure) -> OpenGate:
        gate = self.s.gate
        if gate is None or gate.target is not Stage.CLOSED:
            raise _conflict("closure has not been submitted for this measure")
        controller = msg.by in gate.eligible.get(Role.CONTROLLER, [])
        if not controller and self._takes_part(gate, msg.by):
            raise _rule("only the measure's controller confirms closure")
        problems = closure_problems(msg.verified, gate.snapshot, gate.policy.closure_tolerance)
        if problems:
            raise ApplicationError(
                f"{len(problems)} problems with the verified figures",
                [p.model_dump() for p in problems],
                type=FIGURES,
                non_retryable=True,
            )
        return gate

    @workflow.update(name="confirm_closure")
    async def confirm_closure(self, msg: ConfirmClosure) -> LifecycleView:
        async with self._lock:
            gate = self._check_closure(msg)
            on_behalf_of = None
            if msg.by not in gate.eligible.get(Role.CONTROLLER, []):
                _, on_behalf_of = await self._as_deputy(gate, msg.by, [Role.CONTROLLER])
            await self._record(
                [
                    FactRecord(
                        key=f"gate{gate.round}/closure",
                        fact=ClosureConfirmed(
                            round=gate.round,
                            by=msg.by,
                            verified=msg.verified,
                            channel=msg.channel,
                            on_behalf_of=on_behalf_of,
                        ),
                    ),
                    FactRecord(
                        key=f"gate{gate.round}/decision/{Role.CONTROLLER.value}",
                        fact=GateDecided(
                            round=gate.round,
                            role=Role.CONTROLLER,
                            by=msg.by,
                            approve=True,
                            comment=msg.verified.comment,
                            channel=msg.channel,
                            on_behalf_of=on_behalf_of,
                        ),
                    ),
                    self._closed(gate, "approved"),
                    self._stage_change(
                        Stage.CLOSED,
                        by=msg.by,
                        reason="verified figures confirmed",
                        channel=msg.channel,
                    ),
                ]
            )
            gate.decisions.append(
                GateDecision(
                    role=Role.CONTROLLER,
                    by=msg.by,
                    approve=True,
                    comment=msg.verified.comment,
                    at=workflow.now(),
                    on_behalf_of=on_behalf_of,
                )
            )
            self._enter(Stage.CLOSED)
            self._moved()
            for role in (Role.OWNER, Role.SPONSOR):
                await self._notify(
                    self._gate_notice(
                        gate, NoticeKind.CLOSURE_CONFIRMED, role, f"closed/{role.value}"
                    )
                )
            return self.view()

    @confirm_closure.validator
    def _validate_closure(self, msg: ConfirmClosure) -> None:
        self._check_closure(msg)

    # --- hold, resume, cancel ---------------------------------------------------------------

    def _check_hold(self, msg: PutOnHold) -> None:
        if self.s.stage in TERMINAL_STAGES or self.s.stage is Stage.ON_HOLD:
            raise _conflict(
                f"the measure is {self.s.stage.label.lower()}: it cannot be put on hold"
            )
        if msg.review_date <= workflow.now().date():
            raise _rule("the review date must lie in the future")

    @workflow.update(name="put_on_hold")
    async def put_on_hold(self, msg: PutOnHold) -> LifecycleView:
        async with self._lock:
            self._check_hold(msg)
            await self._authorise(msg.by, {Role.OWNER, Role.SPONSOR}, "put the measure on hold")
            facts = (
                [self._closed(self.s.gate, "withdrawn", "measure put on hold")]
                if self.s.gate
                else []
            )
            facts.append(
                self._stage_change(
                    Stage.ON_HOLD,
                    by=msg.by,
                    reason=msg.reason,
                    review_date=msg.review_date,
                    channel=msg.channel,
                )
            )
            await self._record(facts)
            self.s.hold_rounds += 1
            self.s.hold = Hold(
                round=self.s.hold_rounds,
                reason=msg.reason,
                review_date=msg.review_date,
                resume_stage=self.s.stage,
                since=workflow.now(),
            )
            self.s.gate = None
            self.s.stage = Stage.ON_HOLD
            self._moved()
            await self._tell_owner_and_sponsor(
                NoticeKind.ON_HOLD, f"hold{self.s.hold_rounds}", msg.reason
            )
            return self.view()

    @put_on_hold.validator
    def _validate_hold(self, msg: PutOnHold) -> None:
        self._check_hold(msg)

    def _check_resume(self, msg: Resume) -> Hold:
        if self.s.hold is None:
            raise _conflict("the measure is not on hold")
        return self.s.hold

    @workflow.update(name="resume")
    async def resume(self, msg: Resume) -> LifecycleView:
        async with self._lock:
            hold = self._check_resume(msg)
            await self._authorise(msg.by, {Role.OWNER, Role.SPONSOR}, "resume the measure")
            await self._record(
                [
                    self._stage_change(
                        hold.resume_stage, by=msg.by, reason="resumed", channel=msg.channel
                    )
                ]
            )
            self.s.hold = None
            self._enter(hold.resume_stage)
            self._moved()
            await self._tell_owner_and_sponsor(NoticeKind.RESUMED, f"hold{hold.round}/resumed")
            return self.view()

    @resume.validator
    def _validate_resume(self, msg: Resume) -> None:
        self._check_resume(msg)

    def _check_cancel(self, msg: Cancel) -> None:
        if self.s.stage in TERMINAL_STAGES:
            raise _conflict(f"the measure is already {self.s.stage.label.lower()}")

    @workflow.update(name="cancel")
    async def cancel(self, msg: Cancel) -> LifecycleView:
        async with self._lock:
            self._check_cancel(msg)
            await self._authorise(msg.by, {Role.OWNER, Role.SPONSOR}, "cancel the measure")
            facts = (
                [self._closed(self.s.gate, "withdrawn", "measure cancelled")] if self.s.gate else []
            )
            facts.append(
                self._stage_change(
                    Stage.CANCELLED, by=msg.by, reason=msg.reason, channel=msg.channel
                )
            )
            await self._record(facts)
            self.s.gate = None
            self.s.hold = None
            self._enter(Stage.CANCELLED)
            self._moved()
            await self._tell_owner_and_sponsor(NoticeKind.CANCELLED, "cancelled", msg.reason)
            return self.view()

    @cancel.validator
    def _validate_cancel(self, msg: Cancel) -> None:
        self._check_cancel(msg)

    @workflow.signal(name="figures_changed")
    async def figures_changed(self) -> None:
        """The measure's data changed (figures, milestones, master data): read it again, so what
        admins see in the Temporal UI moves with it, and a pending approval follows its role to
        the person who holds it now."""
        if self.s.stage in TERMINAL_STAGES:
            return
        if self.s.gate is None:
            await self._load_snapshot()
            return
        async with self._lock:
            snapshot = await self._load_snapshot()
            if self.s.gate is not None:
                await self._follow_the_roles(self.s.gate, snapshot)

    async def _follow_the_roles(self, gate: OpenGate, snapshot: MeasureSnapshot) -> None:
        """Move each pending approval whose role another person holds now: the old person's
        links end, the new one is asked, and the escalation ladder goes on as it was."""
        moved = [
            (role, gate.eligible[role], people_in_role(role, snapshot))
            for role in gate.pending
            if role is not Role.STEERING_COMMITTEE
            and people_in_role(role, snapshot) != gate.eligible[role]
        ]
        if not moved:
            return
        await self._record(
            [
                FactRecord(
                    key=f"gate{gate.round}/replaced/{role.value}/{'-'.join(map(str, now))}",
                    fact=ApproverReplaced(
                        round=gate.round, role=role, replaced=was, now_acting=now
                    ),
                )
                for role, was, now in moved
            ]
        )
        for role, _, now in moved:
            gate.eligible[role] = now
        self._moved()
        kind = (
            NoticeKind.CLOSURE_REQUEST
            if gate.target is Stage.CLOSED
            else NoticeKind.APPROVAL_REQUEST
        )
        for role, _, now in moved:
            suffix = f"requested/{role.value}/{'-'.join(map(str, now))}"
            await self._notify(self._gate_notice(gate, kind, role, suffix))

    # --- reading ----------------------------------------------------------------------------

    @workflow.query(name="view")
    def view(self) -> LifecycleView:
        gate = self.s.gate
        return LifecycleView(
            measure_id=self.s.measure_id,
            stage=self.s.stage,
            gate=self._gate_view(gate) if gate else None,
            hold=self.s.hold,
        )

    # --- helpers ----------------------------------------------------------------------------

    def _gate_view(self, gate: OpenGate) -> GateView:
        return GateView(
            round=gate.round,
            target=gate.target,
            submitted_by=gate.submitted_by,
            opened_at=gate.opened_at,
            required=gate.required,
            pending=gate.pending,
            decisions=gate.decisions,
            policy_version=gate.policy.version,
        )

    def _check_segregation(self, snapshot: MeasureSnapshot) -> None:
        people = [snapshot.owner_id, snapshot.sponsor_id, snapshot.controller_id]
        named = [p for p in people if p is not None]
        if len(set(named)) < len(named):
            raise _rule("owner, sponsor and controller must be three different people")

    async def _authorise(self, person: int, roles: set[Role], action: str) -> None:
        snapshot = await self._load_snapshot()
        if not any(person in people_in_role(role, snapshot) for role in roles):
            allowed = " or ".join(sorted(role.label for role in roles))
            raise _rule(f"only the measure's {allowed} may {action}")

    def _closed(self, gate: OpenGate, outcome: str, reason: str = "") -> FactRecord:
        return FactRecord(
            key=f"gate{gate.round}/closed",
            fact=GateClosed(round=gate.round, outcome=outcome, reason=reason),
        )

    def _stage_change(self, to: Stage, **details: object) -> FactRecord:
        # Keyed by the stage round it ends, so each change is written once.
        return FactRecord(
            key=f"stage{self.s.stage_round}/to-{to.value}",
            fact=StageChanged(from_stage=self.s.stage, to_stage=to, **details),
        )

    def _enter(self, stage: Stage) -> None:
        self.s.stage = stage
        self.s.gate = None
        self.s.facts = self.s.facts.model_copy(update={"stage": stage})
        self._restart_stage_clock()

    def _restart_stage_clock(self) -> None:
        self.s.stage_round += 1
        self.s.stage_since = workflow.now()

    def _moved(self) -> None:
        """The state changed: wake the main loop and show it in the Temporal UI."""
        self._changed = True
        pending = self.s.gate.pending if self.s.gate else []
        workflow.upsert_search_attributes(
            [
                sa.MEASURE_STAGE.value_set(self.s.stage.value),
                sa.PENDING_APPROVER_ROLES.value_set([role.value for role in pending]),
            ]
        )
        workflow.set_current_details(self._details())

    async def _tell_owner_and_sponsor(self, kind: NoticeKind, key: str, comment: str = "") -> None:
        for role in (Role.OWNER, Role.SPONSOR):
            await self._notify(
                Notice(
                    key=f"measure-{self.s.measure_id}/{key}/{role.value}",
                    measure_id=self.s.measure_id,
                    kind=kind,
                    recipient=role,
                    comment=comment,
                )
            )

    def _gate_notice(
        self,
        gate: OpenGate,
        kind: NoticeKind,
        recipient: Role,
        suffix: str,
        decision: Decide | None = None,
    ) -> Notice:
        return Notice(
            key=f"measure-{self.s.measure_id}/gate{gate.round}/{suffix}",
            measure_id=self.s.measure_id,
            kind=kind,
            recipient=recipient,
            gate_target=gate.target,
            gate_round=gate.round,
            approve=decision.approve if decision else None,
            comment=decision.comment if decision else "",
        )

    def _details(self) -> str:
        """What an admin reads at the top of the workflow in the Temporal UI (no personal data)."""
        s = self.s
        lines = [f"**Stage:** {s.stage.label}"]
        if s.gate is not None:
            pending = ", ".join(role.label for role in s.gate.pending) or "nobody"
            lines.append(
                f"**Open gate:** to {s.gate.target.label} (round {s.gate.round}), "
                f"waiting for {pending}"
            )
        if s.hold is not None:
            lines.append(f"**On hold** until review on {s.hold.review_date.isoformat()}")
        return "  \n".join(lines)

    def _history_is_long(self) -> bool:
        info = workflow.info()
        if self._history_limit is not None:
            return info.get_current_history_length() > self._history_limit
        return info.is_continue_as_new_suggested()

    # --- activities -------------------------------------------------------------------------

    async def _greet_owner(self) -> None:
        if self.s.stage not in TERMINAL_STAGES:
            await self._email(
                names.SEND_ASSIGNMENT_EMAIL,
                MeasureRef(measure_id=self.s.measure_id),
                "Email the owner that the measure is theirs",
            )

    async def _load_gate_inputs(self) -> tuple[MeasureSnapshot, GatePolicy]:
        """The measure's data and its portfolio's gate policy, read side by side (the policy of
        the portfolio the measure was in when its lifecycle began)."""
        return await asyncio.gather(
            self._load_snapshot(), self._load_policy(self.s.facts.portfolio_id)
        )

    async def _load_snapshot(self) -> MeasureSnapshot:
        snapshot = await workflow.execute_activity(
            names.LOAD_SNAPSHOT,
            MeasureRef(measure_id=self.s.measure_id),
            result_type=MeasureSnapshot,
            summary="Read the measure's data for the gate criteria",
            start_to_close_timeout=DB_TIMEOUT,
            retry_policy=DB_RETRY,
        )
        # The dual status moves with the figures, and the dimensions with the master data: show
        # the admin the latest read. Each upsert is a visibility write on the Temporal server:
        # only what changed.
        before = self.s.facts
        self.s.facts = before.model_copy(
            update={
                "title": snapshot.title,
                "legal_entity_id": snapshot.legal_entity_id,
                "business_unit_id": snapshot.business_unit_id,
                "implementation_status": snapshot.implementation_status,
                "potential_status": snapshot.potential_status,
            }
        )
        self.s.title = snapshot.title
        updates: list[SearchAttributeUpdate[Any]] = []
        if (snapshot.implementation_status, snapshot.potential_status) != (
            before.implementation_status,
            before.potential_status,
        ):
            updates += [
                sa.IMPLEMENTATION_STATUS.value_set(snapshot.implementation_status.value),
                sa.POTENTIAL_STATUS.value_set(snapshot.potential_status.value),
            ]
        for key, was, now in (
            (sa.LEGAL_ENTITY_ID, before.legal_entity_id, snapshot.legal_entity_id),
            (sa.BUSINESS_UNIT_ID, before.business_unit_id, snapshot.business_unit_id),
        ):
            if now != was:
                updates.append(key.value_set(now) if now is not None else key.value_unset())
        if updates:
            workflow.upsert_search_attributes(updates)
        return snapshot

    async def _load_policy(self, portfolio_id: int) -> GatePolicy:
        return await workflow.execute_activity(
            names.LOAD_POLICY,
            PortfolioRef(portfolio_id=portfolio_id),
            result_type=GatePolicy,
            summary="Read the portfolio's current gate policy",
            start_to_close_timeout=DB_TIMEOUT,
            retry_policy=DB_RETRY,
        )

    async def _record(self, records: list[FactRecord]) -> None:
        """Write the facts; the lifecycle moves on only once they are written. Facts the
        database can never hold refuse the action (RULE) and change nothing: a measure is never
        wedged by what someone typed."""
        kinds = ", ".join(r.fact.kind.replace("_", " ") for r in records)
        try:
            await workflow.execute_activity(
                names.RECORD_FACTS,
                FactBatch(measure_id=self.s.measure_id, at=workflow.now(), records=records),
                summary=f"Record: {kinds}",
                start_to_close_timeout=DB_TIMEOUT,
                retry_policy=DB_RETRY,
            )
        except ActivityError as error:
            cause = error.cause
            if isinstance(cause, ApplicationError) and cause.type == names.FACTS_REFUSED:
                raise _rule(cause.message) from error
            raise

    async def _notify(self, notice: Notice) -> None:
        await self._email(
            names.NOTIFY,
            notice,
            f"Email the {notice.recipient.label}: {notice.kind.value.replace('_', ' ')}",
        )

    async def _email(self, activity: str, arg: BaseModel, summary: str) -> None:
        """Send an email; it goes out in the background, retried until the SMTP server takes it."""
        sending = workflow.start_activity(
            activity,
            arg,
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=EMAIL_RETRY,
            summary=summary,
        )
        self._emails.add(sending)
        sending.add_done_callback(self._emails.discard)
