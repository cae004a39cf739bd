"""Real MinIO, OpenSearch, Redis and PostgreSQL for the scale-out tests.

The servers are installed by scripts/install-servers.sh and started once per session by the
`real_servers` fixture of tests/conftest.py; a server that cannot start fails the session
loudly (with its log tail), it is never skipped.
"""

from __future__ import annotations

import pytest

from tests.servers import ServerSet


@pytest.fixture(scope="session")
def servers(real_servers: ServerSet) -> ServerSet:
    return real_servers
