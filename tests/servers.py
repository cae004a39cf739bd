"""Real scale-out servers as plain processes on 127.0.0.1, for tests and developers.

Redis, PostgreSQL, MinIO and OpenSearch are started on free loopback ports with
all their data under one base directory, checked for health and stopped again.
Nothing is skipped: a server that does not come up raises ``ServerStartError``
carrying the tail of its log.  ``scripts/install-servers.sh`` installs the
binaries (cache: ``~/.cache/kundenakte``, override ``KUNDENAKTE_CACHE``); the
pinned versions are read from that script.

CLI for developers::

    python tests/servers.py [BASE_DIR]   # prints `export DMS_...=...` lines, Ctrl-C stops
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
INSTALL_SCRIPT = REPO_ROOT / "scripts" / "install-servers.sh"
CACHE_DIR = Path(os.environ.get("KUNDENAKTE_CACHE", str(Path.home() / ".cache" / "kundenakte")))
TEST_USER = "kundenakte-test"
LOG_TAIL_LINES = 40


class ServerStartError(RuntimeError):
    """A server could not be started; the message carries the tail of its log."""


def _pinned(name: str) -> str:
    """A version pinned in scripts/install-servers.sh (NAME=value), env var wins."""
    if os.environ.get(name):
        return os.environ[name]
    m = re.search(rf"^{name}=(\S+)", INSTALL_SCRIPT.read_text(), re.MULTILINE)
    if not m:
        raise ServerStartError(f"{name} not found in {INSTALL_SCRIPT}")
    return m.group(1).strip("\"'")


_port_lock = threading.Lock()
_ports_given: set[int] = set()


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1, never the same twice in this process."""
    with _port_lock:
        for _ in range(100):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            if port not in _ports_given:
                _ports_given.add(port)
                return port
    raise ServerStartError("no free port found on 127.0.0.1")


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        with open(path, errors="replace") as fh:
            return "".join(deque(fh, maxlen=lines))
    except OSError as exc:
        return f"(no log: {exc})"


