"""Email: rendering (Jinja2, autoescaped) and SMTP sending (aiosmtplib). No Temporal, no FastAPI."""
