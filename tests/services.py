"""Real services for the tests, on 127.0.0.1: Elasticsearch, an S3 server (moto), PostgreSQL.

Each service is started once per test session, or found already started by
``scripts/test.sh``, which exports ``COMMARCHIVE_TEST_ES_URL``,
``COMMARCHIVE_TEST_S3_URL`` and ``COMMARCHIVE_TEST_PG_URL``. A service that
cannot be had fails the calling test under CI (``CI`` set to 1, true or yes;
integration tests never skip in CI) and skips it, with the reason, elsewhere.

Elasticsearch is the ``integ-test-zip`` distribution from Maven Central, at the
version in ``scripts/es-version``, unpacked under ``$COMMARCHIVE_SERVICES_DIR``
(default ``.services/``). It refuses to run as root, so as root it runs as the
system user ``commarchive-es`` (created when missing).

PostgreSQL is Debian's ``postgresql`` server: a throwaway cluster made with
``initdb`` in a temporary directory and run in the foreground on a free port
(as the system user ``commarchive-pg`` when we are root: PostgreSQL refuses
root too), with trust authentication on 127.0.0.1 only. Each caller gets a
database of its own (``postgres_database``).

The same code serves ``scripts/test.sh`` from the command line::

    python -m tests.services start    # prints `export ...` lines for eval
    python -m tests.services stop     # stops what `start` started
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, NoReturn, TypedDict

REPO_ROOT: Final = Path(__file__).resolve().parents[1]
ES_VERSION: Final = (REPO_ROOT / "scripts" / "es-version").read_text().strip()
ES_ARTIFACT: Final = f"org.elasticsearch.distribution.integ-test-zip:elasticsearch:{ES_VERSION}:zip"
ES_USER: Final = "commarchive-es"
ES_SECURE_USER: Final = "commarchive"
ES_HEAP: Final = "512m"
ES_START_TIMEOUT_S: Final = 180.0
S3_START_TIMEOUT_S: Final = 60.0
ENV_ES_URL: Final = "COMMARCHIVE_TEST_ES_URL"
ENV_S3_URL: Final = "COMMARCHIVE_TEST_S3_URL"
S3_ACCESS_KEY: Final = "commarchive-test"
S3_SECRET_KEY: Final = "commarchive-test-secret"
S3_REGION: Final = "us-east-1"
ENV_STATE: Final = "COMMARCHIVE_TEST_SERVICES_STATE"
ENV_PG_URL: Final = "COMMARCHIVE_TEST_PG_URL"
PG_USER: Final = "commarchive-pg"
PG_ROLE: Final = "commarchive"
PG_START_TIMEOUT_S: Final = 60.0


class ServiceError(Exception):
    """A test service could not be fetched, started or reached."""


class S3Endpoint(TypedDict):
    endpoint_url: str  # http://127.0.0.1:PORT (boto3)
    endpoint: str  # 127.0.0.1:PORT (minio)
    secure: bool
    access_key: str
    secret_key: str
    region: str


#: Values of ``CI`` that mean "in CI" (CI systems set ``true`` or ``1``).
CI_TRUTHY: Final = frozenset({"1", "true", "yes"})


def in_ci() -> bool:
    """Whether the tests run in CI: the one place that reads ``CI``.

    ``tests.conftest.IN_CI`` is this answer for the tests; this module asks it
    itself because it also runs outside pytest (``python -m tests.services``).
    """
    return os.environ.get("CI", "").strip().lower() in CI_TRUTHY


def unavailable(service: str, reason: str) -> NoReturn:
    """Fail under CI, skip elsewhere: the one place that decides."""
    import pytest

    message = f"{service} unavailable: {reason}"
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def services_dir() -> Path:
    configured = os.environ.get("COMMARCHIVE_SERVICES_DIR")
    path = Path(configured) if configured else REPO_ROOT / ".services"
    path.mkdir(parents=True, exist_ok=True)
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# -- processes ----------------------------------------------------------------


@dataclass
class Running:
    """A service process this module started, in its own process group."""

    name: str
    url: str
    proc: subprocess.Popen[bytes] | None
    pid: int
    log: Path
    workdir: Path | None = None
    extra: dict[str, str] = field(default_factory=dict)
    #: PostgreSQL stops at once on SIGINT ("fast"); SIGTERM waits for every client.
    stop_signal: int = signal.SIGTERM

    def stop(self, timeout_s: float = 30.0) -> None:
        _stop_group(self.pid, timeout_s, self.stop_signal)
        if self.proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=5)
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
        elif not in_ci():
            self.log.unlink(missing_ok=True)
        if "ca_certs" in self.extra:
            Path(self.extra["ca_certs"]).unlink(missing_ok=True)


def _stop_group(pid: int, timeout_s: float, sig: int = signal.SIGTERM) -> None:
    """Signal the process group led by ``pid`` (one we started), SIGKILL if it lingers."""
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


# -- Elasticsearch ------------------------------------------------------------


def _java_major(home: Path) -> int:
    try:
        for line in (home / "release").read_text().splitlines():
            if line.startswith("JAVA_VERSION="):
                version = line.split("=", 1)[1].strip('"')
                return int(version.split(".")[0])
    except (OSError, ValueError):
        pass
    return 0


def find_java_home() -> Path:
    """ES_JAVA_HOME if set, else the newest JDK (17+) under /usr/lib/jvm or JAVA_HOME."""
    configured = os.environ.get("ES_JAVA_HOME")
    if configured:
        return Path(configured)
    candidates = [p for p in Path("/usr/lib/jvm").glob("*") if (p / "bin" / "java").exists()]
    if os.environ.get("JAVA_HOME"):
        candidates.append(Path(os.environ["JAVA_HOME"]))
    best = max(candidates, key=_java_major, default=None)
    if best is None or _java_major(best) < 17:
        raise ServiceError("no Java 17+ found (set ES_JAVA_HOME)")
    return best


def _extract(archive: Path, dest: Path) -> None:
    """Unzip keeping the Unix modes (zipfile alone drops the executable bits)."""
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            target = Path(zf.extract(info, dest))
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                target.chmod(mode)


def fetch_elasticsearch(base: Path) -> Path:
    """The distribution unpacked under ``base`` (fetched with Maven on first use)."""
    home = base / f"elasticsearch-{ES_VERSION}"
    if (home / "bin" / "elasticsearch").exists():
        return home
    downloads = base / "downloads"
    downloads.mkdir(exist_ok=True)
    archive = downloads / f"elasticsearch-{ES_VERSION}.zip"
    if not archive.exists():
        mvn = shutil.which("mvn")
        if mvn is None:
            raise ServiceError("Maven (mvn) is needed to fetch Elasticsearch")
        cmd = [mvn, "-q", "-B", "dependency:copy", f"-Dartifact={ES_ARTIFACT}",
               f"-DoutputDirectory={downloads}"]
        for attempt in range(2):
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
            if done.returncode == 0 and archive.exists():
                break
            if attempt == 0:
                time.sleep(10)
        if done.returncode != 0 or not archive.exists():
            raise ServiceError(f"mvn could not fetch {ES_ARTIFACT}: {done.stdout[-2000:]}")
    staging = base / f".unpack-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    _extract(archive, staging)
    unpacked = staging / f"elasticsearch-{ES_VERSION}"
    try:
        unpacked.rename(home)
    except OSError:
        if not (home / "bin" / "elasticsearch").exists():
            raise
    shutil.rmtree(staging, ignore_errors=True)
    return home


def _es_account() -> tuple[int, int] | None:
    """(uid, gid) to run ES as when we are root; None when we are not."""
    return _service_account(ES_USER)


def _service_account(user: str) -> tuple[int, int] | None:
    """(uid, gid) of ``user`` (created when missing) when we are root; None when not."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        useradd = shutil.which("useradd") or "/usr/sbin/useradd"
        subprocess.run(
            [useradd, "--system", "--user-group", "--no-create-home",
             "--shell", "/usr/sbin/nologin", user],
            check=True, capture_output=True, timeout=60,
        )
        entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid


