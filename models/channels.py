"""Through which door a change came in: one name for the audit trail and the lifecycle's
messages alike (pure, so workflow code may import it)."""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    """Through which door a change came in."""

    API = "api"
    PAGE = "page"
    EMAIL_LINK = "email_link"
    WORKFLOW = "workflow"
    CLI = "cli"
    SEED = "seed"
    IMPORT = "import"
