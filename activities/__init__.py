"""Temporal activities: every database write and email send of the lifecycle."""
