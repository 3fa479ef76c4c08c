"""Try it (issue 18): how fast one Try-it update answers (prediction + SHAP of one input) on each technique's
quick-preset model, rebuilt from its safetensors weights as the app does.

Per technique: one quick-preset run (not timed here), its model rebuilt by ``engine.core.tryit.load`` (timed:
the first Try-it view of a run pays it once, then the app caches it per run id), then every example input
answered ``repeats`` times; the median wall time is judged against ``TRYIT_TARGET_MS`` (the CPU time is shown
beside it: on a shared machine it says what the answer costs by itself). One torch thread.
"""

from __future__ import annotations

import statistics
import time


def tryit_costs(names: list[str], repeats: int = 5) -> list[dict]:
    import torch

    torch.set_num_threads(1)
    from engine.core import tryit
    from engine.core.pipeline import execute

    rows = []
    for name in names:
        if not tryit.available(name):
            continue
        print(f"try it: {name} ...", flush=True)
        try:
            import engine
            from benchmarks import TRYIT_PRESETS

            preset = TRYIT_PRESETS.get(name, "quick")
            outcome = execute(name, dict(engine.load(name).PRESETS[preset]))
            started = time.perf_counter()
            bundle = tryit.load(name, outcome.config, outcome.weights, outcome.info)
            load_s = time.perf_counter() - started
            answers = [
                tryit.answer(name, bundle, inputs) for _ in range(repeats) for inputs in tryit.examples(name, bundle)
            ]
            times, cpu = [a.ms for a in answers], [a.cpu_ms for a in answers]
        except Exception as err:  # a failing technique is a row of the report, not the end of the benchmark
            rows.append({"technique": name, "error": f"{type(err).__name__}: {err}"})
            continue
        row = {
            "technique": name,
            "preset": preset,
            "load_s": round(load_s, 2),
            "median_ms": round(statistics.median(times), 1),
            "max_ms": round(max(times), 1),
            "cpu_median_ms": round(statistics.median(cpu), 1),
            "answers": len(times),
        }
        rows.append(row)
        print(
            f"  model rebuilt in {load_s:.2f} s; answer median {row['median_ms']} ms "
            f"(CPU {row['cpu_median_ms']} ms), "
            f"max {row['max_ms']} ms",
            flush=True,
        )
    return rows


def real_model_costs(repeats: int = 5) -> dict:
    """Issue 29 item 2: the attention Try it's "Look inside a real model" answer (the MiniLM sentence encoder's 72
    heads measured, its rollout, and the toy beside it, figures included) on the quick sentiment run. Cold: the
    first answer after a restart (the pretrained model is loaded then, once per process); warm: every example
    sentence answered ``repeats`` times, one torch thread, for each of two heads."""
    import torch

    torch.set_num_threads(1)
    import engine
    from benchmarks import TRYIT_REAL_TARGET_MS
    from engine.attention import pretrained
    from engine.attention.tryit import real_examples
    from engine.core import tryit
    from engine.core.pipeline import execute
    from engine.transfer.text import encoder

    outcome = execute("attention", dict(engine.load("attention").PRESETS["quick"], task="sentiment"))
    bundle = tryit.load("attention", outcome.config, outcome.weights, outcome.info)
    sentences = real_examples(bundle)
    pretrained.load_model.cache_clear()
    encoder.cache_clear()
    first = tryit.answer("attention", bundle, {"real": sentences[0], "layer": 1, "head": 1})
    answers = [
        tryit.answer("attention", bundle, {"real": s, "layer": layer, "head": head})
        for _ in range(repeats)
        for s in sentences
        for layer, head in ((1, 3), (5, 8))
    ]
    times, cpu = [a.ms for a in answers], [a.cpu_ms for a in answers]
    median = round(statistics.median(times), 1)
    row: dict = {
        "technique": "attention (real model)",
        "cold_s": round(first.ms / 1000, 2),
        "median_ms": median,
        "max_ms": round(max(times), 1),
        "cpu_median_ms": round(statistics.median(cpu), 1),
        "answers": len(times),
        "tokens": max(len(pretrained.look(s).tokens) for s in sentences),
    }
    row["verdict"] = "PASS" if median < TRYIT_REAL_TARGET_MS else "FAIL"
    print(f"  {row}", flush=True)
    return row


def concurrent_visitors(visitors: int = 10, name: str = "xai", answers: int = 5) -> dict:
    """Issue 26: ``visitors`` people try ``visitors`` different result links at once (one rebuilt model each),
    each changing the input ``answers`` times; the median answer time is judged against 300 ms."""
    import threading

    import torch

    torch.set_num_threads(1)
    from engine.core import tryit
    from engine.core.pipeline import execute

    bundles = []
    for seed in range(visitors):
        outcome = execute(name, {"seed": seed})
        bundles.append(tryit.load(name, outcome.config, outcome.weights, outcome.info))
    times: list[float] = []
    lock = threading.Lock()

    def visitor(bundle) -> None:
        examples = tryit.examples(name, bundle)
        for i in range(answers):
            ms = tryit.answer(name, bundle, examples[i % len(examples)]).ms
            with lock:
                times.append(ms)

    threads = [threading.Thread(target=visitor, args=(b,)) for b in bundles]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    row = {
        "technique": name,
        "visitors": visitors,
        "answers": len(times),
        "median_ms": round(statistics.median(times), 1),
        "max_ms": round(max(times), 1),
    }
    row["verdict"] = "PASS" if row["median_ms"] < 300 else "FAIL"
    return row


if __name__ == "__main__":  # python -m benchmarks.tryit [--concurrent] [NAME ...]: just these rows
    import sys

    import engine

    if "--concurrent" in sys.argv:
        print(concurrent_visitors())
    elif "--real" in sys.argv:  # python -m benchmarks.tryit --real: the attention page's real-model answer
        print(real_model_costs())
    else:
        for r in tryit_costs(sys.argv[1:] or list(engine.TECHNIQUES)):
            print(r)
