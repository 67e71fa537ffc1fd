"""Messages reach a real SMTP server intact: UTF-8 subject and both parts, the outbox's ids;
the worker's mailer keeps its connections and replaces one the server closed."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from notifications.mailer import Mailer, SmtpConfig, build_message, message_id_for, send
from notifications.render import RenderedEmail
from tests.support import CapturingSmtp


async def test_non_ascii_subject_and_parts_arrive_intact(smtp: CapturingSmtp) -> None:
    email = RenderedEmail(
        subject="Décision requise : réduire les coûts – M-7",  # noqa: RUF001 (on purpose)
        text="Bonjour Zoë,\nle coût baisse de 12 000 €.",
        html="<p>Bonjour Zoë, le coût baisse de <b>12&nbsp;000&nbsp;€</b>.</p>",
    )
    message_id = message_id_for(
        "measure-7/gate1/requested/sponsor/3", "ValueGate <vg@acme.example>"
    )
    message = build_message(
        sender="ValueGate <vg@acme.example>",
        recipient="zoe@acme.example",
        message_id=message_id,
        email=email,
    )

    await send(SmtpConfig(host="127.0.0.1", port=smtp.port), message)
    [received] = await smtp.wait_for(1)

    assert str(received["Subject"]) == email.subject
    assert received["Message-ID"] == message_id
    assert message_id.endswith("@acme.example>")
    assert received.get_body(("plain",)).get_content().rstrip() == email.text  # type: ignore[union-attr]
    assert "12&nbsp;000&nbsp;€" in received.get_body(("html",)).get_content()  # type: ignore[union-attr]


def _message(n: int) -> object:
    return build_message(
        sender="ValueGate <vg@acme.example>",
        recipient="zoe@acme.example",
        message_id=message_id_for(f"test/{n}", "vg@acme.example"),
        email=RenderedEmail(subject=f"Message {n}", text="text", html="<p>html</p>"),
    )


async def test_the_mailer_sends_one_email_after_another_on_one_connection(
    smtp: CapturingSmtp,
) -> None:
    mailer = Mailer(SmtpConfig(host="127.0.0.1", port=smtp.port))
    for n in range(3):
        await mailer.send(_message(n))  # type: ignore[arg-type]
    await mailer.close()

    received = await smtp.wait_for(3)
    assert [str(m["Subject"]) for m in received] == ["Message 0", "Message 1", "Message 2"]
    assert smtp.greetings == 1


def _drop_kept_connection(smtp: CapturingSmtp) -> None:
    smtp.restart()  # the relay closed the idle connection


def _answer_closing(smtp: CapturingSmtp) -> None:
    smtp.closing = True  # the relay answers 421 on a connection it timed out


@pytest.mark.parametrize("hang_up", [_drop_kept_connection, _answer_closing])
async def test_the_mailer_reconnects_when_the_server_let_its_connection_go(
    smtp: CapturingSmtp, hang_up: Callable[[CapturingSmtp], None]
) -> None:
    mailer = Mailer(SmtpConfig(host="127.0.0.1", port=smtp.port))
    await mailer.send(_message(1))  # type: ignore[arg-type]
    hang_up(smtp)

    await mailer.send(_message(2))  # type: ignore[arg-type]
    await mailer.close()

    received = await smtp.wait_for(2)
    assert [str(m["Subject"]) for m in received] == ["Message 1", "Message 2"]
    assert smtp.greetings == 2
