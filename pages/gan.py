"""GANs page: watch a generator and a discriminator play their game, live."""
from ui.page import technique_page

technique_page("gan", intro=(
    "A **generator** turns random noise into samples; a **discriminator** scores samples as real or fake. "
    "They train against each other: the discriminator learns to spot fakes, the generator learns to fool it. "
    "On the 2-D sets you can watch the generated points (purple) chase the real data (green) across the "
    "discriminator's map of what looks real. When the generator only imitates a few of the blobs, that is "
    "**mode collapse**, the classic GAN failure."))
