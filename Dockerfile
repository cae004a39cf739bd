# Kundenakte image for the web service, the worker and (later) the mail gateway.

# Swagger UI for /api/docs and pdf.js for the web client, vendored at build time by the same script
# (and the same pins) as a checkout's scripts/install.sh.
FROM node:22-bookworm-slim AS web-assets
WORKDIR /build
COPY scripts/web-assets.sh ./scripts/
RUN KUNDENAKTE_CACHE=/tmp/cache bash scripts/web-assets.sh

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 OMP_THREAD_LIMIT=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-deu tesseract-ocr-eng libmagic1 curl \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY requirements ./requirements
COPY dms ./dms
COPY --from=web-assets /build/dms/web/static/swagger-ui/ ./dms/web/static/swagger-ui/
COPY --from=web-assets /build/dms/web/static/vendor/ ./dms/web/static/vendor/
COPY ingest ./ingest
COPY classifiers ./classifiers
COPY retention ./retention
COPY mail_gateway ./mail_gateway
RUN pip install --no-cache-dir -c requirements/scale.txt ".[scale]" && useradd --system --uid 10001 kundenakte
USER kundenakte
EXPOSE 8000
CMD ["dms", "serve", "--host", "0.0.0.0", "--port", "8000"]
