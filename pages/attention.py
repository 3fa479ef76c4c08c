"""Attention & transformers page: train a small transformer and see what each head looks at."""

from ui.page import technique_page

INTRO = """
**Self-attention** lets every token look at every other token. Each token is turned into a *query* ("what am I
looking for?"), a *key* ("what do I contain?") and a *value* ("what do I pass on?"). A token's attention weights
are the softmax of its query's dot products with all keys (divided by √d), so they add up to 1; its output is the
weighted average of the values. **Multi-head** attention runs several of these side by side, so different heads
can look for different things. A **transformer block** adds a small feed-forward network, residual connections
and layer normalisation.

Attention alone does not know where a token sits: shuffle the sequence and every token gets the same output.
**Positional encoding** adds a position vector to each token so order can matter. Tick *compare without
positional encoding* to train the same model without it, and watch its accuracy fall to chance on order tasks,
together with the baseline that simply averages the token embeddings, and stay level on the control task *Whether
an X is there at all*, where order does not matter.

After training, **Try it** › *A real pretrained model (MiniLM) beside it* opens a real transformer (6 layers × 12
heads, trained on about a billion sentence pairs): type a sentence and see what each of its 72 heads looks at,
next to the small model you trained.
"""

technique_page("attention", intro=INTRO)
