"""GANs page: watch a generator and a discriminator play their game, live."""

from ui.draw_points import drawing_pad
from ui.form import setting
from ui.page import technique_page

INTRO = """
A **generator** turns random noise into samples; a **discriminator** scores samples as real or fake. They train
against each other: the discriminator learns to spot fakes, the generator learns to fool it. On the 2-D sets you
can watch the generated points (purple) chase the real data (green) across the discriminator's map of what looks
real.

Two numbers judge the result against real data the generator never saw: **precision** (the share of generated
samples that land where real data lives) and **recall** (the share of the real data the samples reach). Each is
shown beside what uniform random noise scores and what a second sample of real data scores, so you can see how far
the generator got. High precision with low recall is **mode collapse**, the classic GAN failure: the generator
imitates only a few of the blobs.

Pick **Draw your own** as the data to draw it yourself: click on the chart to add points (or drag a loop to fill a
region), then train. Each point becomes a small blob; the coverage chart counts each group of touching points.
"""


def drawn_inputs() -> dict | None:
    """With "Draw your own": the drawing pad (None until the drawing can be learned; the pad says why)."""
    if setting("gan", "dataset") != "drawn":
        return {"drawing": ""}  # a drawing stays in the form for later, but not in another data set's link or run
    return drawing_pad("gan")


technique_page("gan", intro=INTRO, extra_inputs=drawn_inputs)
