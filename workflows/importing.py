"""An import job as a durable workflow, id `import-<job id>`: check or apply the workbook (one
transaction, written together with its report), then start the lifecycles of the measures it
created and tell the changed ones. A restart of any process resumes the job; its progress is
kept in this workflow's memo ("4,200 of 10,000 rows checked"), which the app reads without
needing a worker to answer and the Temporal UI shows."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    import activities.names as names
    from models.import_report import ImportProgress
    from workflows.contracts import ImportJobRef, ImportOutcome

# A worker that dies mid-import stops heartbeating: another attempt starts within a minute, and
# the transaction of the one that died was never committed.
HEARTBEAT = timedelta(minutes=1)
LONG_WORK = timedelta(hours=2)
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2), maximum_interval=timedelta(minutes=1), maximum_attempts=5
)


def workflow_id_for(job_id: int) -> str:
    return f"import-{job_id}"


@workflow.defn
class ImportWorkflow:
    @workflow.run
    async def run(self, job: ImportJobRef) -> ImportOutcome:
        try:
            outcome = await workflow.execute_activity(
                names.RUN_IMPORT,
                job,
                result_type=ImportOutcome,
                start_to_close_timeout=LONG_WORK,
                heartbeat_timeout=HEARTBEAT,
                retry_policy=RETRY,
            )
            if outcome.follow_ups:
                _show(ImportProgress(step="lifecycles started", of=outcome.follow_ups))
                await workflow.execute_activity(
                    names.FOLLOW_UP_IMPORT,
                    job,
                    start_to_close_timeout=LONG_WORK,
                    heartbeat_timeout=HEARTBEAT,
                    retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)),
                )
        except ActivityError as error:
            # The job says it failed and why, instead of looking busy for ever.
            cause = error.cause or error
            await workflow.execute_activity(
                names.FAIL_IMPORT,
                args=[job, str(cause)[:2000]],
                start_to_close_timeout=timedelta(minutes=1),
                retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)),
            )
            raise
        _show(ImportProgress(step="finished"))
        return outcome

    @workflow.signal
    def progressed(self, progress: ImportProgress) -> None:
        """The running activity's count (it signals every second or so)."""
        _show(progress)


PROGRESS = "progress"  # the memo key


def _show(progress: ImportProgress) -> None:
    workflow.upsert_memo({PROGRESS: progress})
