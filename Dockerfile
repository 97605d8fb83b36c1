# One image for the three services (intake, routing, sla) and the one-shot `init` job.
# docker-compose.yml picks the process per container with `command:`; the default is intake.
#   docker build -t pengaduan .
#   docker run --rm -p 8081:8081 -e INTAKE_HTTP_HOST=0.0.0.0 -e KAFKA_BOOTSTRAP=… -e MONGO_URI=… pengaduan
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# The unprivileged user the processes run as.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --create-home --home-dir /home/app app

WORKDIR /src

# Dependencies first, read from pyproject.toml (runtime ones only, no dev extras), so that a code
# change does not reinstall them. Every pinned dependency ships a cp311 manylinux wheel: no compiler.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install --no-cache-dir -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# The project itself, a regular (non-editable) install into site-packages; the sources are removed
# after. devtools/ is needed for `python -m devtools.prepare`, the compose file's init job.
COPY shared/ shared/
COPY services/ services/
COPY devtools/ devtools/
RUN pip install --no-cache-dir . \
    && rm -rf /src

USER 10001:10001
# Run from a directory without sources: imports resolve to the installed package.
WORKDIR /home/app

EXPOSE 8081 8082 8083
CMD ["python", "-m", "services.intake"]
