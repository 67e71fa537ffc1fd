"""The ValueGate web application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from api import access_log, errors
from api.csrf import FormGuard
from api.limits import FailureLimiter
from api.request_guard import RequestGuard
from api.routes import (
    account,
    admin_pages,
    dashboard,
    delegations,
    dimensions,
    exports,
    figures,
    health,
    hierarchy,
    imports,
    lifecycle,
    links,
    mail,
    measure_edits,
    measures,
    milestones,
    my_work_pages,
    pages,
    people,
    policies,
    portfolio_pages,
    portfolio_roles,
    rates,
)
from api.security_headers import SecurityHeaders
from config.settings import Environment, Settings, get_settings
from services.db import create_engine, session_factory
from services.temporal_client import connect

STATIC_DIR = Path(__file__).parent / "static"


def create_app(
    settings: Settings | None = None,
    *,
    engine: AsyncEngine | None = None,
    temporal: Client | None = None,
) -> FastAPI:
    """The app; an engine or Temporal client passed in is used instead of creating one."""
    settings = settings or get_settings()
    access_log.install()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_engine = app.state.engine is None
        if own_engine:
            app.state.engine = create_engine(settings.database_url)
            app.state.sessions = session_factory(app.state.engine)
        if app.state.temporal is None:
            app.state.temporal = await connect(settings)
        yield
        if own_engine:
            await app.state.engine.dispose()

    # The docs pages (/docs, /redoc) with their scripts served by the app itself, not a CDN.
    app = FastAPIOffline(
        title="ValueGate",
        summary="Measures tied to money, passing stage gates, closed on verified figures.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = session_factory(engine) if engine is not None else None
    app.state.temporal = temporal
    app.state.form_guard = FormGuard(
        secret=settings.secret_key.get_secret_value(),
        public_base_url=str(settings.public_base_url),
    )
    # The caught-mail page exists only in the dev stack, and only for admins.
    app.state.mail_page = (
        settings.environment is Environment.DEV and settings.mail_catcher_dir is not None
    )
    app.state.link_limiter = FailureLimiter(settings.link_failures_per_minute)
    app.state.sign_in_limiter = FailureLimiter(settings.link_failures_per_minute)

    app.add_middleware(
        RequestGuard,
        max_bytes=settings.max_request_bytes,
        upload_max_bytes=settings.import_max_bytes,
    )
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(health.router)
    app.include_router(account.router)
    app.include_router(people.router)
    app.include_router(delegations.router)
    for router in hierarchy.routers:
        app.include_router(router)
    app.include_router(dimensions.business_units)
    app.include_router(dimensions.legal_entities)
    app.include_router(rates.router)
    app.include_router(dashboard.router)
    app.include_router(measures.router)
    app.include_router(lifecycle.router)
    app.include_router(figures.lines)
    app.include_router(figures.router)
    app.include_router(milestones.router)
    app.include_router(policies.router)
    app.include_router(portfolio_roles.router)
    app.include_router(pages.router)
    app.include_router(my_work_pages.router)
    app.include_router(imports.router)
    app.include_router(exports.router)
    app.include_router(imports.pages)
    app.include_router(portfolio_pages.router)
    app.include_router(measure_edits.router)
    app.include_router(admin_pages.router)
    app.include_router(mail.router)
    app.include_router(links.router)

    @app.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse("/measures", status_code=303)

    errors.install(app)
    return app
