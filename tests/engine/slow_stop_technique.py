"""A technique whose partial results take a while after Stop, like figures and SHAP on a busy server (issue 13
item 4); registered through FRONTIER_EXTRA_TECHNIQUES by tests/engine/test_stop_grace.py."""
from __future__ import annotations

import time

from pydantic import Field

from engine.core.config import TechniqueConfig
from engine.core.contract import Metric, Result, Tracker


class Config(TechniqueConfig):
    steps: int = Field(1000, ge=1, le=10000, description="Steps.")
    finish_seconds: float = Field(3.0, ge=0, le=60, description="Time to draw the results after training.")


PRESETS = {"quick": {}}
METRICS = {"final_loss": Metric("Final loss")}


def run(config: Config, progress) -> Result:
    tracker = Tracker(progress, config.steps)
    for i in range(1, config.steps + 1):
        time.sleep(0.02)
        if tracker.step(i, loss=1.0 / i):
            break
    return Result(config=config, history=tracker.history(), metrics={"final_loss": tracker.rows[-1]["loss"]},
                  headline=("final_loss",), stopped=tracker.stopped)


def figures(result):
    time.sleep(result.config.finish_seconds)  # a loaded server: the partial figures take longer than the grace
    return {}


def explain(result):
    return None


def explain_figures(result, explanation):
    return {}


def live_figure(snapshot):
    return None


def describe(result):
    return f"ran {len(result.history)} steps"


def estimate_seconds(config):
    return config.steps * 0.02
