"""The monthly forecast review, started by the Temporal Schedule `forecast-review` on the first
of each month: every owner of a measure between Decided and closure is asked, in one email, to
confirm or revise those forecasts, and the measures whose forecast went unconfirmed are told, so
their value light in the Temporal UI's search attributes turns amber with the pages'."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    import activities.names as names
    from workflows.contracts import ForecastReview, ForecastReviewOutcome

SCHEDULE_ID = "forecast-review"
# The review heartbeats per owner asked: a worker that dies mid-review is noticed in a minute,
# and the next attempt skips the emails already in the outbox.
HEARTBEAT = timedelta(minutes=1)
LONG_WORK = timedelta(hours=2)


@workflow.defn
class ForecastReviewWorkflow:
    @workflow.run
    async def run(self, review: ForecastReview) -> ForecastReviewOutcome:
        """Review the forecasts as of `review.day` (None, as the schedule starts it: today)."""
        day = review.day or workflow.now().date()
        return await workflow.execute_activity(
            names.REVIEW_FORECASTS,
            ForecastReview(day=day),
            result_type=ForecastReviewOutcome,
            start_to_close_timeout=LONG_WORK,
            heartbeat_timeout=HEARTBEAT,
            retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=5)),
        )