def _run_as_user() -> str | None:
    """The unprivileged user to run OpenSearch/PostgreSQL as, or None when not root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(TEST_USER)
    except KeyError:
        raise ServerStartError(
            f"running as root but user {TEST_USER!r} does not exist (OpenSearch and initdb refuse root): "
            f"run scripts/install-servers.sh"
        ) from None
    return TEST_USER


def _chown(path: Path, user: str | None, skip: Path | None = None) -> None:
    """chown -R, except `skip` (hard links into the cache: chown would change the cache)."""
    if not user:
        return
    pw = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        if skip is not None:
            dirs[:] = [d for d in dirs if Path(root, d) != skip]
        for name in [*dirs, *files]:
            os.chown(os.path.join(root, name), pw.pw_uid, pw.pw_gid, follow_symlinks=False)
    os.chown(path, pw.pw_uid, pw.pw_gid)


def _as_user(user: str | None) -> dict:
    """subprocess kwargs that drop root privileges to `user` in the child.

    Same effect as `runuser -u USER --`, but without runuser's supervisor process,
    which SIGKILLs the server 2 s after forwarding a stop signal to it.
    """
    if not user:
        return {}
    pw = pwd.getpwnam(user)
    return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}


def _check_reachable(path: Path, user: str | None) -> None:
    """Every parent of `path` must be traversable by `user` (e.g. /tmp/pytest-of-root is 0700)."""
    if not user:
        return
    r = subprocess.run(["test", "-w", str(path)], capture_output=True, **_as_user(user))
    if r.returncode != 0:
        raise ServerStartError(
            f"{path} is not writable for user {user}: use a base dir whose parents are traversable "
            f"(e.g. tempfile.mkdtemp() chmod 0755 in /tmp)"
        )


class Server:
    """Common process handling: start in own process group, log to a file, health wait, stop."""

    name = "server"
    start_timeout = 30.0
    stop_signal = signal.SIGTERM
    stop_timeout = 20.0

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.dir: Path | None = None
        self.log_path: Path | None = None
        self.port: int | None = None
        self.startup_seconds: float | None = None
        self._log_fh = None

    # -- to implement
    def _prepare(self) -> tuple[list[str], dict[str, str], str | None]:
        """Create dirs/config, return (argv, extra env, run-as user or None)."""
        raise NotImplementedError

    def _healthy(self) -> bool:
        raise NotImplementedError

    def _after_healthy(self) -> None:
        pass

    # -- common
    def start(self, base_dir: Path) -> Server:
        if self.proc is not None:
            raise ServerStartError(f"{self.name} already started")
        t0 = time.monotonic()
        self.dir = Path(base_dir) / self.name
        self.dir.mkdir(parents=True, exist_ok=False)
        self.log_path = self.dir / f"{self.name}.log"
        try:
            argv, env_extra, user = self._prepare()
        except ServerStartError:
            raise
        except Exception as exc:
            raise self._error(f"preparing failed: {exc!r}") from exc
        env = dict(os.environ)
        if user:
            env.update({"HOME": str(self.dir), "USER": user, "LOGNAME": user})
        env.update(env_extra)
        self._log_fh = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the process lifetime
        try:
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=self._log_fh,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.dir,
                start_new_session=True,  # own process group: stop() signals the whole tree
                **_as_user(user),
            )
        except OSError as exc:
            raise self._error(f"cannot execute {argv[0]}: {exc}") from exc
        _register(self)
        deadline = time.monotonic() + self.start_timeout
        last_exc: Exception | None = None
        while True:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self.stop()
                raise self._error(f"exited with code {code} during start-up")
            try:
                if self._healthy():
                    break
            except Exception as exc:  # not up yet
                last_exc = exc
            if time.monotonic() > deadline:
                self.stop()
                raise self._error(f"not healthy after {self.start_timeout:.0f}s (last error: {last_exc!r})")
            time.sleep(0.2)
        try:
            self._after_healthy()
        except Exception as exc:
            self.stop()
            raise self._error(f"post-start setup failed: {exc!r}") from exc
        self.startup_seconds = time.monotonic() - t0
        return self

    def _error(self, what: str) -> ServerStartError:
        return ServerStartError(
            f"{self.name} {what}\n--- last {LOG_TAIL_LINES} lines of {self.log_path} ---\n"
            f"{_tail(self.log_path) if self.log_path else ''}"
        )

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            try:
                pgid = os.getpgid(proc.pid)
            except ProcessLookupError:
                pgid = None
            if proc.poll() is None and pgid is not None:
                self._killpg(pgid, self.stop_signal)
                try:
                    proc.wait(self.stop_timeout)
                except subprocess.TimeoutExpired:
                    self._killpg(pgid, signal.SIGKILL)
                    proc.wait(10)
            # children that outlive the leader (e.g. JVM helpers) must not stay behind
            if pgid is not None:
                self._wait_group_gone(pgid)
        if self._log_fh is not None:
            self._log_fh.close()
            self._log_fh = None
        _unregister(self)

    @staticmethod
    def _killpg(pgid: int, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, sig)

    def _wait_group_gone(self, pgid: int) -> None:
        deadline = time.monotonic() + self.stop_timeout
        sig = self.stop_signal
        while True:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return
            except PermissionError:
                return
            if time.monotonic() > deadline:
                if sig == signal.SIGKILL:
                    return
                sig = signal.SIGKILL
                deadline = time.monotonic() + 5
                self._killpg(pgid, signal.SIGKILL)
            time.sleep(0.1)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} port={self.port} running={self.running}>"


# Safety net: stop whatever is still running when the interpreter exits normally.
_live: set[Server] = set()
_live_lock = threading.Lock()


def _register(server: Server) -> None:
    with _live_lock:
        _live.add(server)


def _unregister(server: Server) -> None:
    with _live_lock:
        _live.discard(server)


@atexit.register
def _stop_leftovers() -> None:
    with _live_lock:
        leftovers = list(_live)
    for server in leftovers:
        server.stop()


# --------------------------------------------------------------------- Redis
class RedisServer(Server):
    name = "redis"
    start_timeout = 20.0

    def _prepare(self):
        binary = os.environ.get("KUNDENAKTE_REDIS_SERVER") or shutil.which("redis-server") or "/usr/bin/redis-server"
        if not Path(binary).exists():
            raise ServerStartError("redis-server not found: run scripts/install-servers.sh")
        self.port = free_port()
        argv = [
            binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--dir",
            str(self.dir),
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--protected-mode",
            "yes",
            "--logfile",
            "",
        ]
        return argv, {}, None

    def _healthy(self) -> bool:
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2, socket_connect_timeout=2)
        try:
            return bool(client.ping())
        finally:
            client.close()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


# --------------------------------------------------------------------- PostgreSQL
def _pg_bindir() -> Path:
    if os.environ.get("KUNDENAKTE_PG_BIN"):
        return Path(os.environ["KUNDENAKTE_PG_BIN"])
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if not found:
        raise ServerStartError(
            "PostgreSQL initdb not found under /usr/lib/postgresql/*/bin: run scripts/install-servers.sh"
        )
    return found[-1].parent


class PostgresServer(Server):
    name = "postgres"
    start_timeout = 30.0
    stop_signal = signal.SIGINT  # "fast" shutdown; SIGTERM would wait for clients
    user = "kundenakte"
    password = "kundenakte-test-pw"
    database = "kundenakte"

    def _prepare(self):
        bindir = _pg_bindir()
        run_as = _run_as_user()
        data = self.dir / "data"
        sock = self.dir / "socket"
        sock.mkdir()
        pwfile = self.dir / "pwfile"
        pwfile.write_text(self.password + "\n")
        _chown(self.dir, run_as)
        _check_reachable(self.dir, run_as)
        initdb = [
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            self.user,
            f"--pwfile={pwfile}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--no-locale",
            "--no-sync",
        ]
        with open(self.log_path, "ab") as log:
            r = subprocess.run(
                initdb,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.dir,
                env={**os.environ, "LC_ALL": "C", "HOME": str(self.dir)},
                **_as_user(run_as),
            )
        if r.returncode != 0:
            raise self._error(f"initdb failed with code {r.returncode}")
        pwfile.unlink()
        self.port = free_port()
        argv = [
            str(bindir / "postgres"),
            "-D",
            str(data),
            "-p",
            str(self.port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"unix_socket_directories={sock}",
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "max_connections=100",
            "-c",
            "logging_collector=off",
        ]
        return argv, {"LC_ALL": "C"}, run_as

    def _connect(self, dbname: str, **kw):
        import psycopg

        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=dbname,
            connect_timeout=3,
            **kw,
        )

    def _healthy(self) -> bool:
        with self._connect("postgres") as conn:
            return conn.execute("SELECT 1").fetchone() == (1,)

    def _after_healthy(self) -> None:
        with self._connect("postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.database}"')

    @property
    def url(self) -> str:
        """SQLAlchemy URL (psycopg 3 driver)."""
        return f"postgresql+psycopg://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.database}"

    @property
    def dsn(self) -> str:
        """libpq/psycopg conninfo URL."""
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.database}"


# --------------------------------------------------------------------- MinIO
def minio_binary() -> Path:
    if os.environ.get("KUNDENAKTE_MINIO_BIN"):
        return Path(os.environ["KUNDENAKTE_MINIO_BIN"])
    return CACHE_DIR / "minio" / _pinned("MINIO_VERSION") / "minio"


class MinioServer(Server):
    name = "minio"
    start_timeout = 30.0
    access_key = "kundenakte-admin"
    secret_key = "kundenakte-secret-key"

    def _prepare(self):
        binary = minio_binary()
        if not binary.exists():
            raise ServerStartError(f"MinIO binary {binary} missing: run scripts/install-servers.sh")
        self.port = free_port()
        self.console_port = free_port()
        (self.dir / "data").mkdir()
        argv = [
            str(binary),
            "server",
            "--address",
            f"127.0.0.1:{self.port}",
            "--console-address",
            f"127.0.0.1:{self.console_port}",
            "--certs-dir",
            str(self.dir / "certs"),
            "--quiet",
            str(self.dir / "data"),
        ]
        env = {
            "MINIO_ROOT_USER": self.access_key,
            "MINIO_ROOT_PASSWORD": self.secret_key,
            "MINIO_UPDATE": "off",
            "MINIO_CI_CD": "on",  # no root-disk check, no update/phone-home
            "MINIO_BROWSER": "off",
            "HOME": str(self.dir),
        }
        return argv, env, None

    def _healthy(self) -> bool:
        import requests

        live = requests.get(f"{self.endpoint}/minio/health/live", timeout=2)
        ready = requests.get(f"{self.endpoint}/minio/health/ready", timeout=2)
        return live.status_code == 200 and ready.status_code == 200

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def host_port(self) -> str:
        """endpoint as minio-py's Minio() wants it (secure=False)."""
        return f"127.0.0.1:{self.port}"

    def client(self):
        from minio import Minio

        return Minio(self.host_port, access_key=self.access_key, secret_key=self.secret_key, secure=False)


