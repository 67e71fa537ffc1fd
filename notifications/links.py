"""Signed-link tokens and how emails carry them.

A token is 256 random bits (URL-safe); the database keeps only its SHA-256. An email body is
stored with placeholders such as `[[link:approve]]`; the links are minted when the email is sent
and put in place of the placeholders, so neither the outbox nor any log holds a usable token.
Links are always built from the configured public base URL, never from a request.
"""

from __future__ import annotations

import hashlib
import re
import secrets

TOKEN_BYTES = 32  # 256 bits
_PLACEHOLDER = re.compile(r"\[\[link:([a-z]+)\]\]")
# What a link path looks like, so logs can be cleaned of tokens.
LINK_PATH = re.compile(r"/links/[A-Za-z0-9_\-]+")


def new_token() -> str:
    """A fresh token from the operating system's CSPRNG."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """What the database stores for `token`."""
    return hashlib.sha256(token.encode()).hexdigest()


def placeholder(action: str) -> str:
    """The text a template puts where the link for `action` goes."""
    return f"[[link:{action}]]"


def link_url(public_base_url: str, token: str) -> str:
    return f"{public_base_url.rstrip('/')}/links/{token}"


def fill_links(body: str, urls: dict[str, str]) -> str:
    """`body` with each placeholder replaced by its link."""
    return _PLACEHOLDER.sub(lambda match: urls[match.group(1)], body)


def redact(text: str) -> str:
    """`text` with every link token replaced by a mark (for logs)."""
    return LINK_PATH.sub("/links/[token]", text)
