"""The Flower app on a real (local) deployment: a SuperLink and two SuperNodes on 127.0.0.1 run two rounds, and
the global model's accuracy matches engine.federated's in-process simulation of the same settings.

Needs flwr, so it runs in its own venv: ``bash .ci/flower`` (the main test run leaves tests/flower out).
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import flwr  # noqa: F401  (a missing flwr is an error here, not a skip: run this through .ci/flower)
import pytest
import torch

from engine.federated.config import Config
from engine.federated.fedavg import run

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "flower"))  # the app's package, as the SuperLink and SuperNodes load it
BIN = Path(sys.executable).parent  # flower-superlink, flower-supernode and flwr live beside this Python
SETTINGS = {"n_clients": 2, "rounds": 2, "partition": "dirichlet", "alpha": 0.3, "seed": 0}
torch.set_num_threads(1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, log: Path, seconds: float = 120) -> None:
    end = time.time() + seconds
    while time.time() < end:
        if proc.poll() is not None:
            raise AssertionError(f"{proc.args[0]} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise AssertionError(f"nothing listened on port {port} within {seconds} s:\n{log.read_text()[-3000:]}")


@pytest.fixture
def deployment(tmp_path):
    """SuperLink + two SuperNodes (partition-id 0 and 1 of 2) on 127.0.0.1; yields the flwr environment."""
    home = tmp_path / "flwr-home"
    home.mkdir()
    env = {**os.environ, "FLWR_HOME": str(home), "PYTHONPATH": str(ROOT), "PATH": f"{BIN}:{os.environ['PATH']}"}
    link = free_port()
    (home / "config.toml").write_text(  # where `flwr run` finds the SuperLink (Flower's configuration file)
        f'[superlink]\ndefault = "local-test"\n\n[superlink.local-test]\n'
        f'address = "127.0.0.1:{link}"\ninsecure = true\n'
    )
    procs = []

    def start(name: str, *args: str) -> tuple[subprocess.Popen, Path]:
        log = tmp_path / f"{name}.log"
        proc = subprocess.Popen(
            [str(BIN / args[0]), *args[1:]],
            env=env,
            cwd=tmp_path,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # its own process group
        procs.append(proc)
        return proc, log

    try:
        proc, log = start(
            "superlink",
            "flower-superlink",
            "--insecure",
            "--disable-runtime-dependency-installation",
            "--host",
            "127.0.0.1",
            "--port",
            str(link),
        )
        wait_for_port(link, proc, log)
        for k in range(2):
            port = free_port()
            proc, log = start(
                f"supernode{k}",
                "flower-supernode",
                "--insecure",
                "--superlink",
                f"127.0.0.1:{link}",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--node-config",
                f"partition-id={k} num-partitions=2",
            )
            wait_for_port(port, proc, log)
        yield env, tmp_path
    finally:
        # Only what this fixture started: each process's own group, which holds the flwr-clientapp processes a
        # SuperNode starts (they outlived a terminated SuperNode here and kept importing torch).
        for proc in procs:
            _signal_group(proc, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
            _signal_group(proc, signal.SIGKILL)  # anything of its group still there


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)  # the group id is the leader's pid (start_new_session=True)
    except ProcessLookupError:
        pass  # the whole group has exited


def test_two_supernodes_match_the_in_process_simulation(deployment):
    env, tmp = deployment
    result = tmp / "result.json"
    # wait-seconds: how long the ServerApp waits for each round's replies. Every message starts a fresh client
    # process (torch imports); on a loaded 2-core box that took over 120 s, and a round without replies fails.
    run_config = {**SETTINGS, "result-path": str(result), "wait-seconds": 400}
    overrides = " ".join(f"{k}={json.dumps(v)}" for k, v in run_config.items())
    started = time.time()
    out = subprocess.run(
        [str(BIN / "flwr"), "run", str(ROOT / "flower"), "local-test", "--run-config", overrides, "--stream"],
        env=env,
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert result.exists(), (
        f"the ServerApp wrote no result (rc {out.returncode}):\n{out.stdout[-4000:]}{out.stderr[-2000:]}"
    )
    flower = json.loads(result.read_text())["history"]
    simulated = run(Config(**SETTINGS), None).history
    print(
        f"Flower deployment: {time.time() - started:.1f} s; accuracy per round, Flower vs simulation: "
        f"{[round(r['global_accuracy'], 4) for r in flower]} vs {simulated['global_accuracy'].round(4).tolist()}"
    )
    assert [r["round"] for r in flower] == [1, 2] and all(r["updates_received"] == 2 for r in flower)
    assert flower[-1]["global_accuracy"] > 0.5  # two rounds already learn (chance is 0.1)
    for real, sim in zip(flower, simulated["global_accuracy"]):
        # same data, initial weights, shuffles and aggregation: equal up to float summation order (within noise)
        assert abs(real["global_accuracy"] - sim) <= 0.01
    assert flower[-1]["client_drift"] == pytest.approx(simulated["client_drift"].iloc[-1], rel=1e-3)


def test_sampling_keeps_64_bit_node_ids_exact():
    """Flower's node ids use all 64 bits; a NumPy round trip through float64 once sent messages to no one."""
    import numpy as np
    from frontier_flower.task import sample

    nodes = [5661505681273403211, 17512418293267646524, 3]
    assert sample(nodes, 1.0, np.random.default_rng(0)) == nodes
    assert set(sample(nodes, 0.5, np.random.default_rng(0))) <= set(nodes)
