# One image for the three services (intake, routing, sla) and the one-shot `init` job.
# docker-compose.yml picks the process per container with `command:`; the default is intake.
#   docker build -t pengaduan .
#   docker run --rm -p 8081:8081 -e INTAKE_HTTP_HOST=0.0.0.0 -e KAFKA_BOOTSTRAP=… -e MONGO_URI=… pengaduan
# Not built in this project's CI (no Docker engine there); the install step it runs — the wheel
# built from the tree, installed with its pinned dependencies, started from a directory without
# sources — is the one tests/e2e/test_installed_package.py runs and starts every service from.

# --- build: the project's wheel (package data included: pyproject's [tool.setuptools.package-data])
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
COPY pyproject.toml ./
COPY shared/ shared/
COPY services/ services/
COPY devtools/ devtools/
RUN pip wheel --no-cache-dir --no-deps -w /dist .

# --- run: the pinned dependencies, then the wheel; no sources, no build tools, not root
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --create-home --home-dir /home/app app

# Dependencies first, read from pyproject.toml (runtime ones only, no dev extras), so that a code
# change does not reinstall them. Every pinned dependency ships a cp311 manylinux wheel: no compiler.
COPY pyproject.toml /tmp/pyproject.toml
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('/tmp/pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install --no-cache-dir -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt /tmp/pyproject.toml

COPY --from=build /dist/ /tmp/dist/
RUN pip install --no-cache-dir --no-deps /tmp/dist/*.whl && rm -rf /tmp/dist

USER 10001:10001
WORKDIR /home/app

EXPOSE 8081 8082 8083
CMD ["python", "-m", "services.intake"]
