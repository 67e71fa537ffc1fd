"""The `valuegate` command: dev, api, worker, migrate, seed, add-admin, api-token,
audit-verify, rollup-verify."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError

from config.settings import Environment, Settings, get_settings

MIN_PASSWORD_LENGTH = 12


def build_parser() -> argparse.ArgumentParser:
    """The command line: `valuegate <command> [options]`."""
    parser = argparse.ArgumentParser(prog="valuegate", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    dev = commands.add_parser("dev", help="run the whole stack locally on embedded defaults")
    dev.add_argument("--state-dir", type=Path, default=Path(".valuegate"))
    dev.add_argument("--api-port", type=int, default=8000)
    dev.add_argument("--temporal-port", type=int, default=7233)
    dev.add_argument("--ui-port", type=int, default=8233)
    dev.add_argument("--smtp-port", type=int, default=1025)
    dev.add_argument("--no-demo", action="store_true", help="do not seed demo data")
    dev.add_argument(
        "--workers",
        type=_at_least_one,
        help="worker processes (default: one per CPU core, at most 4)",
    )

    api = commands.add_parser("api", help="run the web app and REST API (uvicorn)")
    api.add_argument("--host", default="127.0.0.1")
    api.add_argument("--port", type=int, default=8000)
    api.add_argument("--workers", type=int, default=1)

    worker = commands.add_parser("worker", help="run a Temporal worker for measure workflows")
    worker.add_argument(
        "--loop-check",
        type=Path,
        metavar="FILE",
        help="run the worker's event loop in asyncio's debug mode and write to FILE, on exit, "
        "how many callbacks held it longer than 100 ms (for benchmarks; slows the worker)",
    )

    migrate = commands.add_parser("migrate", help="upgrade (or downgrade) the database schema")
    migrate.add_argument("--revision", default="head")
    migrate.add_argument("--downgrade", action="store_true")

    catcher = commands.add_parser("mail-catcher", help="run the local SMTP catcher on its own")
    catcher.add_argument("--port", type=int, default=1025)
    catcher.add_argument("--dir", type=Path, default=Path(".valuegate/mail"))

    commands.add_parser("seed", help="load the demo portfolio into an empty database")
    admin = commands.add_parser(
        "add-admin", help="add an admin who signs in with a password (read from stdin)"
    )
    admin.add_argument("--email", required=True)
    admin.add_argument("--name", required=True)

    token = commands.add_parser("api-token", help="print a new personal API token for a person")
    token.add_argument("--email", required=True)
    token.add_argument("--name", default="command line", help="what the token is for")

    load = commands.add_parser(
        "import", help="check (--dry-run) or apply an import workbook for an organization"
    )
    load.add_argument("file", type=Path, help="the .xlsx workbook")
    load.add_argument("--organization", type=_at_least_one, required=True, help="its id")
    load.add_argument("--as", dest="email", required=True, help="the admin or manager importing")
    load.add_argument("--dry-run", action="store_true", help="check it and write nothing")

    verify = commands.add_parser(
        "audit-verify",
        help="check the audit trail's hash chain, and against its anchors in Temporal",
    )
    verify.add_argument(
        "--no-temporal",
        action="store_true",
        help="check the chain alone, without the anchors in the measures' histories",
    )
    totals = commands.add_parser(
        "rollup-verify",
        help="recompute every measure's totals from its monthly values and report differences",
    )
    totals.add_argument(
        "--repair",
        action="store_true",
        help="after reporting, replace the kept totals by the recomputed ones",
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        code = _dispatch(args)
    except KeyboardInterrupt:
        code = 130
    if args.command == "dev":
        # Everything the dev stack started is stopped by now. The Temporal SDK's native threads
        # (its client's runtime) can still touch the interpreter while it finalizes, which
        # aborted the process now and then: leave without finalizing, with the exit code.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


def _settings() -> Settings:
    try:
        return get_settings()
    except ValidationError as error:
        problems = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in error.errors())
        raise SystemExit(f"valuegate: configuration error: {problems}") from None


def _at_least_one(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number")
    return number


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """How uvicorn serves the api: forwarded headers believed only from the trusted proxies
    (uvicorn itself would believe any client on 127.0.0.1)."""
    trusted = settings.trusted_proxies.strip()
    if not trusted:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": trusted}


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "dev":
        from valuegate import dev

        ports = dev.DevPorts(args.api_port, args.temporal_port, args.ui_port, args.smtp_port)
        state_dir = args.state_dir.resolve()
        state_dir.mkdir(parents=True, exist_ok=True)
        database_url = os.environ.get("VALUEGATE_DATABASE_URL") or None
        try:
            asyncio.run(
                dev.run(
                    state_dir,
                    ports,
                    with_demo=not args.no_demo,
                    workers=args.workers,
                    database_url=database_url,
                )
            )
        except dev.PortInUse as error:
            print(f"valuegate dev: {error}", file=sys.stderr)
            return 1
        except dev.StackFailed as error:
            print(f"valuegate dev: {error}; stopped the stack.", file=sys.stderr)
            return 1
        return 0
    if args.command == "mail-catcher":
        from valuegate.mailcatcher import run_catcher

        run_catcher(args.dir, port=args.port)
        return 0
    settings = _settings()
    if args.command == "api":
        import uvicorn

        from api.app import create_app

        uvicorn.run(
            create_app(settings), **uvicorn_options(settings), host=args.host, port=args.port
        )
        return 0
    if args.command == "worker":
        from valuegate import worker

        if args.loop_check:
            asyncio.run(worker.run_checked(settings, report=args.loop_check), debug=True)
        else:
            asyncio.run(worker.run(settings))
        return 0
    if args.command == "migrate":
        from services import migrate

        if args.downgrade:
            migrate.downgrade(settings.database_url, args.revision)
        else:
            migrate.upgrade(settings.database_url, args.revision)
        print(f"valuegate migrate: database at {args.revision}")
        return 0
    if args.command == "seed":
        return asyncio.run(_seed(settings))
    if args.command == "add-admin":
        return asyncio.run(_add_admin(settings, args.email, args.name))
    if args.command == "api-token":
        return asyncio.run(_api_token(settings, args.email, args.name))
    if args.command == "import":
        return asyncio.run(
            _import(settings, args.file, args.organization, args.email, apply=not args.dry_run)
        )
    if args.command == "audit-verify":
        return asyncio.run(_audit_verify(settings, with_temporal=not args.no_temporal))
    if args.command == "rollup-verify":
        return asyncio.run(_rollup_verify(settings, repair=args.repair))
    raise AssertionError(args.command)


async def _seed(settings: Settings) -> int:
    if settings.environment is not Environment.DEV:
        print("valuegate seed: the demo's people share a published password; dev only")
        return 1
    from services.db import create_engine, session_factory
    from services.temporal_client import connect
    from valuegate import demo

    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    try:
        async with sessions() as session:
            if await demo.is_seeded(session):
                print("valuegate seed: the database already has data; nothing done")
                return 0
        count = await demo.seed(
            sessions,
            temporal=await connect(settings),
            task_queue=settings.temporal_task_queue,
            today=date.today(),
        )
        print(f"valuegate seed: {count} demo measures created and their workflows started")
        return 0
    finally:
        await engine.dispose()


async def _add_admin(settings: Settings, email: str, name: str) -> int:
    """The first admin of a new installation (every later person is added through the API)."""
    from getpass import getpass

    from models.audit import Actor, Channel
    from models.people import Person
    from services import accounts, audit
    from services.db import create_engine, session_factory, transaction

    password = getpass("Password: ") if sys.stdin.isatty() else sys.stdin.readline().strip()
    if len(password) < MIN_PASSWORD_LENGTH:
        print(f"valuegate add-admin: the password needs {MIN_PASSWORD_LENGTH} characters or more")
        return 1
    engine = create_engine(settings.database_url)
    try:
        async with transaction(session_factory(engine)) as session:
            person = Person(
                email=email.strip().lower(),
                name=name,
                is_admin=True,
                password_hash=accounts.hash_password(password),
            )
            session.add(person)
            await session.flush()
            await audit.record(
                session,
                actor=Actor(label="valuegate add-admin", channel=Channel.CLI),
                entity_type="person",
                entity_id=person.id or 0,
                action="person.created",
                after={"email": person.email, "name": name, "is_admin": True},
            )
    except IntegrityError:
        print(f"valuegate add-admin: someone already has the email {email}")
        return 1
    finally:
        await engine.dispose()
    print(f"valuegate add-admin: {name} <{email}> can sign in as an admin")
    return 0


async def _active_person(sessions: Any, email: str, command: str) -> Any:
    """The active person with `email`, or None (said on stderr)."""
    from sqlmodel import select

    from models.people import Person

    async with sessions() as session:
        person = (
            await session.exec(select(Person).where(Person.email == email.strip().lower()))
        ).first()
    if person is None or not person.active:
        print(f"valuegate {command}: no active person with the email {email}", file=sys.stderr)
        return None
    return person


async def _api_token(settings: Settings, email: str, name: str) -> int:
    """A personal API token for scripts, issued by whoever runs the server."""

    from services import accounts
    from services.db import create_engine, session_factory

    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    try:
        person = await _active_person(sessions, email, "api-token")
        if person is None:
            return 1
        _, token = await accounts.issue_api_token(sessions, person, name)
    finally:
        await engine.dispose()
    print(token)
    return 0


async def _import(
    settings: Settings, file: Path, organization_id: int, email: str, *, apply: bool
) -> int:
    """The import as the page and the API run it, as a job for `email`, checked or applied in
    this process; the job's workflow then starts the lifecycles. Exit 1 on any problem."""

    from models.organization import Organization
    from services import import_jobs, importer
    from services.db import create_engine, session_factory, transaction
    from services.temporal_client import connect

    try:
        content = await asyncio.to_thread(file.read_bytes)
    except OSError as error:
        print(f"valuegate import: {error}", file=sys.stderr)
        return 1
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    try:
        person = await _active_person(sessions, email, "import")
        if person is None:
            return 1
        async with transaction(sessions) as session:
            if await session.get(Organization, organization_id) is None:
                print(f"valuegate import: no organization {organization_id}", file=sys.stderr)
                return 1
            job = await import_jobs.create(
                session,
                organization_id=organization_id,
                person=person,
                file_name=file.name,
                content=content,
                apply=apply,
            )
        outcome = await import_jobs.run(
            sessions,
            job_id=job.id or 0,
            max_unpacked=settings.import_max_unpacked_bytes,
            progress=importer.Progress(),
        )
        if outcome.follow_ups:
            client = await connect(settings)
            await import_jobs.start(
                client, job_id=job.id or 0, task_queue=settings.temporal_task_queue
            )
        async with sessions() as session:
            report = import_jobs.report_of(
                await import_jobs.get(session, job_id=job.id or 0, person=person)
            )
    finally:
        await engine.dispose()
    assert report is not None
    for sheet, counts in report.counts.items():
        print(f"{sheet}: " + ", ".join(f"{n} {what}" for what, n in sorted(counts.items())))
    for problem in report.problems:
        value = f" ({problem.value})" if problem.value else ""
        print(f"{problem.cell}{value}: {problem.message}")
    if report.problems:
        print(f"{len(report.problems)} problems: nothing was written")
        return 1
    print(
        f"imported (import {job.id})"
        if report.applied
        else "checked: ready to apply (nothing was written)"
    )
    return 0


