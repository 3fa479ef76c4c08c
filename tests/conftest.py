"""Every test session gets its own data directory (run store, uploads), never the user's, and, for the run-store
suite, a throwaway PostgreSQL server (``postgres_url``: skipped with a reason locally when PostgreSQL is not
installed; under CI=1 that is a failure)."""

import os
import tempfile

os.environ["FRONTIER_DATA_DIR"] = tempfile.mkdtemp(prefix="frontier-test-")
os.environ.pop("FRONTIER_SINGLE_USER", None)
os.environ.pop("FRONTIER_DATABASE_URL", None)  # never a person's database server
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")


# --- a throwaway PostgreSQL server for the run-store suite --------------------------------------------------
import glob
import shutil
import socket
import subprocess

import pytest


def _unavailable(reason: str):
    """Skip with a reason locally; with CI=1 a missing PostgreSQL fails the run (CI must test both stores)."""
    if os.environ.get("CI") == "1":
        pytest.fail(f"CI=1 but PostgreSQL tests cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


def _pg_bin() -> str | None:
    found = shutil.which("initdb")
    if found:
        return os.path.dirname(found)
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return os.path.dirname(dirs[-1]) if dirs else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_server():
    """URL of a PostgreSQL server started for this test session on 127.0.0.1 (initdb + pg_ctl in a temp dir).

    initdb refuses to run as root, so as root the server runs as ``nobody``."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("psycopg is not installed (pip install -r requirements.txt)")
    bindir = _pg_bin()
    if bindir is None:
        _unavailable("PostgreSQL's initdb was not found (Debian: apt-get install -y postgresql)")
    root = tempfile.mkdtemp(prefix="frontier-pg-")
    as_user: list[str] = []
    if os.geteuid() == 0:
        import pwd

        nobody = pwd.getpwnam("nobody")
        os.chown(root, nobody.pw_uid, nobody.pw_gid)
        as_user = ["runuser", "-u", "nobody", "--"]
    port, data = _free_port(), os.path.join(root, "data")
    run = lambda *cmd: subprocess.run([*as_user, *cmd], check=True, capture_output=True, timeout=120)
    try:
        run(f"{bindir}/initdb", "-D", data, "-U", "frontier", "--auth=trust", "-E", "UTF8", "--no-sync")
        run(
            f"{bindir}/pg_ctl",
            "-D",
            data,
            "-l",
            os.path.join(root, "log"),
            "-w",
            "-t",
            "60",
            "-o",
            f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off -c full_page_writes=off",
            "start",
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as e:
        shutil.rmtree(root, ignore_errors=True)
        detail = getattr(e, "stderr", b"") or b""
        _unavailable(f"could not start PostgreSQL: {e} {detail.decode(errors='replace')[-300:]}")
    try:
        yield f"postgresql://frontier@127.0.0.1:{port}"
    finally:
        subprocess.run([*as_user, f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server):
    """A fresh, empty database on the session's server, for one test."""
    import psycopg

    name = "t_" + os.urandom(6).hex()
    with psycopg.connect(f"{postgres_server}/postgres", autocommit=True) as db:
        db.execute(f"CREATE DATABASE {name}")
    return f"{postgres_server}/{name}"