def _chown_tree(path: Path, account: tuple[int, int] | None) -> None:
    if account is None:
        return
    uid, gid = account
    os.chown(path, uid, gid)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(Path(root) / name, uid, gid, follow_symlinks=False)


def _can_enter(account: tuple[int, int] | None, path: Path) -> bool:
    if account is None:
        return os.access(path, os.R_OK | os.X_OK)
    probe = subprocess.run(["test", "-r", str(path), "-a", "-x", str(path)],
                           user=account[0], group=account[1],
                           check=False, capture_output=True, timeout=30)
    return probe.returncode == 0


def _es_base(account: tuple[int, int] | None) -> Path:
    """services_dir(), unless the ES user cannot reach it (a clone in a private folder)."""
    base = services_dir()
    if _can_enter(account, base):
        return base
    fallback = Path(tempfile.gettempdir()) / "commarchive-services"
    fallback.mkdir(mode=0o755, exist_ok=True)
    if not _can_enter(account, fallback):
        raise ServiceError(f"{ES_USER} can reach neither {base} nor {fallback}: "
                           "set COMMARCHIVE_SERVICES_DIR to a folder it can enter")
    return fallback


def _http_json(url: str, timeout_s: float = 5.0, *, auth: tuple[str, str] | None = None,
               ca_certs: Path | None = None) -> dict[str, object]:
    request = urllib.request.Request(url)
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    context = ssl.create_default_context(cafile=str(ca_certs)) if ca_certs else None
    with urllib.request.urlopen(request, timeout=timeout_s, context=context) as resp:
        data = json.loads(resp.read())
    if not isinstance(data, dict):
        raise ServiceError(f"unexpected answer from {url}")
    return data


