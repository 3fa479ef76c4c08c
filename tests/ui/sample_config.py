"""A small Config with one field of every kind the form draws, for tests/ui/test_form.py."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from engine.core.config import TechniqueConfig


class Config(TechniqueConfig):
    agent: Literal["table", "network"] = Field("table", description="Which learner.")
    episodes: int = Field(50, ge=1, le=500, description="Episodes to train.")
    batch: int = Field(64, ge=1, le=100_000, description="Rows per step.")
    learning_rate: float = Field(0.01, ge=1e-4, le=1.0, description="Step size.", json_schema_extra={"log": True})
    gamma: float = Field(0.99, ge=0.0, le=1.0, description="Discount.", json_schema_extra={"widget": "slider"})
    noise: float = Field(0.5, ge=0.0, le=10.0, description="Noise level.", title="Noise (std)")
    double: bool = Field(False, description="Use two networks.")
    width: int = Field(32, ge=4, le=256, description="Hidden units (network only).")

    SHOW_IF: ClassVar[dict] = {"width": {"agent": ["network"]}, "double": {"agent": ["network"]}}

    @model_validator(mode="after")
    def _fits(self):
        if self.double and self.agent != "network":
            raise ValueError("Two networks need the network agent.")
        return self


PRESETS = {"quick": {"episodes": 20}, "better": {"episodes": 200, "learning_rate": 0.003}}
PRESET_LABELS = {"quick": "Quick look", "better": "Better result"}
