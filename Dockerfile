# One image for every ggzy service; the command picks the service:
#   docker run ggzy:latest serve registration
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src

# Only the sources the package is built from (keeps .venv, .git and caches out
# of the image even without a .dockerignore).
COPY pyproject.toml ./
COPY ggzy ./ggzy
COPY contracts ./contracts
COPY services ./services

RUN pip install . \
    && rm -rf /src/build \
    && useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent ggzy

USER ggzy:ggzy
EXPOSE 8080

ENTRYPOINT ["ggzy"]
CMD ["--help"]
