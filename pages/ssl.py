"""Self-supervised learning page: pretrain on unlabelled digits, then see where it pays with few labels."""

from ui.page import technique_page

INTRO = (
    "**Self-supervised learning** makes its own training signal from data without labels. Here a small "
    "convolutional encoder learns from scikit-learn's 8x8 handwritten digits with their labels hidden.\n\n"
    "- **SimCLR** (contrastive): each digit becomes two random *views* (cropped, rotated, fainter, ...). The "
    "NT-Xent loss pulls the two views of a digit together and pushes them away from every other digit in the batch; "
    "the **temperature** sets how hard it pushes on the most similar negatives, the **batch size** how many "
    "negatives there are.\n"
    "- **Masked pixels** (predictive): hide patches of each digit and learn to fill them in. On these tiny digits "
    "it seldom beats the random encoder: the form says why before you train.\n\n"
    "Then the labels come out, but only a few: a **linear probe** (a linear classifier on the frozen encoder's "
    "features) is compared with the same encoder at its random start and with the same network trained on the "
    "same labels. On these small digits random convolutional features are already good, so expect a small gain "
    "with 10% of the labels; the gains show with 1-2% of the labels and on a perturbed copy of the test digits."
)

technique_page("ssl", intro=INTRO)
