# kgrec application image: the Python package, its CLI and the packaged MiniLM encoder.
# Neo4j runs in its own container (see docker-compose.yml); the app reaches it via NEO4J_URI.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=1 \
    KGREC_HOME=/data/kgrec

WORKDIR /app
COPY pyproject.toml README.md ./
COPY kg ./kg
COPY gnn ./gnn
COPY llm_bridge ./llm_bridge
COPY ingest ./ingest
COPY kgrec ./kgrec
RUN pip install --upgrade pip && pip install .

RUN useradd --create-home --uid 10001 kgrec && mkdir -p /data/kgrec && chown -R kgrec /data
USER kgrec
VOLUME ["/data/kgrec"]
EXPOSE 8000
ENTRYPOINT ["kgrec"]
CMD ["--help"]