def wait_for_elasticsearch(url: str, timeout_s: float, proc: subprocess.Popen[bytes] | None = None,
                           log: Path | None = None, *, auth: tuple[str, str] | None = None,
                           ca_certs: Path | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = _log_tail(log) if log else ""
            raise ServiceError(f"Elasticsearch exited with {proc.returncode}:\n{tail}")
        try:
            health = _http_json(f"{url}/_cluster/health?wait_for_status=yellow&timeout=2s",
                                auth=auth, ca_certs=ca_certs)
            if health.get("status") in {"green", "yellow"}:
                return
            last = f"status {health.get('status')}"
        except (OSError, ValueError) as exc:
            last = str(exc)
        time.sleep(0.5)
    tail = f"\n{_log_tail(log)}" if log else ""
    raise ServiceError(f"Elasticsearch at {url} not ready after {timeout_s:.0f}s: {last}{tail}")


def _write_tls_files(certs: Path) -> None:
    """A throw-away CA and a server certificate for 127.0.0.1/localhost (PEM)."""
    import ipaddress
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.now(UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("commarchive test CA"))
          .issuer_name(name("commarchive test CA")).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(
              digital_signature=True, content_commitment=False, key_encipherment=False,
              data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
              encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    node_key = ec.generate_private_key(ec.SECP256R1())
    node = (x509.CertificateBuilder().subject_name(name("localhost")).issuer_name(ca.subject)
            .public_key(node_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256()))
    certs.mkdir(parents=True, exist_ok=True)
    (certs / "ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (certs / "node.crt").write_bytes(node.public_bytes(serialization.Encoding.PEM))
    (certs / "node.key").write_bytes(pem_key(node_key))


def start_elasticsearch(*, secure: bool = False) -> Running:
    """Start a node; ``secure`` turns on TLS on HTTP and basic auth (see Running.extra)."""
    account = _es_account()
    base = _es_base(account)
    home = fetch_elasticsearch(base)
    if not _can_enter(account, home / "lib"):
        raise ServiceError(f"{ES_USER} cannot read {home}")
    port, transport_port = free_port(), free_port()
    run = base / "run" / f"es-{port}"
    shutil.rmtree(run, ignore_errors=True)
    for sub in ("data", "logs", "tmp"):
        (run / sub).mkdir(parents=True)
    shutil.copytree(home / "config", run / "config")
    if secure:
        _write_tls_files(run / "config" / "certs")
    _chown_tree(run, account)
    java_home = find_java_home()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(run),
        "LANG": "C.UTF-8",
        "ES_JAVA_HOME": str(java_home),
        "ES_JAVA_OPTS": f"-Xms{ES_HEAP} -Xmx{ES_HEAP}",
        "ES_PATH_CONF": str(run / "config"),
        "ES_TMPDIR": str(run / "tmp"),
    }
    settings = {
        "cluster.name": "commarchive-test",
        "node.name": f"test-{port}",
        "discovery.type": "single-node",
        "network.host": "127.0.0.1",
        "http.port": str(port),
        "transport.port": str(transport_port),
        "path.data": str(run / "data"),
        "path.logs": str(run / "logs"),
        "xpack.security.enabled": "true" if secure else "false",
        # Tests must not turn read-only because the disk is nearly full.
        "cluster.routing.allocation.disk.threshold_enabled": "false",
        # Every test gets its own index.
        "cluster.max_shards_per_node": "100000",
    }
    password = secrets.token_urlsafe(16)
    if secure:
        settings.update({
            "xpack.security.http.ssl.enabled": "true",
            "xpack.security.http.ssl.certificate": "certs/node.crt",
            "xpack.security.http.ssl.key": "certs/node.key",
            "xpack.security.http.ssl.certificate_authorities": "certs/ca.crt",
            "xpack.security.transport.ssl.enabled": "false",
        })
        users = subprocess.run(
            [str(home / "bin" / "elasticsearch-users"), "useradd", ES_SECURE_USER,
             "-p", password, "-r", "superuser"],
            env=env, cwd=run, stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=120, check=False,
            user=account[0] if account else None, group=account[1] if account else None,
        )
        if users.returncode != 0:
            raise ServiceError(f"elasticsearch-users failed: {users.stdout}{users.stderr}")
    args = [str(home / "bin" / "elasticsearch"), *(f"-E{k}={v}" for k, v in settings.items())]
    log = run / "console.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            args, env=env, cwd=run, stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
            user=account[0] if account else None, group=account[1] if account else None,
        )
    url = f"{'https' if secure else 'http'}://127.0.0.1:{port}"
    running = Running("elasticsearch", url, proc, proc.pid, log, workdir=run)
    ca_certs = None
    if secure:
        # Copied out of the run folder, so a reader needs no access to the ES user's files.
        ca_certs = services_dir() / "run" / f"es-{port}-ca.crt"
        ca_certs.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(run / "config" / "certs" / "ca.crt", ca_certs)
        running.extra = {"username": ES_SECURE_USER, "password": password,
                         "ca_certs": str(ca_certs)}
    try:
        wait_for_elasticsearch(url, ES_START_TIMEOUT_S, proc, log,
                               auth=(ES_SECURE_USER, password) if secure else None,
                               ca_certs=ca_certs)
    except BaseException:
        running.stop()
        raise
    return running


# -- S3 (moto) ----------------------------------------------------------------


def wait_for_s3(url: str, timeout_s: float, proc: subprocess.Popen[bytes] | None = None,
                log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = _log_tail(log) if log else ""
            raise ServiceError(f"moto exited with {proc.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=5) as resp:
                if resp.status == 200:
                    return
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.2)
    raise ServiceError(f"S3 server at {url} not ready after {timeout_s:.0f}s: {last}")


def start_s3() -> Running:
    port = free_port()
    run = services_dir() / "run"
    run.mkdir(parents=True, exist_ok=True)
    log = run / f"moto-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True, cwd=run,
        )
    url = f"http://127.0.0.1:{port}"
    running = Running("s3", url, proc, proc.pid, log)
    try:
        wait_for_s3(url, S3_START_TIMEOUT_S, proc, log)
    except BaseException:
        running.stop()
        raise
    return running


# -- PostgreSQL ---------------------------------------------------------------


def find_postgres_bin() -> Path:
    """The newest installed server's bin directory (Debian: /usr/lib/postgresql/N/bin)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit()
                   else 0)
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise ServiceError("no PostgreSQL server found (install the Debian package postgresql)")


def _pg_connect(url: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"),
                             connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


def wait_for_postgres(url: str, timeout_s: float,
                      proc: subprocess.Popen[bytes] | None = None,
                      log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ServiceError(f"postgres exited with {proc.returncode}:\n"
                               f"{_log_tail(log) if log else ''}")
        if _pg_connect(url):
            return
        time.sleep(0.2)
    raise ServiceError(f"postgres not ready at {url} after {timeout_s:.0f}s:\n"
                       f"{_log_tail(log) if log else ''}")


def start_postgres(*, durable: bool = False) -> Running:
    """A throwaway cluster: initdb in a temporary directory, postgres in the foreground.

    Tests run it without fsync (nothing to keep); ``durable`` keeps PostgreSQL's
    defaults, for benchmarks that compare it with SQLite at ``synchronous=FULL``.
    """
    account = _service_account(PG_USER)
    bindir = find_postgres_bin()
    work = Path(tempfile.mkdtemp(prefix="commarchive-pg-"))
    work.chmod(0o755)
    (work / "socket").mkdir()
    _chown_tree(work, account)
    uid, gid = account if account else (None, None)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8",
           "HOME": str(work)}
    made = subprocess.run(
        [str(bindir / "initdb"), "-D", str(work / "data"), "-U", PG_ROLE, "-E", "UTF8",
         "--locale=C", "--auth=trust", "--no-sync"],
        env=env, cwd=work, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=120, check=False, user=uid, group=gid,
    )
    if made.returncode != 0:
        shutil.rmtree(work, ignore_errors=True)
        raise ServiceError(f"initdb failed: {made.stdout}{made.stderr}")
    port = free_port()
    log = work / "postgres.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(bindir / "postgres"), "-D", str(work / "data"), "-h", "127.0.0.1",
             "-p", str(port), "-k", str(work / "socket"), "-c", "max_connections=300",
             *([] if durable else ["-c", "fsync=off", "-c", "full_page_writes=off"])],
            env=env, cwd=work, stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True, user=uid, group=gid,
        )
    url = f"postgresql+psycopg://{PG_ROLE}@127.0.0.1:{port}/postgres"
    running = Running("postgresql", url, proc, proc.pid, log, workdir=work,
                      stop_signal=signal.SIGINT)
    try:
        wait_for_postgres(url, PG_START_TIMEOUT_S, proc, log)
    except BaseException:
        running.stop()
        raise
    return running


def postgres_url() -> str:
    """The SQLAlchemy URL of a running PostgreSQL server's maintenance database."""
    return _service_url("postgresql", ENV_PG_URL)


def postgres_database() -> str:
    """A new, empty database on the test server: its SQLAlchemy URL."""
    return postgres_database_on(postgres_url())


def postgres_database_on(server: str) -> str:
    """A new, empty database on the server at ``server`` (a SQLAlchemy URL)."""
    import psycopg

    name = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(server.replace("postgresql+psycopg://", "postgresql://"),
                         autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return server.rsplit("/", 1)[0] + f"/{name}"


# -- what tests call ----------------------------------------------------------

_started: dict[str, Running] = {}
_urls: dict[str, str] = {}
_errors: dict[str, str] = {}


def _stop_started() -> None:
    while _started:
        _, running = _started.popitem()
        running.stop()


atexit.register(_stop_started)


def _service_url(name: str, env_var: str) -> str:
    if name in _urls:
        return _urls[name]
    if name in _errors:
        unavailable(name, _errors[name])
    try:
        url = os.environ.get(env_var, "").rstrip("/")
        waiter, starter = _SERVICES[name]
        if url:
            waiter(url, 60.0)
        else:
            running = starter()
            _started[name] = running
            url = running.url
    except (ServiceError, OSError, subprocess.SubprocessError) as exc:
        _errors[name] = str(exc)
        unavailable(name, _errors[name])
    _urls[name] = url
    return url


_SERVICES: Final[dict[str, tuple[Callable[[str, float], None], Callable[[], Running]]]] = {
    "elasticsearch": (wait_for_elasticsearch, start_elasticsearch),
    "s3": (wait_for_s3, start_s3),
    "postgresql": (wait_for_postgres, start_postgres),
}


def elasticsearch_url() -> str:
    """Base URL of a running Elasticsearch (security off), started on first call."""
    return _service_url("elasticsearch", ENV_ES_URL)


class SecureElasticsearch(TypedDict):
    url: str  # https://127.0.0.1:PORT
    username: str
    password: str
    ca_certs: str  # PEM file of the CA that signed the node's certificate


def elasticsearch_secure() -> SecureElasticsearch:
    """A second node with TLS on HTTP and basic auth (superuser), started on first call."""
    if "elasticsearch-secure" in _errors:
        unavailable("secured Elasticsearch", _errors["elasticsearch-secure"])
    running = _started.get("elasticsearch-secure")
    if running is None:
        try:
            running = start_elasticsearch(secure=True)
        except (ServiceError, OSError, subprocess.SubprocessError) as exc:
            _errors["elasticsearch-secure"] = str(exc)
            unavailable("secured Elasticsearch", str(exc))
        _started["elasticsearch-secure"] = running
    return SecureElasticsearch(url=running.url, username=running.extra["username"],
                               password=running.extra["password"],
                               ca_certs=running.extra["ca_certs"])


def s3_endpoint() -> S3Endpoint:
    """A running S3 API (moto) that honours Object Lock, started on first call."""
    url = _service_url("s3", ENV_S3_URL)
    return S3Endpoint(
        endpoint_url=url,
        endpoint=url.split("://", 1)[1],
        secure=url.startswith("https://"),
        access_key=S3_ACCESS_KEY,
        secret_key=S3_SECRET_KEY,
        region=S3_REGION,
    )


# -- command line, for scripts/test.sh ----------------------------------------


def _cli_start() -> int:
    """Start every service; print `export` lines, the state file's path among them."""
    state_path = services_dir() / "run" / f"state-{os.getpid()}.json"
    state_path.parent.mkdir(parents=True, exist_ok=True)
    state: dict[str, dict[str, str | int]] = {}
    started: list[Running] = []
    try:
        for name, env_var, starter in (
            ("s3", ENV_S3_URL, start_s3),
            ("postgresql", ENV_PG_URL, start_postgres),
            ("elasticsearch", ENV_ES_URL, start_elasticsearch),
        ):
            t0 = time.monotonic()
            running = starter()
            started.append(running)
            state[name] = {"pid": running.pid, "url": running.url, "log": str(running.log),
                           "workdir": str(running.workdir or ""), "env": env_var,
                           "signal": int(running.stop_signal)}
            print(f"{name} ready at {running.url} in {time.monotonic() - t0:.1f}s",
                  file=sys.stderr)
    except (ServiceError, OSError, subprocess.SubprocessError) as exc:
        for running in started:
            running.stop()
        print(f"error: {exc}", file=sys.stderr)
        return 1
    state_path.write_text(json.dumps(state, indent=2))
    for entry in state.values():
        print(f"export {entry['env']}={entry['url']}")
    print(f"export {ENV_STATE}={state_path}")
    return 0


def _cli_stop() -> int:
    """Stop what the `start` whose state file is in $COMMARCHIVE_TEST_SERVICES_STATE started."""
    configured = os.environ.get(ENV_STATE)
    if not configured:
        print(f"{ENV_STATE} is not set: nothing to stop", file=sys.stderr)
        return 0
    state_path = Path(configured)
    if not state_path.exists():
        return 0
    state = json.loads(state_path.read_text())
    for name, entry in state.items():
        _stop_group(int(entry["pid"]), 30.0, int(entry.get("signal", signal.SIGTERM)))
        if entry.get("workdir"):
            shutil.rmtree(entry["workdir"], ignore_errors=True)
        if not in_ci():
            Path(entry["log"]).unlink(missing_ok=True)
        print(f"{name} stopped", file=sys.stderr)
    state_path.unlink()
    return 0


def main(argv: list[str]) -> int:
    commands = {"start": _cli_start, "stop": _cli_stop}
    if len(argv) != 1 or argv[0] not in commands:
        print("usage: python -m tests.services start|stop", file=sys.stderr)
        return 2
    return commands[argv[0]]()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
