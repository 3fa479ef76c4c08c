"""A technique that misbehaves on request, for testing job isolation (registered via FRONTIER_EXTRA_TECHNIQUES).

``finish_seconds`` makes its figures slow to draw, like figures and SHAP on a busy server, so a stopped run takes
that long after Stop to return its partial results (issue 13 item 4, tests/engine/test_stop_grace.py)."""

from __future__ import annotations

import os
import time
from typing import Literal

from pydantic import Field

from engine.core.config import TechniqueConfig
from engine.core.contract import Metric, Result, RunError, Tracker


class Config(TechniqueConfig):
    mode: Literal["ok", "raise", "crash", "memory", "hang", "nan", "user_error", "leak"] = Field(
        "ok", description="What to do."
    )
    steps: int = Field(5, ge=1, le=1000, description="Steps.")
    step_seconds: float = Field(0.0, ge=0, le=10, description="Sleep per step.")
    finish_seconds: float = Field(0.0, ge=0, le=60, description="Time to draw the figures after training.")


PRESETS = {"quick": {}}
LEAKED: list = []  # "leak" mode keeps memory here after its run ends, as a leaking library would
METRICS = {"final_loss": Metric("Final loss")}


def run(config: Config, progress) -> Result:
    tracker = Tracker(progress, config.steps)
    if config.mode == "leak":
        LEAKED.append(bytearray(300 * 2**20))
        for j in range(0, len(LEAKED[-1]), 4096):
            LEAKED[-1][j] = 1  # touched, so it is resident
    if config.mode == "hang":
        time.sleep(600)  # ignores stop requests: the executor must kill it
    for i in range(1, config.steps + 1):
        if config.mode == "raise" and i == 2:
            raise ZeroDivisionError("boom")
        if config.mode == "user_error":
            raise RunError("Please pick a smaller number.")
        if config.mode == "crash" and i == 2:
            os.abort()  # a hard crash (SIGABRT), like a segfault in native code
        if config.mode == "memory" and i == 2:
            hog = bytearray(1500 * 2**20)
            for j in range(0, len(hog), 4096):
                hog[j] = 1
            time.sleep(5)
        time.sleep(config.step_seconds)
        loss = float("nan") if config.mode == "nan" and i == 3 else 1.0 / i
        if tracker.step(i, loss=loss, live={"i": i}):
            break
    return Result(
        config=config,
        history=tracker.history(),
        metrics={"final_loss": tracker.rows[-1]["loss"]},
        headline=("final_loss",),
        stopped=tracker.stopped,
    )


def figures(result):
    time.sleep(result.config.finish_seconds)  # a loaded server: the partial figures can take longer than the grace
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
    return config.steps * config.step_seconds
