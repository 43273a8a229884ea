# The commarchive app, for docker-compose.yml: `pip install .` into a slim Python.
FROM python:3.11-slim-bookworm

RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/commarchive \
        --shell /usr/sbin/nologin commarchive \
    && install -d -o commarchive -g commarchive -m 0700 /var/lib/commarchive \
    && install -d -o commarchive -g commarchive -m 0755 /models

WORKDIR /src
COPY pyproject.toml README.md ./
COPY keys ./keys
COPY archive ./archive
COPY ingest ./ingest
COPY search_api ./search_api
COPY commarchive ./commarchive
RUN pip install --no-cache-dir . && rm -rf /src

USER commarchive
WORKDIR /var/lib/commarchive
# Speech models (not personal data) live on their own volume, outside the data
# directory: `commarchive models add LANG /models/MODEL.zip` unpacks and registers them.
ENV COMMARCHIVE_DATA_DIR=/var/lib/commarchive/data \
    COMMARCHIVE_TRANSCRIBE_MODELS_DIR=/models \
    COMMARCHIVE_HTTP=0.0.0.0:8000
VOLUME ["/models"]
EXPOSE 8000 2525

# Initialise the archive on first start (catalog, keyring, ES index), then serve.
CMD ["sh", "-c", "[ -e \"$COMMARCHIVE_DATA_DIR/archive.toml\" ] || commarchive init \"$COMMARCHIVE_DATA_DIR\"; exec commarchive serve"]
