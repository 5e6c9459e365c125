# The worker image: `docker compose up` builds it (see docker-compose.yml and README, "Deploying").
#
# Two stages of one pinned base: the build stage installs the locked packages (requirements-worker.txt, exactly
# the versions the tests ran with) into a virtual environment; the final stage gets that environment and the
# sources, nothing else (no pip cache, no build files), and runs as an unprivileged user.
FROM python:3.11.15-slim-bookworm AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

COPY requirements-worker.txt /tmp/requirements-worker.txt
# --no-deps: the list is the whole closure, so nothing unpinned slips in; `pip check` proves it is complete.
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-deps --requirement /tmp/requirements-worker.txt \
    && /opt/venv/bin/pip check


FROM python:3.11.15-slim-bookworm

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# In a container each worker has its own network namespace, so metrics and health are on by default (README,
# "Configuration"); JSON log lines for the log pipeline.
ENV WORKER_METRICS_PORT=9464 \
    WORKER_HEALTH_PORT=9465 \
    LOG_FORMAT=json

RUN useradd --system --uid 10001 --user-group --home-dir /nonexistent --no-create-home \
    --shell /usr/sbin/nologin mentorship

COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# .dockerignore keeps out the venv, local state (.data, .env), tests, benchmarks and caches. The sources stay
# owned by root: the worker cannot change its own code. Compiled once here, since it cannot write .pyc files.
COPY . .
RUN python -m compileall -q /app

# Nothing here needs root.
USER 10001:10001

# Prometheus metrics (/metrics) and health (/livez, /readyz); neither needs publishing to the host.
EXPOSE 9464 9465

# `docker run` alone gets a health status too; compose and Kubernetes set their own checks (README, "Deploying").
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["python", "worker.py", "--health"]

# SIGTERM (docker stop) lets in-flight activities finish; give the container stop_grace_period >= 60s.
STOPSIGNAL SIGTERM
CMD ["python", "worker.py"]
