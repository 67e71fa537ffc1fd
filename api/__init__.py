"""The FastAPI application: REST API under /api, server-rendered pages, health."""
