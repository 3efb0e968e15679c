# syntax=docker/dockerfile:1
# incident-bot as a container: the wheel, installed by deploy/install.sh into /opt/incident-bot,
# run as an unprivileged user. Configuration comes only from the environment (see .env.example);
# compose.yaml runs it with PostgreSQL.
ARG PYTHON_VERSION=3.12

FROM python:${PYTHON_VERSION}-slim AS wheel
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY servicenow ./servicenow
COPY storage ./storage
COPY sandbox ./sandbox
RUN python -m pip wheel --no-deps --no-cache-dir --disable-pip-version-check --wheel-dir /dist .

FROM python:${PYTHON_VERSION}-slim
ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PATH=/opt/incident-bot/bin:$PATH
RUN --mount=type=bind,from=wheel,source=/dist,target=/tmp/dist \
    --mount=type=bind,source=deploy/install.sh,target=/tmp/install.sh \
    sh /tmp/install.sh /tmp/dist /opt/incident-bot
# The default SQLite database (./incident-bot.db) lives in the working directory, the user's own.
RUN groupadd --system --gid 10001 incident-bot \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/incident-bot --create-home \
    --shell /usr/sbin/nologin incident-bot
USER 10001:10001
WORKDIR /var/lib/incident-bot
EXPOSE 3000
# 200 from /healthz when the database and ServiceNow answer; urlopen raises on 503 (slim has no curl).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '3000') + '/healthz', timeout=4)"]
CMD ["incident-bot", "serve"]
