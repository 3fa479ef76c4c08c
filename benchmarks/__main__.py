"""python -m benchmarks [--only NAME ...] [--skip-browser] [--skip-render] [--skip-loop] [--out DIR]

Measures every registered technique's quick preset through the CLI, the cold first render of the home page and
of pages/xai.py, the run store's recording cost and shared-result render, each Try it's answer time, the training loop's overhead over
bare PyTorch (an MLP, and the SSL page's SimCLR pretraining), and (with Chromium) the whole app's memory after
visiting every page. Prints PASS/FAIL per target and writes results/latest.md and results/latest.json.
Exit status: 0 when every target passed, 1 when one failed or errored.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import benchmarks as targets
import engine
from benchmarks import report
from benchmarks.cli_runs import run_quick, shap_first_call_s, warm_run_s


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        choices=list(engine.TECHNIQUES),
        help="measure only this technique (repeatable); the app-wide measurements still run",
    )
    parser.add_argument("--skip-browser", action="store_true", help="skip the whole-app memory tour in Chromium")
    parser.add_argument("--skip-render", action="store_true", help="skip the cold first-render timings")
    parser.add_argument("--skip-loop", action="store_true", help="skip the training-loop overhead measurements")
    parser.add_argument("--skip-store", action="store_true", help="skip the run-store costs")
    parser.add_argument("--skip-tryit", action="store_true", help="skip the Try-it answer times")
    parser.add_argument("--out", default=str(report.RESULTS), help="folder for latest.md and latest.json")
    return parser


def _presets(names: list[str], results: dict) -> None:
    """Every technique's quick preset, then the presets an issue gives a target of its own."""
    results["techniques"] = []
    for name in names:  # one at a time: they would otherwise share the 2 cores and distort each other
        print(f"quick preset: {name} ...", flush=True)
        row = run_quick(name)
        if "error" not in row:
            row["warm_s"] = warm_run_s(name)
        results["techniques"].append(row)
        ran = "error" if "error" in row else f"warm {row['warm_s']} s, cold CLI run {row['run_s']:.1f} s"
        print(f"  {ran}, wall {row['wall_s']:.1f} s, peak RSS {row['peak_rss_mb']:.0f} MB", flush=True)
    results["presets"] = []
    for name, preset, limit_s, metric, minimum in targets.PRESET_TARGETS:
        if name in names:
            print(f"{name} {preset} preset ...", flush=True)
            row = run_quick(name, preset)
            results["presets"].append({**row, "limit_s": limit_s, "target_metric": metric, "minimum": minimum})
            print(f"  wall {row['wall_s']:.1f} s, {metric} {row.get('metrics', {}).get(metric)}", flush=True)


def _app_wide(args, names: list[str], results: dict) -> None:
    """Cold renders, run-store costs and the training-loop overheads (each skippable)."""
    if not args.skip_render:
        from benchmarks.render import cold_render

        print("cold first render: app.py (home), pages/xai.py ...", flush=True)
        results["render"] = {"home": cold_render("app.py"), "xai": cold_render("pages/xai.py")}
    if not args.skip_store:
        from benchmarks.store import store_costs

        print("run store: recording cost and shared-result render ...", flush=True)
        results["store"] = store_costs()
    if not args.skip_tryit:
        from benchmarks.tryit import tryit_costs

        results["tryit"] = tryit_costs(names)
        if "attention" in names:
            from benchmarks.tryit import real_model_costs

            print("try it: attention, inside the real pretrained model ...", flush=True)
            results["tryit_real"] = real_model_costs()

    if not args.skip_loop:
        from benchmarks.loop import loop_overhead, ssl_loop_overhead

        print("training-loop overhead: MLP ...", flush=True)
        results["loop"] = loop_overhead()
        if "ssl" in names:
            print("training-loop overhead: SimCLR pretraining ...", flush=True)
            results["loop_ssl"] = ssl_loop_overhead()


def _app_memory(only: list[str] | None) -> dict:
    from tests.browser import driver

    missing = driver.missing_pages()
    if driver.chromium_path() is None:
        return {"skipped": f"Chromium is not installed at {driver.CHROMIUM}"}
    if missing:
        return {"skipped": f"the app cannot start; pages missing: {', '.join(missing)}"}
    from benchmarks.app_memory import app_memory

    print("whole app in the browser: visiting every page with a quick run ...", flush=True)
    return app_memory(only)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    names = args.only or list(engine.TECHNIQUES)
    results: dict = {
        "environment": report.environment(),
        "command": ("python -m benchmarks " + " ".join(argv if argv is not None else sys.argv[1:])).strip(),
    }
    _presets(names, results)
    results["shap_first_call_s"] = shap_first_call_s()
    print(f"SHAP first call in a cold process: {results['shap_first_call_s']} s", flush=True)
    _app_wide(args, names, results)
    if not args.skip_browser:
        from benchmarks.read_path import read_path

        print("what a person waits for, in Chromium (fresh contexts) ...", flush=True)
        results["read_path"] = read_path()
        results["app_memory"] = _app_memory(args.only)
        if "skipped" in results["app_memory"]:
            print(f"  skipped: {results['app_memory']['skipped']}")

    rows = report.judge(results)
    md, js = report.write(results, rows, Path(args.out))
    print()
    width = max(len(r["target"]) for r in rows) if rows else 10
    for r in rows:
        print(f"{r['result']:<5} {r['target']:<{width}}  {r['measured']:>12}  (target {r['limit']})")
    print(f"\nwrote {md} and {js}")
    return 0 if all(r["result"] == "PASS" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
