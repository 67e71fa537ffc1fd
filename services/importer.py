"""Importing an organization's workbook: hierarchy, measures, impact lines, monthly figures and
milestones, matched by external id, through the same services as every other door (so a frozen
plan is refused and segregation of duties holds), all in one transaction.

A dry run does the same work and rolls it back: its report is exactly what applying would meet.
Applying writes everything or nothing; each change is audited with the channel `import`."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import import_sheets as cells
from models.audit import Actor
from models.channels import Channel
from models.figures import ImpactLine, LineChange, LineIn, Milestone, MilestoneChange, MilestoneIn
from models.import_report import ImportReport
from models.import_sheets import FIGURES, HIERARCHY, LINES, MEASURES, MILESTONES, SHEETS, Problem
from models.measure import Measure, MeasureCreate, MeasureUpdate
from models.money import Scenario
from models.organization import (
    BusinessUnit,
    LegalEntity,
    MeasurePackage,
    Organization,
    Portfolio,
    Program,
    Project,
)
from models.people import Person
from services import access, figures, hierarchy, impact_lines, measures, milestones
from services.db import transaction
from services.errors import Conflict, FieldProblem, Forbidden, InvalidInput, NotFound
from services.workbooks import Row, Rows


@dataclass
class Report:
    """What the import found and did: every problem, and per sheet how many rows created,
    changed or left as they were."""

    rows: int
    problems: list[Problem] = field(default_factory=list)
    counts: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    applied: bool = False
    created_measures: list[int] = field(default_factory=list)
    changed_measures: list[int] = field(default_factory=list)

    def summary(self) -> dict[str, dict[str, int]]:
        return {sheet: dict(counts) for sheet, counts in self.counts.items()}

    def public(self, job: int | None = None) -> ImportReport:
        """The report as the API, the pages and the import job keep it."""
        return ImportReport(
            applied=self.applied,
            rows=self.rows,
            counts=self.summary(),
            problems=self.problems,
            created_measures=self.created_measures,
            changed_measures=self.changed_measures,
            job=job,
        )


@dataclass
class Progress:
    """How many rows the import has been through, of how many; another thread may read it as
    it runs."""

    done: int = 0
    of: int = 0


# Kept with the import: inside its transaction when it applies, so the two commit together.
Keep = Callable[[AsyncSession, Report], Awaitable[None]]


class _RollBack(Exception):
    """Leave the transaction without writing (a dry run, or a file with problems)."""


async def run(
    sessions: async_sessionmaker[AsyncSession],
    *,
    organization_id: int,
    rows: Rows,
    person: Person,
    apply: bool,
    progress: Progress | None = None,
    keep: Keep | None = None,
) -> Report:
    """Check (and with `apply`, write) the workbook's rows for the organization. `keep`, when
    given, stores the report: in the import's own transaction when it applies."""
    report = Report(rows=rows.count, problems=list(rows.problems))
    counted = progress or Progress()
    try:
        async with transaction(sessions) as session:
            work = _Import(session, organization_id, person, report)
            await work.load()
            await work.hierarchy(_counting(rows.take(HIERARCHY), counted))
            await work.measures(_counting(rows.take(MEASURES), counted))
            await work.lines(_counting(rows.take(LINES), counted))
            await work.figures(_counting(rows.take(FIGURES), counted))
            await work.milestones(_counting(rows.take(MILESTONES), counted))
            if report.problems or not apply:
                raise _RollBack
            report.applied = True
            if keep is not None:
                await keep(session, report)
    except _RollBack:
        report.created_measures, report.changed_measures = [], []
        if keep is not None:
            async with transaction(sessions) as session:
                await keep(session, report)
    return report


def _counting(rows: Iterable[Row], progress: Progress) -> Iterator[tuple[int, Row]]:
    for row in rows:
        progress.done += 1
        yield row.number, row