# --------------------------------------------------------------------- OpenSearch
def opensearch_home() -> Path:
    if os.environ.get("KUNDENAKTE_OPENSEARCH_HOME"):
        return Path(os.environ["KUNDENAKTE_OPENSEARCH_HOME"])
    return CACHE_DIR / "opensearch" / _pinned("OPENSEARCH_VERSION")


def _java_home() -> str:
    for var in ("OPENSEARCH_JAVA_HOME", "JAVA_HOME"):
        if os.environ.get(var):
            return os.environ[var]
    java = shutil.which("java")
    if not java:
        raise ServerStartError("java not found (OpenSearch needs JDK 17)")
    return str(Path(java).resolve().parent.parent)


class OpenSearchServer(Server):
    name = "opensearch"
    start_timeout = 120.0
    heap = "512m"

    def _prepare(self):
        src = opensearch_home()
        if not (src / ".kundenakte-complete").exists():
            raise ServerStartError(f"OpenSearch not installed at {src}: run scripts/install-servers.sh")
        run_as = _run_as_user()
        # The cache lives under $HOME (/root is 0700): give this run its own tree of
        # hard links (copies across file systems) so the test user can read it.
        home = self.dir / "home"

        def link_or_copy(s, d):
            try:
                os.link(s, d)
            except OSError:
                shutil.copy2(s, d)

        for sub in ("bin", "lib", "modules", "plugins"):
            if (src / sub).exists():
                shutil.copytree(src / sub, home / sub, copy_function=link_or_copy, symlinks=True)
        conf = self.dir / "config"
        shutil.copytree(src / "config", conf)  # real copies: we write into them
        data, logs = self.dir / "data", self.dir / "logs"
        data.mkdir()
        logs.mkdir()
        self.port = free_port()
        self.transport_port = free_port()
        (conf / "opensearch.yml").write_text(
            "\n".join(
                [
                    "cluster.name: kundenakte-test",
                    "node.name: node-1",
                    f"path.data: {data}",
                    f"path.logs: {logs}",
                    "network.host: 127.0.0.1",
                    f"http.port: {self.port}",
                    f"transport.port: {self.transport_port}",
                    "discovery.type: single-node",
                    "cluster.routing.allocation.disk.threshold_enabled: false",
                    "action.destructive_requires_name: false",
                    "",
                ]
            )
        )
        jvm = (conf / "jvm.options").read_text()
        jvm = jvm.replace("HeapDumpPath=data", f"HeapDumpPath={data}").replace("logs/", f"{logs}/")
        jvm = re.sub(r"^-Xm[sx]\S*$", "", jvm, flags=re.MULTILINE)  # heap comes from OPENSEARCH_JAVA_OPTS
        (conf / "jvm.options").write_text(jvm)
        tmp = self.dir / "tmp"
        tmp.mkdir()
        _chown(self.dir, run_as, skip=home)
        _check_reachable(self.dir, run_as)
        env = {
            "OPENSEARCH_HOME": str(home),
            "OPENSEARCH_PATH_CONF": str(conf),
            "OPENSEARCH_JAVA_HOME": _java_home(),
            "OPENSEARCH_JAVA_OPTS": f"-Xms{self.heap} -Xmx{self.heap}",
            "OPENSEARCH_TMPDIR": str(tmp),
        }
        return [str(home / "bin" / "opensearch")], env, run_as

    def _healthy(self) -> bool:
        import requests

        r = requests.get(
            f"{self.url}/_cluster/health", params={"wait_for_status": "yellow", "timeout": "2s"}, timeout=5
        )
        return r.status_code == 200 and r.json().get("status") in ("green", "yellow")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


