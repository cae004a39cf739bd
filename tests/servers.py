"""Real scale-out servers as plain processes on 127.0.0.1, for tests and developers.

Redis, PostgreSQL, MinIO and OpenSearch are started on free loopback ports with
all their data under one base directory, checked for health and stopped again.
Nothing is skipped: a server that does not come up raises ``ServerStartError``
carrying the tail of its log.  ``DovecotServer`` (IMAP, for the mail poller) is
started the same way, on its own.  ``scripts/install-servers.sh`` installs the
binaries (cache: ``~/.cache/kundenakte``, override ``KUNDENAKTE_CACHE``); the
pinned versions are read from that script.

CLI for developers::

    python tests/servers.py [BASE_DIR]   # prints `export DMS_...=...` lines, Ctrl-C stops
"""

from __future__ import annotations

import atexit
import contextlib
import json
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


# --------------------------------------------------------------------- Dovecot (IMAP)
def self_signed_cert(directory: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A self-signed certificate (its own CA) for `host` and localhost: (cert.pem, key.pem)."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = dt.datetime.now(dt.UTC)
    sans: list[x509.GeneralName] = [x509.DNSName("localhost")]
    try:
        sans.append(x509.IPAddress(ipaddress.ip_address(host)))
    except ValueError:
        sans.append(x509.DNSName(host))
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_path.chmod(0o600)
    return cert_path, key_path


class TokenIntrospection:
    """A tiny OAuth2 token introspection endpoint (RFC 7662, POST token=...) on loopback.

    Dovecot's oauth2 passdb asks it whether a bearer token is valid and whose it is; exactly
    one token is active. `requests` counts the calls (proof that dovecot really asked).
    """

    def __init__(self, token: str, username: str) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import parse_qs

        outer = self
        self.token, self.username, self.requests = token, username, 0

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                outer.requests += 1
                sent = parse_qs(body).get("token", [""])[0]
                answer = {"active": True, "username": outer.username} if sent == outer.token else {"active": False}
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/introspect"
        self._thread = threading.Thread(target=self._server.serve_forever, name="oauth2-introspection", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class DovecotServer(Server):
    """Dovecot (Debian's dovecot-imapd 2.3) with its own config, IMAP + IMAPS on loopback.

    One user (`username`/`password` via passwd-file); with `token`, XOAUTH2/OAUTHBEARER bearer
    tokens are checked by dovecot's oauth2 passdb against a local introspection endpoint
    (`TokenIntrospection`). Plain IMAP offers STARTTLS with a self-signed certificate
    (`cert_path`, use it as CA file). Mail is stored as maildir under the server's directory,
    owned by the test user when running as root (dovecot refuses root as mail user).
    """

    name = "dovecot"
    start_timeout = 20.0

    def __init__(self, username: str = "scanner@akte.test", password: str = "imap-test-pw",
                 token: str | None = "oauth-test-token", capabilities: str | None = None) -> None:
        super().__init__()
        self.username, self.password, self.token = username, password, token
        self.capabilities = capabilities  # imap_capability: replaces the advertised list (e.g. without MOVE)
        self.ssl_port: int | None = None
        self.cert_path: Path | None = None
        self.introspection: TokenIntrospection | None = None

    def _prepare(self):
        binary = os.environ.get("KUNDENAKTE_DOVECOT") or shutil.which("dovecot") or "/usr/sbin/dovecot"
        if not Path(binary).exists():
            raise ServerStartError("dovecot not found: run scripts/install-servers.sh (dovecot-imapd)")
        root = os.geteuid() == 0
        mail_user = _run_as_user() if root else pwd.getpwuid(os.geteuid()).pw_name
        mail_pw = pwd.getpwnam(mail_user)
        internal = "dovecot" if root else mail_pw.pw_name
        login = "dovenull" if root else mail_pw.pw_name
        for user in (internal, login):
            try:
                pwd.getpwnam(user)
            except KeyError:
                raise ServerStartError(f"user {user!r} missing (created by the dovecot-core package)") from None
        self.port, self.ssl_port = free_port(), free_port()
        self.cert_path, key_path = self_signed_cert(self.dir / "tls")
        mail_dir, run_dir, state_dir = self.dir / "mail", self.dir / "run", self.dir / "state"
        for d in (mail_dir, run_dir, state_dir):
            d.mkdir()
        users = self.dir / "users"
        users.write_text(f"{self.username}:{{PLAIN}}{self.password}\n")
        users.chmod(0o644)  # read by the auth process (user `dovecot`)
        _chown(mail_dir, mail_user)
        _check_reachable(mail_dir, mail_user if root else None)
        oauth = ""
        if self.token:
            self.introspection = TokenIntrospection(self.token, self.username)
            oauth_conf = self.dir / "oauth2.conf.ext"
            oauth_conf.write_text("\n".join([
                "introspection_mode = post",
                f"introspection_url = {self.introspection.url}",
                "force_introspection = yes",
                "username_attribute = username",
                "active_attribute = active",
                "active_value = true",
                "",
            ]))
            oauth_conf.chmod(0o644)
            oauth = f"passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = {oauth_conf}\n}}\n"
        chroot = "" if root else "  chroot =\n"
        capability = f"  imap_capability = {self.capabilities}\n" if self.capabilities else ""
        conf = self.dir / "dovecot.conf"
        conf.write_text(f"""\
base_dir = {run_dir}
state_dir = {state_dir}
instance_name = dovecot-{self.port}
log_path = {self.log_path}
protocols = imap
listen = 127.0.0.1
default_internal_user = {internal}
default_login_user = {login}
first_valid_uid = {mail_pw.pw_uid}
last_valid_uid = {mail_pw.pw_uid}
mail_location = maildir:{mail_dir}/%u
mail_uid = {mail_pw.pw_uid}
mail_gid = {mail_pw.pw_gid}
ssl = yes
ssl_cert = <{self.cert_path}
ssl_key = <{key_path}
ssl_dh = </usr/share/dovecot/dh.pem
disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2 oauthbearer
auth_verbose = yes
passdb {{
  driver = passwd-file
  mechanisms = plain login
  args = scheme=PLAIN username_format=%u {users}
}}
{oauth}userdb {{
  driver = static
  args = uid={mail_pw.pw_uid} gid={mail_pw.pw_gid} home={mail_dir}/%u
}}
protocol imap {{
  mail_max_userip_connections = 200
{capability}}}
service imap-login {{
{chroot}  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.ssl_port}
    ssl = yes
  }}
}}
service stats {{
  unix_listener stats-reader {{
    user = {internal}
  }}
  unix_listener stats-writer {{
    user = {internal}
  }}
}}
""")
        return [binary, "-F", "-c", str(conf)], {}, None

    def _healthy(self) -> bool:
        import imaplib

        with imaplib.IMAP4("127.0.0.1", self.port, timeout=2) as client:
            client.login(self.username, self.password)
            client.logout()
        return True

    def stop(self) -> None:
        super().stop()
        if self.introspection is not None:
            self.introspection.stop()
            self.introspection = None

    def imap(self):
        """A logged-in imaplib client on the plain port (for tests: APPEND, LIST, SELECT)."""
        import imaplib

        client = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        client.login(self.username, self.password)
        return client


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
