"""Activity names, shared by the workflows (which call them by name) and the implementations."""

SEND_ASSIGNMENT_EMAIL = "send_assignment_email"
