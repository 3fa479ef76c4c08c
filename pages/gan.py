"""GANs page: watch a generator and a discriminator play their game, live."""

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
"""

technique_page("gan", intro=INTRO)