class _Import:
    def __init__(
        self, session: AsyncSession, organization_id: int, person: Person, report: Report
    ) -> None:
        self.session = session
        self.organization_id = organization_id
        self.person = person
        self.report = report
        self.actor = Actor.person(person.id, Channel.IMPORT)
        self.packages: dict[str, int] = {}  # package key → id
        self.measure_rows: dict[str, int] = {}  # external id → its row on the Measures sheet
        self.by_external: dict[str, Measure] = {}
        self.lines_by_key: dict[tuple[int, str], ImpactLine] = {}
        self.managed: dict[int, bool] = {}  # package → whether the importer manages it
        self.touched: set[int] = set()  # measures created or changed
        # Parsed cells by (parser, value, column): keys, scenarios and months repeat on every row.
        self.parsed: dict[tuple[Any, Any, str], Any] = {}

    # --- reference data --------------------------------------------------------------------

    async def load(self) -> None:
        s = self.session
        organization = await s.get(Organization, self.organization_id)
        if organization is None:
            raise NotFound(f"organization {self.organization_id}")
        self.group_currency = organization.group_currency
        self.people = {p.email.lower(): p for p in (await s.exec(select(Person))).all() if p.active}
        self.units = {
            u.code.upper(): u.id or 0
            for u in (
                await s.exec(
                    select(BusinessUnit).where(BusinessUnit.organization_id == self.organization_id)
                )
            ).all()
        }
        entities = (
            await s.exec(
                select(LegalEntity).where(LegalEntity.organization_id == self.organization_id)
            )
        ).all()
        self.entities = {e.code.upper(): e.id or 0 for e in entities}
        self.currencies = {e.id or 0: e.currency for e in entities}
        tree = (
            await s.exec(
                select(Portfolio.name, Program.name, Project.name, MeasurePackage)
                .join(Program, col(Program.portfolio_id) == Portfolio.id)
                .join(Project, col(Project.program_id) == Program.id)
                .join(MeasurePackage, col(MeasurePackage.project_id) == Project.id)
                .where(Portfolio.organization_id == self.organization_id)
            )
        ).all()
        self.package_paths: dict[tuple[str, ...], int] = {
            (a, b, c, pkg.name): pkg.id or 0 for a, b, c, pkg in tree
        }
        in_organization = [pkg.id for *_, pkg in tree]
        # A measure is known by its external id; one that has none yet (made in the app) by its
        # code, M-<id>, as the pre-filled template writes it. Lines alike: L-<id>.
        found = (
            await s.exec(select(Measure).where(col(Measure.package_id).in_(in_organization)))
        ).all()
        for measure in found:
            self.by_external[measure.external_id or f"M-{measure.id}"] = measure
        ids = [m.id for m in found]
        for line in (
            await s.exec(select(ImpactLine).where(col(ImpactLine.measure_id).in_(ids)))
        ).all():
            self.lines_by_key[(line.measure_id, line.external_id or f"L-{line.id}")] = line

    # --- sheets ----------------------------------------------------------------------------

    async def hierarchy(self, rows: Iterable[tuple[int, Row]]) -> None:
        for number, row in rows:
            key = self._cell(HIERARCHY.name, number, row, "Package key", cells.text, max_length=80)
            names = [
                self._cell(HIERARCHY.name, number, row, level, cells.text, max_length=200)
                for level in ("Portfolio", "Program", "Project", "Package")
            ]
            if key is None or any(n is None for n in names):
                continue
            if key in self.packages:
                self._problem(HIERARCHY.name, number, "Package key", key, "used twice")
                continue
            path = tuple(str(n) for n in names)
            if path in self.package_paths:
                self.packages[key] = self.package_paths[path]
                self.report.counts[HIERARCHY.name]["unchanged"] += 1
                continue
            try:
                self.packages[key] = await self._create_path(path)
            except (Forbidden, InvalidInput, NotFound) as error:
                self._problem(HIERARCHY.name, number, "Portfolio", path[0], _said(error))
                continue
            self.report.counts[HIERARCHY.name]["created"] += 1

    async def _create_path(self, path: tuple[str, ...]) -> int:
        """The package at `path`, creating the levels that are missing."""
        parent_id: int | None = self.organization_id
        prefix: tuple[str, ...] = ()
        for level_name, name in zip(
            ("portfolio", "program", "project", "package"), path, strict=True
        ):
            level = hierarchy.LEVELS[level_name]
            prefix = (*prefix, name)
            found = await self._existing(level, parent_id, name)
            if found is None:
                node = await hierarchy.add(
                    self.session,
                    level,
                    {"name": name, level.parent_field or "": parent_id},
                    self.person,
                    self.actor,
                )
                found = node.id
            parent_id = found
        assert parent_id is not None
        self.package_paths[path] = parent_id
        return parent_id

    async def _existing(self, level: Any, parent_id: int | None, name: str) -> int | None:
        model = level.model
        parent = getattr(model, level.parent_field)
        found = (
            await self.session.exec(select(model.id).where(parent == parent_id, model.name == name))
        ).first()
        return found

    async def measures(self, rows: Iterable[tuple[int, Row]]) -> None:
        """Changed measures one by one through `measures.edit`; new ones in a batch."""
        sheet = MEASURES.name
        new: list[tuple[int, str, MeasureCreate]] = []
        for number, row in rows:
            external = self._cell(sheet, number, row, "External id", cells.text, max_length=80)
            if external is None:
                continue
            if external in self.measure_rows:
                self._problem(
                    sheet, number, "External id", external,
                    f"the same external id is on row {self.measure_rows[external]}",
                )  # fmt: skip
                continue
            self.measure_rows[external] = number
            fields = self._measure_fields(number, row)
            if fields is None:
                continue
            existing = self.by_external.get(external)
            try:
                if existing is None:
                    data = await self._new_measure(fields)
                    new.append((number, external, data))
                else:
                    await self._change_measure(existing, fields)
            except ValidationError as error:
                for e in error.errors():
                    where = _header(str(e["loc"][0])) if e["loc"] else "External id"
                    self._problem(sheet, number, where, None, e["msg"])
            except InvalidInput as error:
                for p in error.problems:
                    self._problem(sheet, number, _header(p.field), None, p.message)
            except (Forbidden, NotFound, Conflict) as error:
                self._problem(sheet, number, "External id", external, _said(error))
        made, refused = await measures.create_many(
            self.session,
            [data for _, _, data in new],
            self.actor,
            external_ids=[external for _, external, _ in new],
        )
        for index, (number, external, _) in enumerate(new):
            if index in refused:
                for p in refused[index].problems:
                    self._problem(sheet, number, _header(p.field), None, p.message)
                continue
            measure = made[index]
            self.by_external[external] = measure
            self.touched.add(measure.id or 0)
            self.report.created_measures.append(measure.id or 0)
            self.report.counts[sheet]["created"] += 1

    def _measure_fields(self, number: int, row: Row) -> dict[str, Any] | None:
        sheet, before = MEASURES.name, len(self.report.problems)
        fields: dict[str, Any] = {
            "title": self._cell(sheet, number, row, "Title", cells.text, max_length=200),
            "description": self._cell(
                sheet, number, row, "Description", cells.text, max_length=5000
            )
            or "",
            "baseline_period": self._cell(
                sheet, number, row, "Baseline period", cells.text, max_length=40
            ),
            "baseline_source": self._cell(
                sheet, number, row, "Baseline source", cells.text, max_length=500
            ),
            "plan_start": self._cell(sheet, number, row, "Plan start", cells.month),
        }
        horizon = self._cell(
            sheet, number, row, "Horizon months", cells.whole_number, low=1, high=120
        )
        if horizon is not None:
            fields["horizon_months"] = horizon
        key = self._cell(sheet, number, row, "Package key", cells.text, max_length=80)
        if key is not None:
            if key in self.packages:
                fields["package_id"] = self.packages[key]
            else:
                self._problem(
                    sheet, number, "Package key", key, "no such key on the Hierarchy sheet"
                )
        for column, name in (
            ("Owner email", "owner_id"),
            ("Sponsor email", "sponsor_id"),
            ("Controller email", "controller_id"),
        ):
            email = self._cell(sheet, number, row, column, cells.text, max_length=320)
            if email is None:
                fields[name] = None
            elif email.lower() in self.people:
                fields[name] = self.people[email.lower()].id
            else:
                self._problem(sheet, number, column, email, "no active person has this email")
        for column, name, known in (
            ("Business unit", "business_unit_id", self.units),
            ("Legal entity", "legal_entity_id", self.entities),
        ):
            code = self._cell(sheet, number, row, column, cells.text, max_length=20)
            if code is None:
                fields[name] = None
            elif code.upper() in known:
                fields[name] = known[code.upper()]
            else:
                self._problem(
                    sheet, number, column, code, f"no {column.lower()} {code} in this organization"
                )
        currency = self.currencies.get(fields.get("legal_entity_id") or 0, self.group_currency)
        fields["baseline_amount"] = self._cell(
            sheet, number, row, "Baseline amount", cells.amount, currency=currency
        )
        return fields if len(self.report.problems) == before else None

    async def _new_measure(self, fields: dict[str, Any]) -> MeasureCreate:
        """What a new measure's row asks for, once its importer may create it there."""
        package = fields["package_id"]
        if package not in self.managed:
            portfolio = await measures.portfolio_of(self.session, package_id=package)
            self.managed[package] = await access.manages_portfolio(
                self.session, self.person, portfolio
            )
        if not self.managed[package]:
            raise Forbidden("only the portfolio's managers and admins create its measures")
        return MeasureCreate.model_validate({k: v for k, v in fields.items() if v is not None})

    async def _change_measure(self, measure: Measure, fields: dict[str, Any]) -> None:
        if fields.get("package_id") not in (None, measure.package_id):
            raise InvalidInput(
                [FieldProblem("package_id", "a measure stays in its package: import it as new")]
            )
        changes = {
            name: value
            for name, value in fields.items()
            if name != "package_id" and getattr(measure, name) != value
        }
        if not changes:
            self.report.counts[MEASURES.name]["unchanged"] += 1
            return
        await measures.edit(
            self.session,
            measure_id=measure.id or 0,
            data=MeasureUpdate.model_validate(changes),
            person=self.person,
            channel=Channel.IMPORT,
        )
        self.report.changed_measures.append(measure.id or 0)
        self.report.counts[MEASURES.name]["changed"] += 1

    def _measure_of(self, sheet: str, number: int, row: Row) -> Measure | None:
        external = self._cell(sheet, number, row, "Measure external id", cells.text, max_length=80)
        if external is None:
            return None
        measure = self.by_external.get(external)
        if measure is None:
            self._problem(
                sheet, number, "Measure external id", external, "no measure has this external id"
            )
        return measure

    async def lines(self, rows: Iterable[tuple[int, Row]]) -> None:
        sheet = LINES.name
        seen: dict[tuple[int, str], int] = {}
        new: list[tuple[int, impact_lines.NewLine]] = []
        for number, row in rows:
            measure = self._measure_of(sheet, number, row)
            key = self._cell(sheet, number, row, "Line key", cells.text, max_length=80)
            category = self._cell(sheet, number, row, "Category", cells.category)
            description = self._cell(sheet, number, row, "Description", cells.text, max_length=500)
            if measure is None or key is None:
                continue
            currency = self.currencies.get(measure.legal_entity_id or 0, self.group_currency)
            potential = self._cell(
                sheet, number, row, "Annual potential", cells.amount, currency=currency
            )
            identity = (measure.id or 0, key)
            if identity in seen:
                self._problem(
                    sheet, number, "Line key", key, f"the same line is on row {seen[identity]}"
                )
                continue
            seen[identity] = number
            if category is None or description is None:
                continue
            existing = self.lines_by_key.get(identity)
            try:
                if existing is None:
                    data = LineIn(
                        category=category, description=description, annual_potential=potential
                    )
                    new.append((number, impact_lines.NewLine(measure, data, currency, key)))
                elif (existing.category, existing.description, existing.annual_potential) != (
                    category, description, potential,
                ):  # fmt: skip
                    await impact_lines.change(
                        self.session,
                        measure_id=measure.id or 0,
                        line_id=existing.id or 0,
                        data=LineChange(
                            category=category, description=description, annual_potential=potential
                        ),
                        person=self.person,
                        actor=self.actor,
                    )
                    self._changed(measure)
                    self.report.counts[sheet]["changed"] += 1
                else:
                    self.report.counts[sheet]["unchanged"] += 1
            except (InvalidInput, Forbidden, NotFound) as error:
                self._problem(sheet, number, "Line key", key, _said(error))
        made, refused = await impact_lines.add_many(
            self.session, [line for _, line in new], person=self.person, actor=self.actor
        )
        for index, (number, item) in enumerate(new):
            if index in refused:
                self._problem(sheet, number, "Line key", item.external_id, _said(refused[index]))
                continue
            self.lines_by_key[(item.measure.id or 0, item.external_id or "")] = made[index]
            self._changed(item.measure)
            self.report.counts[sheet]["created"] += 1

    async def figures(self, rows: Iterable[tuple[int, Row]]) -> None:
        sheet = FIGURES.name
        series: dict[tuple[int, Scenario], dict[date, tuple[Decimal, int]]] = defaultdict(dict)
        owners: dict[int, tuple[Measure, ImpactLine]] = {}
        for number, row in rows:
            measure = self._measure_of(sheet, number, row)
            key = self._cell(sheet, number, row, "Line key", cells.text, max_length=80)
            scenario = self._cell(sheet, number, row, "Scenario", cells.scenario)
            period = self._cell(sheet, number, row, "Month", cells.month)
            if measure is None or key is None:
                continue
            line = self.lines_by_key.get((measure.id or 0, key))
            if line is None:
                self._problem(sheet, number, "Line key", key, "no such line of this measure")
                continue
            currency = self.currencies.get(measure.legal_entity_id or 0, self.group_currency)
            amount = self._cell(sheet, number, row, "Amount", cells.amount, currency=currency)
            if scenario is None or period is None or amount is None:
                continue
            values = series[(line.id or 0, scenario)]
            if period in values:
                self._problem(
                    sheet, number, "Month", period.isoformat(),
                    f"the same month is on row {values[period][1]}",
                )  # fmt: skip
                continue
            values[period] = (amount, number)
            owners[line.id or 0] = (measure, line)
        before = await figures.current(self.session, sorted({line for line, _ in series}))
        changes, rows_of = [], []
        for (line_id, scenario), values in series.items():
            measure, line = owners[line_id]
            wanted = {period: amount for period, (amount, _) in values.items()}
            if before.get((line_id, scenario), {}) == wanted:
                self.report.counts[sheet]["unchanged"] += len(wanted)
                continue
            currency = self.currencies.get(measure.legal_entity_id or 0, self.group_currency)
            changes.append(figures.SeriesChange(measure, line, scenario, wanted, currency))
            rows_of.append(values)
        refused = await figures.replace_many(self.session, changes, before, self.actor)
        for index, change in enumerate(changes):
            values = rows_of[index]
            first_row = min(number for _, number in values.values())
            error = refused.get(index)
            if error is None:
                self._changed(change.measure)
                self.report.counts[sheet]["changed"] += len(change.values)
            elif isinstance(error, InvalidInput):
                for p in error.problems:
                    period_text = p.field.removeprefix("values.")
                    at = next(
                        (n for d, (_, n) in values.items() if d.isoformat() == period_text),
                        first_row,
                    )
                    self._problem(sheet, at, "Month", period_text, p.message)
            else:
                self._problem(sheet, first_row, "Scenario", change.scenario.value, str(error))

    async def milestones(self, rows: Iterable[tuple[int, Row]]) -> None:
        sheet = MILESTONES.name
        existing: dict[int, dict[str, Milestone]] = {}
        for number, row in rows:
            measure = self._measure_of(sheet, number, row)
            title = self._cell(sheet, number, row, "Title", cells.text, max_length=200)
            planned = self._cell(sheet, number, row, "Planned date", cells.day)
            done = self._cell(sheet, number, row, "Done date", cells.day)
            email = self._cell(sheet, number, row, "Owner email", cells.text, max_length=320)
            owner_id = measure.owner_id if measure else None
            if email is not None:
                if email.lower() in self.people:
                    owner_id = self.people[email.lower()].id
                else:
                    self._problem(
                        sheet, number, "Owner email", email, "no active person has this email"
                    )
                    continue
            if measure is None or title is None or planned is None:
                continue
            if measure.id not in existing:
                existing[measure.id or 0] = {
                    m.title: m for m in await milestones.of(self.session, measure.id or 0)
                }
            found = existing[measure.id or 0].get(title)
            try:
                if found is None:
                    made = await milestones.add(
                        self.session,
                        measure=measure,
                        data=MilestoneIn(title=title, planned_date=planned, owner_id=owner_id),
                        person=self.person,
                        actor=self.actor,
                    )
                    if done is not None:
                        await self._milestone_change(measure, made, {"done_date": done})
                    existing[measure.id or 0][title] = made
                    self.report.counts[sheet]["created"] += 1
                    self._changed(measure)
                elif (found.planned_date, found.owner_id, found.done_date) != (
                    planned,
                    owner_id,
                    done,
                ):
                    changes = {"planned_date": planned, "owner_id": owner_id, "done_date": done}
                    await self._milestone_change(measure, found, changes)
                    self.report.counts[sheet]["changed"] += 1
                    self._changed(measure)
                else:
                    self.report.counts[sheet]["unchanged"] += 1
            except (InvalidInput, Forbidden, NotFound) as error:
                self._problem(sheet, number, "Title", title, _said(error))

    async def _milestone_change(
        self, measure: Measure, milestone: Milestone, changes: dict[str, Any]
    ) -> None:
        await milestones.change(
            self.session,
            measure=measure,
            milestone_id=milestone.id or 0,
            data=MilestoneChange.model_validate(changes),
            person=self.person,
            actor=self.actor,
        )

    # --- helpers ---------------------------------------------------------------------------

    def _changed(self, measure: Measure) -> None:
        if measure.id not in self.touched:
            self.touched.add(measure.id or 0)
            self.report.changed_measures.append(measure.id or 0)

    def _cell(
        self, sheet: str, number: int, row: Row, column: str, parse: Any, **options: Any
    ) -> Any:
        value = row.get(column)
        if value is None and column in REQUIRED[sheet]:
            self._problem(sheet, number, column, None, "this is required")
            return None
        remembered = (parse in REPEATING or column in KEYS) and not isinstance(value, float)
        key = (parse, value, column)
        if remembered and key in self.parsed:
            found = self.parsed[key]
        else:
            try:
                found = parse(value, **options)
            except cells.CellError as error:
                found = error
            if remembered:
                self.parsed[key] = found
        if isinstance(found, cells.CellError):
            self._problem(sheet, number, column, cells.shown(value), str(found))
            return None
        return found

    def _problem(
        self, sheet: str, number: int, column: str | None, value: Any, message: str
    ) -> None:
        self.report.problems.append(
            Problem(sheet=sheet, row=number, column=column, value=value, message=message)
        )


# Parsers whose answer depends on the cell alone (no options), and columns whose values repeat
# on many rows (a measure's key on each of its figures): worth remembering.
REPEATING = {cells.scenario, cells.category, cells.month, cells.day}
KEYS = {"Measure external id", "Line key"}
REQUIRED = {sheet.name: {c.header for c in sheet.columns if c.required} for sheet in SHEETS}
HEADERS = {
    "title": "Title",
    "description": "Description",
    "owner_id": "Owner email",
    "sponsor_id": "Sponsor email",
    "controller_id": "Controller email",
    "business_unit_id": "Business unit",
    "legal_entity_id": "Legal entity",
    "plan_start": "Plan start",
    "horizon_months": "Horizon months",
    "baseline_amount": "Baseline amount",
    "baseline_period": "Baseline period",
    "baseline_source": "Baseline source",
    "package_id": "Package key",
}


def _header(field_name: str) -> str:
    return HEADERS.get(field_name, field_name)


def _said(error: Exception) -> str:
    if isinstance(error, InvalidInput):
        return "; ".join(p.message for p in error.problems)
    return f"{error} not found" if isinstance(error, NotFound) else str(error)
