"""Activity names, shared by the workflows (which call them by name) and the implementations."""

SEND_ASSIGNMENT_EMAIL = "send_assignment_email"
LOAD_SNAPSHOT = "load_measure_snapshot"
LOAD_POLICY = "load_gate_policy"
RECORD_FACTS = "record_lifecycle_facts"
FIND_DEPUTY = "find_deputised_approver"
NOTIFY = "send_lifecycle_notice"

# The error type of facts the database can never hold: the action ends, nothing is retried.
FACTS_REFUSED = "FactsRefused"

RUN_IMPORT = "run_import_job"
FOLLOW_UP_IMPORT = "follow_up_import_job"
FAIL_IMPORT = "record_import_failure"

REVIEW_FORECASTS = "review_forecasts"
