"""Neural architecture search page: random search, evolution and an RL controller design a digit classifier."""

from engine.nas.config import SPACE, SPACE_HELP, space_size
from ui.nas import candidate_inspector
from ui.page import technique_page

SPACE_TABLE = "\n".join(
    [
        "| decision | what it sets | options |",
        "|---|---|---|",
        *(f"| {d.replace('_', ' ')} | {SPACE_HELP[d]} | {', '.join(map(str, o))} |" for d, o in SPACE.items()),
    ]
)

INTRO = f"""
**Neural architecture search** lets an algorithm design the network. Here the designs grow out of the course's
starting model, *Conv2D(32, 3x3, relu) -> MaxPool(2x2) -> Flatten -> Dense(64, relu) -> Dense(10)*, for
scikit-learn's 8x8 handwritten digits:

{SPACE_TABLE}

That is **{space_size():,} architectures**. Each strategy proposes the same number of candidates (the budget); each
candidate trains for a few epochs and is scored on validation images; a repeated architecture is looked up, not
retrained. **Random search** is the baseline. **Regularised evolution** (Real et al. 2019) copies the best of a
small random tournament with one choice changed and retires the oldest member. The **RL controller** (Zoph & Le
2017) picks one choice at a time from its own probabilities and learns from each candidate's accuracy with
REINFORCE. **Optuna's TPE** is a ready-made Bayesian-style sampler for comparison. The winner is finally scored on
test images that no strategy ever saw.

Each strategy **searches several times** from fresh seeds, as NAS papers compare strategies: the headline is the
**average proposal**, how good a typical candidate of each strategy is at the same budget, and the chart shows the
best-so-far of every search (median and spread). The single best found is shown too, but at a small budget it is
mostly the luck of one draw: random search's best beats a guided strategy's on some seeds.
"""

technique_page("nas", intro=INTRO, figure_extras={"Accuracy vs size": candidate_inspector})
