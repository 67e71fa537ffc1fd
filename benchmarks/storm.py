"""Quarter-end storm: thousands of gate reminders falling due in the same minute.

N measures (default 10,000) have their gate to Identified open since the same instant, under a
policy that reminds the sponsor --remind-after seconds later: all N reminders fall due together.
The stack runs as `valuegate dev` lays it out (worker processes, the API, the SMTP catcher, the
dev server, the database). The workflows start from that state, as a continued run carries it
(`services.lifecycle.start(state=...)`), because opening N gates one by one through the API would
spread their due times over the minutes that takes; from then on everything is the real path:
durable timers, the escalation facts, the outbox, rendering, SMTP.

While the reminders go out, a sample of sponsors approve their gate through the API: their
approval-to-next-stage time says whether gates are held up by the storm. At the end the catcher's
Maildir is read: every expected reminder must be there exactly once (by Message-ID).

    .venv/bin/python -m benchmarks.storm
    .venv/bin/python -m benchmarks.storm --measures 1000 --remind-after 60
    .venv/bin/python -m benchmarks.storm --database-url postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email.parser
import os
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from benchmarks.stack import (
    api_ready,
    catcher,
    peak_memory,
    percentile,
    process,
    stack_settings,
    worker_polling,
)
from config.settings import Settings
from models.criteria import people_in_role, required_approvers
from models.figures import ImpactLine
from models.measure import MeasureCreate
from models.money import ImpactCategory
from models.policy import EscalationTimings
from models.stages import Stage
from notifications.mailer import message_id_for
from services import facts as lifecycle_facts
from services import lifecycle, measures, migrate, policies, snapshot
from services.db import create_engine, session_factory, transaction
from tests.factories import TESTER, Org, as_person, make_org, measure_payload
from tests.lifecycle_helpers import Api
from tests.support import TEST_DATABASE_URL_VARIABLE, free_port, fresh_database
from valuegate.binaries import temporal_cli
from valuegate.dev import default_workers
from workflows.contracts import (
    FactBatch,
    FactRecord,
    GateSubmitted,
    MeasureFacts,
    MeasureState,
    OpenGate,
)
from workflows.search_attributes import ALL_KEYS

CHUNK = 1000  # measures created per transaction
SAMPLE = 20  # gates approved during the storm
HELD_UP = 1800  # seconds after which an approval counts as lost, and the run stops


async def _measures(url: str, count: int) -> tuple[Org, list[MeasureFacts]]:
    """An organization with `count` complete measures at Defined; their start facts."""
    engine = create_engine(url)
    sessions = session_factory(engine)
    org = await make_org(sessions, tag=uuid.uuid4().hex[:8])
    facts: list[MeasureFacts] = []
    for start in range(0, count, CHUNK):
        items = [
            MeasureCreate.model_validate(measure_payload(org, title=f"Storm measure {i}"))
            for i in range(start, min(count, start + CHUNK))
        ]
        async with transaction(sessions) as session:
            made, refused = await measures.create_many(session, items, TESTER)
            assert not refused, refused
            session.add_all(  # what the gate to Identified asks besides the roles
                ImpactLine(
                    measure_id=m.id or 0,
                    category=ImpactCategory.COST_REDUCTION,
                    description="Licences no longer paid",
                    annual_potential=Decimal(120_000),
                )
                for m in made.values()
            )
            today = datetime.now(UTC).date()
            for measure in made.values():
                facts.append(await measures.facts(session, measure=measure, today=today))
    await engine.dispose()
    return org, facts


async def _gate_template(url: str, first: MeasureFacts, remind_after: timedelta) -> OpenGate:
    """The gate to Identified as submitting it on the first measure opens it, under the
    portfolio's policy with the reminder due `remind_after` after opening (and the escalations
    a week later, beyond the benchmark)."""
    engine = create_engine(url)
    async with session_factory(engine)() as session:
        snap = await snapshot.load(session, measure_id=first.measure_id, with_status=False)
        policy = await policies.current(session, portfolio_id=first.portfolio_id)
    await engine.dispose()
    week = timedelta(days=7)
    policy = policy.model_copy(
        update={
            "escalation": EscalationTimings(
                remind_after=remind_after,
                escalate_after=remind_after + week,
                final_escalation_after=remind_after + 2 * week,
            )
        }
    )
    target = Stage.IDENTIFIED
    required = required_approvers(target, snap, policy)
    return OpenGate(
        round=1,
        target=target,
        submitted_by=snap.owner_id or 0,
        opened_at=datetime.now(UTC),
        policy=policy,
        required=required,
        eligible={role: people_in_role(role, snap) for role in required},
        snapshot=snap,
    )


async def _submitted(url: str, measures: list[MeasureFacts], gate: OpenGate, at: datetime) -> None:
    """What submitting each measure's gate writes to the database (its gate row, ledger entry
    and audit event), through the service the workflow's activity calls."""
    engine = create_engine(url)
    sessions = session_factory(engine)
    submitted = GateSubmitted(
        round=gate.round,
        target=gate.target,
        by=gate.submitted_by,
        policy_version=gate.policy.version,
        required=gate.required,
        criteria_checked=[c.value for c in gate.policy.gates[gate.target].criteria],
    )
    for one in measures:
        record = FactRecord(key="gate1/submitted", fact=submitted)
        await lifecycle_facts.record(
            sessions, FactBatch(measure_id=one.measure_id, at=at, records=[record])
        )
    await engine.dispose()


