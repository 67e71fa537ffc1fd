"""What an import reports, as the API, the pages and the import's workflow pass it on: the
report of a finished import, the progress of a running one, a job as the API shows it. Pure:
the import's workflow imports it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from models.import_sheets import Problem


class ImportReport(BaseModel):
    """What an import found and did. `applied` is false for a dry run, and whenever a problem
    was found: then nothing was written."""

    applied: bool
    rows: int
    counts: dict[str, dict[str, int]]
    problems: list[Problem]
    created_measures: list[int]
    changed_measures: list[int]
    job: int | None = None  # the import job that produced the report

    @property
    def unreadable(self) -> bool:
        """The file as a whole could not be read (not a workbook, damaged, too large inside)."""
        return any(p.sheet == FILE for p in self.problems)


FILE = "(file)"  # a problem of the whole file, not of a sheet


class ImportProgress(BaseModel):
    """How far a running import is: `done` of `of` in its current step."""

    step: str = "waiting for a worker"
    done: int = 0
    of: int = 0

    def said(self) -> str:
        if not self.of:
            return self.step
        return f"{self.done:,} of {self.of:,} {self.step}"


class ImportJobPublic(BaseModel):
    """An import job as the API shows it: running (with its progress), finished (with its
    report), or failed (with the reason)."""

    id: int
    organization_id: int
    file_name: str
    apply: bool
    state: str  # running, finished, failed
    progress: ImportProgress | None = None
    report: ImportReport | None = None
    failure: str | None = None
    created_at: datetime
    finished_at: datetime | None = None
