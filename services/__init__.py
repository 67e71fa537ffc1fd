"""Database operations shared by the API, the activities and the CLI; each writes its audit event
in the same transaction as the change."""
