"""Temporal workflow definitions. Deterministic code only: these modules import the standard
library, temporalio, pydantic and the pure domain modules, never I/O."""