# --------------------------------------------------------------------- all four
class ServerSet:
    def __init__(self, redis: RedisServer, postgres: PostgresServer, minio: MinioServer, opensearch: OpenSearchServer):
        self.redis = redis
        self.postgres = postgres
        self.minio = minio
        self.opensearch = opensearch

    @property
    def all(self) -> list[Server]:
        return [self.redis, self.postgres, self.minio, self.opensearch]

    def env(self) -> dict[str, str]:
        return {
            "DMS_S3_ENDPOINT": self.minio.endpoint,
            "DMS_S3_ACCESS_KEY": self.minio.access_key,
            "DMS_S3_SECRET_KEY": self.minio.secret_key,
            "DMS_OPENSEARCH_URL": self.opensearch.url,
            "DMS_REDIS_URL": self.redis.url,
            "DMS_DATABASE_URL": self.postgres.url,
        }

    def startup_seconds(self) -> dict[str, float | None]:
        return {s.name: s.startup_seconds for s in self.all}

    def stop_all(self) -> None:
        errors = []
        for server in reversed(self.all):
            try:
                server.stop()
            except Exception as exc:  # keep stopping the others
                errors.append(f"{server.name}: {exc!r}")
        if errors:
            raise RuntimeError("stopping servers failed: " + "; ".join(errors))


