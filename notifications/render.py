"""Render an email from its templates: `<name>.subject.txt`, `<name>.txt` and `<name>.html`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

_env = Environment(
    loader=PackageLoader("notifications", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def render_email(template: str, /, **context: Any) -> RenderedEmail:
    """The subject, plain-text and HTML parts of email `template` for `context`."""
    subject = _env.get_template(f"{template}.subject.txt").render(**context)
    return RenderedEmail(
        subject=" ".join(subject.split()),  # one line: a header never carries a newline
        text=_env.get_template(f"{template}.txt").render(**context),
        html=_env.get_template(f"{template}.html").render(**context),
    )
