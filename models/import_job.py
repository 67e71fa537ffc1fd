"""An import of a workbook as a job: the file as uploaded, who asked for what (a dry run or
applying it), and, once its workflow has run it, the report. The job outlives the request and a
restart of any process: its workflow (`import-<id>`) picks it up where it stood."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, LargeBinary
from sqlmodel import Field, SQLModel

from models.base import metadata as _metadata  # noqa: F401
from models.columns import UTCDateTime, utcnow


class ImportJob(SQLModel, table=True):
    __tablename__ = "import_job"

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    file_name: str = Field(max_length=255)
    size_bytes: int
    apply: bool
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Written in the same transaction as what the import applied: a report means it is done.
    report: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    # Set when the job needs nothing more: lifecycles started, or the import failed for good.
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    failure: str | None = Field(default=None, max_length=2000)


class ImportFile(SQLModel, table=True):
    """The uploaded workbook, apart from its job so that reading a job does not read the file."""

    __tablename__ = "import_file"

    job_id: int = Field(foreign_key="import_job.id", primary_key=True)
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