async def _audit_verify(settings: Settings, *, with_temporal: bool = True) -> int:
    from services import audit
    from services.db import create_engine, session_factory
    from services.temporal_client import connect
    from valuegate import audit_anchors

    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            problems = await audit.verify_chain(session)
            if with_temporal:
                client = await connect(settings)
                handles = audit_anchors.every_measure(client)
                checked, wrong = await audit_anchors.check(session, client, handles)
                problems += wrong
                print(f"checked {checked} anchors in the measures' Temporal histories")
    finally:
        await engine.dispose()
    for problem in problems:
        print(f"event {problem.event_id}: {problem.problem}")
    print("audit trail intact" if not problems else f"audit trail BROKEN: {len(problems)} problems")
    return 0 if not problems else 1


async def _rollup_verify(settings: Settings, *, repair: bool) -> int:
    from services import totals
    from services.db import create_engine, session_factory, transaction

    engine = create_engine(settings.database_url)
    try:
        sessions = session_factory(engine)
        async with sessions() as session:
            problems = await totals.differences(session)
        for problem in problems:
            print(problem)
        if problems and repair:
            async with transaction(sessions) as session:
                await totals.rebuild(session)
            print("totals repaired: recomputed from the monthly values")
            return 0
    finally:
        await engine.dispose()
    print("totals agree with the monthly values" if not problems else "totals DIFFER")
    return 0 if not problems else 1
