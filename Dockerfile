# One image for the api, the worker and the migration job.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY valuegate ./valuegate
COPY config ./config
COPY models ./models
COPY services ./services
COPY workflows ./workflows
COPY activities ./activities
COPY api ./api
COPY notifications ./notifications
COPY migrations ./migrations
RUN pip install . && useradd --create-home --uid 10001 valuegate
USER valuegate
EXPOSE 8000
CMD ["valuegate", "api", "--host", "0.0.0.0", "--port", "8000"]