def start_all(base_dir: Path) -> ServerSet:
    """Start all four in parallel (OpenSearch dominates); on any failure stop the rest and raise."""
    base_dir = Path(base_dir)
    base_dir.mkdir(parents=True, exist_ok=True)
    servers = ServerSet(RedisServer(), PostgresServer(), MinioServer(), OpenSearchServer())
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="server-start") as pool:
        futures = {s.name: pool.submit(s.start, base_dir) for s in servers.all}
        errors = []
        for name, fut in futures.items():
            exc = fut.exception()
            if exc is not None:
                errors.append(exc if isinstance(exc, ServerStartError) else ServerStartError(f"{name}: {exc!r}"))
    if errors:
        servers.stop_all()
        raise ServerStartError("\n\n".join(str(e) for e in errors))
    return servers


def make_base_dir(prefix: str = "kundenakte-servers-") -> Path:
    """A fresh temp dir that the unprivileged test user can traverse."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


def main(argv: list[str]) -> int:
    base = Path(argv[1]) if len(argv) > 1 else make_base_dir()
    base.mkdir(parents=True, exist_ok=True)
    print(f"# starting redis, postgres, minio, opensearch under {base} ...", file=sys.stderr, flush=True)
    try:
        servers = start_all(base)
    except ServerStartError as exc:
        print(exc, file=sys.stderr)
        return 1
    for key, value in servers.env().items():
        print(f"export {key}={value}")
    times = ", ".join(f"{k} {v:.1f}s" for k, v in servers.startup_seconds().items())
    print(f"# up ({times}); Ctrl-C stops them", file=sys.stderr, flush=True)

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(1):
        dead = [s.name for s in servers.all if not s.running]
        if dead:
            print(f"# died: {', '.join(dead)}", file=sys.stderr)
            break
    print("# stopping ...", file=sys.stderr, flush=True)
    servers.stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
