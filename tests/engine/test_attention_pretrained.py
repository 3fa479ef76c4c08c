"""Inside a real pretrained transformer (issue 29 item 2): head measurements, rollout, and the real MiniLM."""

import numpy as np
import pytest

from engine.attention import pretrained

TOKENS = ["[CLS]", "the", "cat", "sat", ",", "the", "cat", "[SEP]"]


def _rows(T: int, target) -> np.ndarray:
    """A (T, T) map whose row i puts 0.8 on target(i) (when defined) and spreads the rest evenly."""
    a = np.full((T, T), 0.2 / (T - 1))
    for i in range(T):
        j = target(i)
        if j is None:
            a[i] = 1.0 / T
        else:
            a[i, j] = 0.8
    return a


def test_head_measures_name_constructed_heads():
    T = len(TOKENS)
    same = {2: 6, 6: 2, 1: 5, 5: 1}
    heads = np.stack(
        [
            _rows(T, lambda i: i - 1 if i else None),  # previous token
            _rows(T, lambda i: i + 1 if i < T - 1 else None),  # next token
            _rows(T, lambda i: 0),  # [CLS]
            _rows(T, lambda i: T - 1),  # [SEP]
            _rows(T, lambda i: same.get(i)),  # the same word elsewhere
            _rows(T, lambda i: 4),  # the comma
            np.full((T, T), 1.0 / T),  # spread evenly: no type
        ]
    )[None]  # (1 layer, 7 heads, T, T)
    assert np.allclose(heads.sum(-1), 1)
    m = pretrained.head_measures(heads, TOKENS)
    assert m["previous"][0, 0] == pytest.approx(0.8)
    assert m["next"][0, 1] == pytest.approx(0.8)
    assert m["same"][0, 4] == pytest.approx(0.8)
    labels = pretrained.head_labels(m)[0]
    kinds = [lab[0] if lab else None for lab in labels]
    assert kinds == ["previous", "next", "cls", "sep", "same", "punctuation", None], labels
    assert all(lab[1] >= pretrained.LABEL_SHARE for lab in labels if lab)
    # the spread head's largest share is below one half: labelled nothing, and its shares are still measured
    assert max(np.nan_to_num(m[k][0, 6]) for k in pretrained.KINDS) < pretrained.LABEL_SHARE


def test_same_word_counts_word_pieces_and_is_undefined_without_repeats():
    tokens = ["[CLS]", "play", "##ing", "now", "[SEP]"]
    a = np.full((1, 1, 5, 5), 0.2)
    m = pretrained.head_measures(a, tokens)
    assert m["same"][0, 0] == pytest.approx(0.2)  # 'play' and '##ing' are one word
    assert np.isnan(pretrained.head_measures(np.full((1, 1, 4, 4), 0.25), ["[CLS]", "a", "b", "[SEP]"])["same"][0, 0])


def test_rollout_rows_sum_to_one_and_identity_attention_keeps_tokens_apart():
    rng = np.random.default_rng(0)
    att = rng.dirichlet(np.ones(9), size=(4, 3, 9))  # (layers, heads, T, T), rows sum to 1
    flow = pretrained.rollout(att)
    assert np.allclose(flow.sum(1), 1) and (flow >= 0).all()
    assert pretrained.embedding_shares(att).sum() == pytest.approx(1)
    assert np.allclose(pretrained.rollout(np.broadcast_to(np.eye(5), (2, 2, 5, 5))), np.eye(5))
    # every head looking at token 0: everything but the residual half flows from token 0
    to_first = np.zeros((1, 1, 4, 4))
    to_first[..., 0] = 1
    assert pretrained.rollout(to_first)[:, 0] == pytest.approx([1.0, 0.5, 0.5, 0.5])


def test_real_minilm_has_a_previous_token_head_and_stochastic_rows():
    """The real model on a sentence: 6 x 12 heads whose rows sum to 1, and at least one head measured to put
    most of its weight on the previous token (found, not assumed: no layer or head is named here)."""
    look = pretrained.look("The cat sat on the mat, and then the cat went to sleep.")
    assert look.tokens[0] == "[CLS]" and look.tokens[-1] == "[SEP]"
    assert look.attention.shape == (6, 12, len(look.tokens), len(look.tokens))
    assert np.allclose(look.attention.sum(-1), 1, atol=1e-5)
    m = pretrained.head_measures(look.attention, look.tokens)
    labels = [lab for row in pretrained.head_labels(m) for lab in row if lab]
    assert any(kind == "previous" and share > 0.8 for kind, share in labels), labels
    assert {kind for kind, _ in labels} >= {"previous", "cls"}, labels
    assert np.allclose(pretrained.rollout(look.attention).sum(1), 1)
    with pytest.raises(ValueError):
        pretrained.look("   ")


def test_try_it_puts_the_real_model_beside_the_toy_and_measures_both_the_same_way():
    """The Try it answer: the chosen head's measured type in its summary, every figure its pairs name, and the toy
    read on the same input when it knows the words (sentiment), else on its own example with a note saying so."""
    import engine
    from engine.core import tryit
    from engine.core.pipeline import execute

    quick = dict(engine.load("attention").PRESETS["quick"], task="sentiment", epochs=1, train_examples=200)
    outcome = execute("attention", quick)
    bundle = tryit.load("attention", outcome.config, outcome.weights, outcome.info)
    toy_heads = outcome.config["n_layers"] * outcome.config["n_heads"]
    readable = tryit.answer("attention", bundle, {"real": "the food was not good", "layer": 1, "head": 3})
    labels, tokens = readable.prediction["labels"], readable.prediction["tokens"]
    assert readable.prediction["toy_tokens"] == ["[CLS]", "the", "food", "was", "not", "good"]
    look = pretrained.look("the food was not good")
    assert tokens == look.tokens and labels == pretrained.head_labels(pretrained.head_measures(look.attention, tokens))
    found = labels[0][2]
    assert readable.summary["Layer 1, head 3 looks at"] == (pretrained.SHORT[found[0]] if found else "no one place")
    assert readable.summary["Heads with a type: real · toy"].endswith(f"/{toy_heads}")
    assert all(title in readable.figures for pair in readable.pairs for title in pair)
    assert len(readable.figures) == 6 and len(readable.figures["Every head of the real model"].data) >= 72
    assert "cannot read" not in readable.figures["Toy model: block 1, head 2"].layout.meta["caption"]
    unknown = tryit.answer("attention", bundle, {"real": "Zebras graze quietly.", "layer": 9, "head": 0})
    assert "Layer 6, head 1 looks at" in unknown.summary  # out-of-range choices are clipped
    assert (
        "cannot read"
        in unknown.figures[f"Toy model: block {outcome.config['n_layers']}, head 1"].layout.meta["caption"]
    )
    with pytest.raises(tryit.TryItUnavailable):
        tryit.answer("attention", bundle, {"real": "  ", "layer": 1, "head": 1})