def _state(facts: MeasureFacts, gate: OpenGate, opened_at: datetime) -> MeasureState:
    snap = gate.snapshot.model_copy(update={"measure_id": facts.measure_id, "title": facts.title})
    return MeasureState(
        measure_id=facts.measure_id,
        title=facts.title,
        stage=facts.stage,
        facts=facts,
        stage_since=opened_at,
        gate_rounds=1,
        gate=gate.model_copy(update={"opened_at": opened_at, "snapshot": snap}),
        timings=gate.policy.escalation,
    )


class Maildir:
    """The catcher's Maildir, read as it fills: the Message-ID of every message seen."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.seen: set[str] = set()
        self.ids: Counter[str] = Counter()
        self._parser = email.parser.BytesParser()

    def read_new(self) -> int:
        """Parse the messages that arrived since the last call; how many."""
        arrived = 0
        for sub in ("new", "cur"):
            with contextlib.suppress(FileNotFoundError):
                for entry in os.scandir(self.folder / sub):
                    if entry.name not in self.seen:
                        self.seen.add(entry.name)
                        with open(entry.path, "rb") as file:
                            headers = self._parser.parse(file, headersonly=True)
                        self.ids[str(headers["Message-ID"]).strip()] += 1
                        arrived += 1
        return arrived


async def _approve_sample(http: httpx.AsyncClient, org: Org, ids: list[int]) -> list[float]:
    """Each sampled sponsor approves their gate; seconds from the POST until
    `GET /api/measures/{id}/lifecycle` shows Identified."""

    async def one(measure_id: int) -> float:
        started = time.perf_counter()
        decided = await Api(http, measure_id).decide(org.sponsor_id)
        assert decided.status_code == 200, decided.text
        path = f"/api/measures/{measure_id}/lifecycle"
        while time.perf_counter() - started < HELD_UP:
            seen = (await http.get(path, headers=as_person(org.owner_id))).json()
            if seen["stage"] == Stage.IDENTIFIED.value:
                return time.perf_counter() - started
        raise RuntimeError(f"M-{measure_id} did not pass its gate in {HELD_UP} s: {seen}")

    return list(await asyncio.gather(*(one(m) for m in ids)))


async def _storm(
    client: Client, url: str, args: argparse.Namespace, smtp_port: int, mail: Path
) -> None:
    org, facts = await _measures(url, args.measures)
    print(f"created {len(facts)} measures", flush=True)
    template = await _gate_template(url, facts[0], timedelta(seconds=args.remind_after))
    sender = Settings().mail_from
    sample = {f.measure_id for f in facts[:: max(1, len(facts) // SAMPLE)][:SAMPLE]}

    def reminder(measure_id: int) -> str:
        key = f"measure-{measure_id}/gate1/sponsor/approval_reminder/{org.sponsor_id}"
        return message_id_for(key, sender)

    # A sampled gate may pass before its reminder is sent, and then none is owed.
    expected = {reminder(f.measure_id) for f in facts if f.measure_id not in sample}
    maybe = {reminder(m) for m in sample}
    task_queue = f"storm-{uuid.uuid4()}"
    api_port = free_port()
    env = stack_settings(client, url, task_queue, smtp_port, api_port)
    box = Maildir(mail)
    with contextlib.ExitStack() as running:
        workers = [
            running.enter_context(process("-m", "valuegate", "worker", env=env))
            for _ in range(args.workers)
        ]
        running.enter_context(process("-m", "valuegate", "api", "--port", str(api_port), env=env))
        base_url = f"http://127.0.0.1:{api_port}"
        async with httpx.AsyncClient(base_url=base_url, timeout=HELD_UP) as http:
            await api_ready(http)
            await worker_polling(client, task_queue)

            opened_at = datetime.now(UTC)
            await _submitted(url, facts, template, opened_at)
            due = opened_at + template.policy.escalation.remind_after
            gate = asyncio.Semaphore(100)

            async def start(one: MeasureFacts) -> None:
                async with gate:
                    state = _state(one, template, opened_at)
                    await lifecycle.start(client, facts=one, task_queue=task_queue, state=state)

            await asyncio.gather(*(start(f) for f in facts))
            started = datetime.now(UTC)
            print(f"started {len(facts)} workflows in {started - opened_at}", flush=True)
            if started > due:
                print(f"warning: the last workflow started {started - due} after the due time")
            await asyncio.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()))
            due_clock = time.perf_counter()
            approving = asyncio.create_task(_approve_sample(http, org, sorted(sample)))
            last = due_clock
            reported = due_clock
            while len(expected & box.ids.keys()) < len(expected):
                if await asyncio.to_thread(box.read_new):
                    last = time.perf_counter()
                if time.perf_counter() - reported > 10:
                    reported = time.perf_counter()
                    caught = len(expected & box.ids.keys())
                    print(f"  {reported - due_clock:.0f} s after due: {caught} reminders caught")
                await asyncio.sleep(0.2)
            latencies = await approving
            # A duplicate would come late, from a retried send: wait for quiet before counting.
            quiet = time.perf_counter()
            while time.perf_counter() - quiet < args.quiet:
                if await asyncio.to_thread(box.read_new):
                    quiet = time.perf_counter()
                await asyncio.sleep(0.5)
            peaks = [peak_memory(pid) for pid in workers]

    reminders = {mid: n for mid, n in box.ids.items() if mid in expected | maybe}
    twice = sum(1 for n in reminders.values() if n > 1)
    seconds = last - due_clock
    print(
        f"measures: {len(facts)}, worker processes: {args.workers}, "
        f"database: {url.split(':')[0]}, cores: {os.cpu_count()}"
    )
    print(
        f"reminders: {len(expected & reminders.keys())} of {len(expected)} owed arrived (and "
        f"{len(maybe & reminders.keys())} of the {len(maybe)} approved during the storm), "
        f"{twice} more than once (target: each exactly once)"
    )
    print(f"time from due until the last reminder was caught: {seconds:.1f} s")
    print(f"reminders per second: {len(reminders) / seconds:.1f}")
    print(
        f"approval to next stage during the storm ({len(latencies)} gates): "
        f"p50 {percentile(latencies, 50) * 1000:.0f} ms, "
        f"p95 {percentile(latencies, 95) * 1000:.0f} ms"
    )
    print("worker peak memory (VmHWM): " + ", ".join(f"{peak / 2**20:.0f} MiB" for peak in peaks))


async def main(args: argparse.Namespace, smtp_port: int, folder: Path) -> None:
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        search_attributes=ALL_KEYS,
        dev_server_existing_path=temporal_cli(),
        dev_server_log_level="error",
    )
    if args.database_url:  # a database of its own on that server, dropped afterwards
        os.environ[TEST_DATABASE_URL_VARIABLE] = args.database_url
    try:
        with fresh_database(folder) as url:
            migrate.upgrade(url)
            await _storm(env.client, url, args, smtp_port, folder / "mail")
    finally:
        await env.shutdown()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--measures", type=int, default=10_000)
    parser.add_argument(
        "--remind-after",
        type=float,
        default=180,
        help="seconds from the gates' opening to their reminders (default 180: enough to start "
        "10,000 workflows here first)",
    )
    parser.add_argument("--database-url", help="default: a fresh SQLite file; or a PostgreSQL URL")
    parser.add_argument(
        "--workers",
        type=int,
        default=default_workers(),
        help=f"worker processes (default: as `valuegate dev` runs them: {default_workers()} here)",
    )
    parser.add_argument(
        "--quiet", type=float, default=10, help="seconds without a new email before counting"
    )
    arguments = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="valuegate-storm-"))
    with catcher(folder / "mail") as port:
        asyncio.run(main(arguments, port, folder))
