# The worker image: `docker compose up` builds it (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# .dockerignore keeps out the venv, local state (.data, .env) and caches.
COPY . .
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /app --no-create-home mentorship

# Nothing here needs root.
USER mentorship

# SIGTERM (docker stop) lets in-flight activities finish; give the container stop_grace_period >= 60s.
STOPSIGNAL SIGTERM
CMD ["python", "worker.py"]
