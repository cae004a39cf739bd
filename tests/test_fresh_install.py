"""Guard: a newcomer's install works. A clean copy of the working tree gets a fresh virtualenv
exactly as the README's first command makes it (`scripts/serve.sh`: runtime install, no
extras); the service must then start and do its main job. A `[scale]`-only install must import
every scale-out backend. Wheels come from the cache outside the checkout, so this costs seconds.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.docgen import make_pdf
from tests.live import Api, free_port

REPO = Path(__file__).resolve().parents[1]


def clean_copy(dest: Path) -> Path:
    """The working tree as git sees it (tracked and new files, nothing ignored: no .venv, no data)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, check=True,
    ).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return dest


def newcomer_env(**extra: str) -> dict[str, str]:
    """The environment of a fresh shell: none of our test run's virtualenv or DMS_* settings."""
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("DMS_", "VIRTUAL_ENV", "PYTHON", "PYTEST")) and k != "COV_CORE_SOURCE"
    }
    env["PATH"] = ":".join(p for p in env.get("PATH", "").split(":") if ".venv" not in p)
    env.update(extra)
    return env


@pytest.fixture
def served_copy(tmp_path: Path) -> Iterator[tuple[Path, Api, Path]]:
    """`bash scripts/serve.sh` in a clean copy on a free port, with a temp data folder."""
    root = clean_copy(tmp_path / "checkout")
    port = free_port()
    log_path = tmp_path / "serve.log"
    env = newcomer_env(DMS_PORT=str(port), DMS_DATA_DIR=str(tmp_path / "data"))
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            ["bash", "scripts/serve.sh"], cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600  # the first run on a new machine downloads the wheels
        while True:
            if proc.poll() is not None:
                pytest.fail(f"scripts/serve.sh exited with {proc.returncode}:\n{log_path.read_text()[-4000:]}")
            try:
                if requests.get(url + "/api/v1/health", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"dms serve did not come up:\n{log_path.read_text()[-4000:]}")
            time.sleep(0.2)
        yield root, Api(url), log_path
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)


def test_readme_first_command_serves_files_and_search(served_copy: tuple[Path, Api, Path]) -> None:
    root, api, log_path = served_copy
    venv = root / ".venv"
    check = subprocess.run([venv / "bin/python", "-m", "pip", "check"], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    # runtime install only: no scale-out client, no test tool slipped in
    for module in ("minio", "opensearchpy", "celery", "psycopg", "pytest"):
        probe = subprocess.run([venv / "bin/python", "-c", f"import {module}"], capture_output=True)
        assert probe.returncode != 0, f"{module} is installed by the runtime install"

    customer = api.create_customer("Erstinstallation GmbH")
    pdf = make_pdf(["Rechnung", f"Kundennummer {customer['number']}", "Frischinstallationsprobe"])
    document_id = api.upload_ok(pdf, "rechnung.pdf")
    document = api.wait(document_id, timeout=120)
    assert document["status"] == "filed", document
    assert document["customer_number"] == customer["number"]
    hits = api.search("Frischinstallationsprobe")["hits"]
    assert [hit["id"] for hit in hits] == [document_id]
    # the docs page with its vendored assets (scripts/web-assets.sh, not in the repository)
    root_url = api.base.removesuffix("/api/v1")
    assert api.http.get(root_url + "/api/docs", timeout=30).status_code == 200
    assert api.http.get(root_url + "/static/swagger-ui/swagger-ui-bundle.js", timeout=30).status_code == 200
    assert api.http.get(root_url + "/static/vendor/pdfjs/pdf.min.mjs", timeout=30).status_code == 200
    assert "Traceback" not in log_path.read_text(errors="replace")


@pytest.mark.servers
def test_scale_only_install_imports_every_backend(tmp_path: Path, real_servers) -> None:
    root = clean_copy(tmp_path / "checkout")
    env = newcomer_env()
    install = subprocess.run(
        ["bash", "scripts/install.sh", "scale"], cwd=root, env=env, capture_output=True, text=True, timeout=600
    )
    assert install.returncode == 0, install.stdout + install.stderr
    venv = root / ".venv"
    check = subprocess.run([venv / "bin/python", "-m", "pip", "check"], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert subprocess.run([venv / "bin/python", "-c", "import pytest"], capture_output=True).returncode != 0

    from tests.server_env import isolated_env

    stack = isolated_env(real_servers.env(), "fresh")
    server_env = newcomer_env(**stack, DMS_DATA_DIR=str(tmp_path / "data"))
    checked = subprocess.run([venv / "bin/dms", "check"], env=server_env, capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    for backend in ("store", "catalog", "index", "queue", "archive"):
        assert any(line.startswith(backend) and line.endswith("ok") for line in checked.stdout.splitlines()), (
            checked.stdout
        )
    worker_help = subprocess.run([venv / "bin/dms", "worker", "--help"], env=env, capture_output=True, text=True)
    assert worker_help.returncode == 0 and "Celery" in worker_help.stdout, worker_help.stderr
    imports = subprocess.run(
        [venv / "bin/python", "-c", "import dms.queue.celery_app, dms.storage.s3, dms.search.opensearch, "
         "dms.catalog.migrate, psycopg"],
        env=env, capture_output=True, text=True,
    )
    assert imports.returncode == 0, imports.stderr
