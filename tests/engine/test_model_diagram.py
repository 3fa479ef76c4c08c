"""engine.core.charts.model_diagram: the network as blocks with output shapes and weights (issue 18)."""

import numpy as np
import torch
from torch import nn

from engine.core import charts

torch.set_num_threads(1)


class Tiny(nn.Module):
    """Token ids -> class scores, with a weight of its own (a positional table) and a head tied to the embedding."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(20, 16)
        self.position = nn.Parameter(torch.zeros(8, 16))
        self.encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(16, 2, 32, batch_first=True), 2)
        self.head = nn.Linear(16, 20, bias=False)
        self.head.weight = self.embed.weight  # tied: one tensor in two layers

    def forward(self, ids):  # (B, T) -> (B, 20)
        return self.head(self.encoder(self.embed(ids) + self.position[: ids.shape[1]]).mean(1))


def _bars(fig) -> np.ndarray:
    return np.asarray(fig.data[-1].x, dtype=np.int64)


def test_blocks_add_up_to_the_models_own_count_with_tied_and_own_weights():
    model = Tiny()
    fig = charts.model_diagram(model, title="Tiny")
    total = sum(p.numel() for p in model.parameters())  # counts the tied tensor once
    assert _bars(fig).sum() == fig.layout.meta["total_parameters"] == total
    assert fig.layout.title.text == f"Tiny: {total:,} weights in {len(_bars(fig))} blocks"
    rows, note = charts.layer_summary(model, charts.example_input(model))
    assert note == ""
    by_name = {r["name"]: r for r in rows}
    assert by_name["embed"]["parameters"] == 20 * 16 and by_name["head"]["parameters"] == 0  # tied: counted once
    assert by_name["Tiny (own weights)"]["parameters"] == 8 * 16
    assert by_name["encoder.layers.0.self_attn"]["parameters"] == 4 * (16 * 16 + 16)  # attention is one block
    assert rows[0]["name"] == "embed" and rows[0]["output"] == "8 × 16"  # in the order the input flows
    assert by_name["head"]["output"] == "20"


def test_a_flat_network_shows_every_layer_with_its_shape():
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 10))
    rows, note = charts.layer_summary(model, torch.zeros(2, 1, 8, 8))
    assert [r["output"] for r in rows] == ["4 × 8 × 8", "4 × 8 × 8", "4 × 4 × 4", "64", "10"]
    assert [r["parameters"] for r in rows] == [40, 0, 0, 0, 650]
    assert rows[0]["settings"] == "1 → 4, 3x3" and rows[4]["settings"] == "64 → 10"


def test_deep_models_fold_into_at_most_max_blocks_and_keep_the_total():
    model = nn.Sequential(*[nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.LayerNorm(8)) for _ in range(12)])
    rows, _ = charts.layer_summary(model, torch.zeros(2, 8))
    assert len(rows) == 12 and all(r["layer"] == "Sequential" for r in rows)  # 36 layers would not fit
    assert sum(r["parameters"] for r in rows) == sum(p.numel() for p in model.parameters())


def test_a_model_that_takes_something_else_keeps_its_counts_and_says_why_shapes_are_missing():
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(5, 2))  # broken on purpose: 4 -> 5 cannot chain
    fig = charts.model_diagram(model)
    assert _bars(fig).sum() == 16 + 12
    assert "shapes not traced (RuntimeError)" in charts.caption_of(fig)
    assert model.training  # the trace put the model back in the mode it was in
