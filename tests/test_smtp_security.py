"""STARTTLS, implicit TLS and authentication against real TLS SMTP servers (aiosmtpd with a
certificate from a throwaway CA made by trustme)."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
import pytest_asyncio
import trustme
from aiosmtpd.smtp import AuthResult, LoginPassword

from notifications.mailer import SmtpConfig, build_message, send
from notifications.render import RenderedEmail
from tests.support import CapturingSmtp

EMAIL = RenderedEmail(
    subject="Decision needed", text="Please decide.", html="<p>Please decide.</p>"
)


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_tls(authority: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    return context


@pytest.fixture(scope="module")
def ca_file(authority: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    authority.cert_pem.write_to_path(str(path))
    return path


def _only_the_mailer(
    _server: Any, _session: Any, _envelope: Any, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"mailer", b"s3cret")
    return AuthResult(success=ok, handled=False)  # not handled: the server answers 535 itself


def _message() -> Any:
    return build_message(
        sender="ValueGate <vg@acme.example>",
        recipient="sam.sponsor@acme.example",
        message_id="<1@acme.example>",
        email=EMAIL,
    )


@pytest_asyncio.fixture(loop_scope="session")
async def starttls_server(server_tls: ssl.SSLContext) -> AsyncIterator[CapturingSmtp]:
    running = CapturingSmtp(
        tls_context=server_tls,
        require_starttls=True,
        authenticator=_only_the_mailer,
        auth_required=True,
    )
    running.start()
    yield running
    running.stop()


async def test_starttls_with_login_delivers(starttls_server: CapturingSmtp, ca_file: Path) -> None:
    config = SmtpConfig(
        host="127.0.0.1",
        port=starttls_server.port,
        security="starttls",
        username="mailer",
        password="s3cret",
        ca_file=str(ca_file),
    )
    await send(config, _message())
    [received] = await starttls_server.wait_for(1)
    assert received["Subject"] == "Decision needed"


async def test_a_wrong_password_is_refused(starttls_server: CapturingSmtp, ca_file: Path) -> None:
    wrong = SmtpConfig(
        host="127.0.0.1",
        port=starttls_server.port,
        security="starttls",
        username="mailer",
        password="guess",
        ca_file=str(ca_file),
    )
    with pytest.raises(aiosmtplib.SMTPAuthenticationError):
        await send(wrong, _message())
    assert starttls_server.messages == []


async def test_starttls_refuses_a_certificate_it_does_not_trust(
    starttls_server: CapturingSmtp,
) -> None:
    untrusting = SmtpConfig(
        host="127.0.0.1",
        port=starttls_server.port,
        security="starttls",
        username="mailer",
        password="s3cret",
    )
    with pytest.raises(ssl.SSLCertVerificationError):
        await send(untrusting, _message())
    assert starttls_server.messages == []


async def test_implicit_tls_delivers(server_tls: ssl.SSLContext, ca_file: Path) -> None:
    running = CapturingSmtp(ssl_context=server_tls)
    running.start()
    try:
        config = SmtpConfig(
            host="127.0.0.1", port=running.port, security="tls", ca_file=str(ca_file)
        )
        await send(config, _message())
        [received] = await running.wait_for(1)
    finally:
        running.stop()
    assert received["To"] == "sam.sponsor@acme.example"
