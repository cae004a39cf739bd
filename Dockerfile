# Kundenakte image for the web service, the worker and (later) the mail gateway.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 OMP_THREAD_LIMIT=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-deu tesseract-ocr-eng libmagic1 curl \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY requirements ./requirements
COPY dms ./dms
COPY ingest ./ingest
COPY classifiers ./classifiers
COPY retention ./retention
COPY mail_gateway ./mail_gateway
RUN pip install --no-cache-dir -c requirements/scale.txt ".[scale]" && useradd --system --uid 10001 kundenakte
USER kundenakte
EXPOSE 8000
CMD ["dms", "serve", "--host", "0.0.0.0", "--port", "8000"]
