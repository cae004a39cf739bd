# Kundenakte image for the web service, the worker and (later) the mail gateway.

# Swagger UI for /api/docs, vendored at build time (same pin as scripts/docs-assets.sh).
FROM node:22-bookworm-slim AS docs
WORKDIR /docs
RUN npm pack --silent swagger-ui-dist@5.35.0 \
 && mkdir out \
 && tar -xzf swagger-ui-dist-5.35.0.tgz -C out \
    package/swagger-ui-bundle.js package/swagger-ui.css package/LICENSE package/NOTICE \
 && echo 5.35.0 > out/package/.version

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 OMP_THREAD_LIMIT=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-deu tesseract-ocr-eng libmagic1 curl \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY requirements ./requirements
COPY dms ./dms
COPY --from=docs /docs/out/package/ ./dms/web/static/swagger-ui/
COPY ingest ./ingest
COPY classifiers ./classifiers
COPY retention ./retention
COPY mail_gateway ./mail_gateway
RUN pip install --no-cache-dir -c requirements/scale.txt ".[scale]" && useradd --system --uid 10001 kundenakte
USER kundenakte
EXPOSE 8000
CMD ["dms", "serve", "--host", "0.0.0.0", "--port", "8000"]
