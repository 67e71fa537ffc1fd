"""The Temporal Schedules ValueGate keeps: the monthly forecast review (workflows.forecast_review).
Every worker makes sure of them at start, so a new installation has them without a setup step
and a changed task queue reaches them."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from workflows.contracts import ForecastReview
from workflows.forecast_review import SCHEDULE_ID, ForecastReviewWorkflow

# On the first of each month at 06:00 UTC; a review missed while Temporal was down still runs
# if it is back within a week.
FIRST_OF_THE_MONTH = ScheduleCalendarSpec(
    day_of_month=[ScheduleRange(1)], hour=[ScheduleRange(6)], comment="first of the month"
)
CATCHUP = timedelta(days=7)


def forecast_review(*, task_queue: str, schedule_id: str = SCHEDULE_ID) -> Schedule:
    """The schedule of the monthly forecast review on `task_queue`."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            ForecastReviewWorkflow.run,
            ForecastReview(),
            id=schedule_id,
            task_queue=task_queue,
            static_summary="Monthly forecast review: owners confirm or revise their forecasts",
        ),
        spec=ScheduleSpec(calendars=[FIRST_OF_THE_MONTH]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=CATCHUP),
    )


async def ensure_forecast_review(
    client: Client, *, task_queue: str, schedule_id: str = SCHEDULE_ID
) -> None:
    """Create the forecast review's schedule, or bring the one there up to date."""
    wanted = forecast_review(task_queue=task_queue, schedule_id=schedule_id)
    try:
        await client.create_schedule(schedule_id, wanted)
    except ScheduleAlreadyRunningError:

        def updated(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=wanted)

        await client.get_schedule_handle(schedule_id).update(updated)
