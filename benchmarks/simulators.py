"""Quantum simulator comparison (issue 7): one training step of the QNN layer at 4, 8 and 12 qubits.

    python -m benchmarks.simulators [--qubits 4,8,12] [--repeats 5]

For each qubit count, the quantum page's own hybrid model (``engine.quantum.qnn.build_model`` around
``make_qnode``; angle embedding, 2 strongly entangling layers, re-uploading) does a forward and backward pass on
a batch of 32 with each simulator: ``default.qubit`` with backpropagation over the whole batch (parameter
broadcasting) and ``lightning.qubit`` with adjoint differentiation. Median of the repeats after one warm-up.
The auto rule in ``engine.quantum.qnn.choose_simulator`` should pick the faster one.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def step_seconds(n_qubits: int, device: str, diff: str, repeats: int) -> float:
    import torch

    from engine.quantum import Config
    from engine.quantum.qnn import build_model, make_qnode

    config = Config(dataset="breast_cancer", n_features=min(8, n_qubits), n_qubits=n_qubits, n_layers=2)
    model = build_model(config, make_qnode(config, device, diff))
    X = torch.randn(32, config.n_features)
    y = torch.randint(0, 2, (32,))
    times = []
    for i in range(repeats + 1):
        started = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(model(X), y)
        loss.backward()
        if i:  # the first pass builds and caches the circuit
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.simulators", description=__doc__.splitlines()[0])
    parser.add_argument("--qubits", default="4,8,12")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    from engine.quantum.qnn import choose_simulator

    rows = []
    for n in (int(q) for q in args.qubits.split(",")):
        default = step_seconds(n, "default.qubit", "backprop", args.repeats)
        lightning = step_seconds(n, "lightning.qubit", "adjoint", args.repeats)
        auto = choose_simulator(n, gpu=False)[0]
        faster = "default.qubit" if default <= lightning else "lightning.qubit"
        rows.append(
            {
                "qubits": n,
                "default_qubit_backprop_ms": round(default * 1000, 1),
                "lightning_qubit_adjoint_ms": round(lightning * 1000, 1),
                "auto_picks": auto,
                "auto_is_faster": auto == faster,
            }
        )
        print(rows[-1], flush=True)
    lines = [
        "# Quantum simulators: one forward + backward step, batch 32, 2 strongly entangling layers",
        "",
        f"Command: `python -m benchmarks.simulators --qubits {args.qubits}` (one torch thread, median of "
        f"{args.repeats}).",
        "",
        "| qubits | default.qubit + backprop | lightning.qubit + adjoint | auto picks | auto is the faster |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['qubits']} | {r['default_qubit_backprop_ms']} ms | {r['lightning_qubit_adjoint_ms']} ms | "
        f"{r['auto_picks']} | {'yes' if r['auto_is_faster'] else 'no'} |"
        for r in rows
    ]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "simulators.md").write_text("\n".join(lines) + "\n")
    (RESULTS / "simulators.json").write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
