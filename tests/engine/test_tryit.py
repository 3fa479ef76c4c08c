"""Try it: each technique's trained model rebuilt from its stored safetensors weights answers new inputs, its
answers change the way the input does, and the SHAP values of a Try-it input add up to the model's output."""

import numpy as np
import pytest
import torch

from engine.core import tryit
from engine.core.pipeline import execute
from engine.core.store import RunStore

torch.set_num_threads(1)


def trained(name: str, values: dict | None = None):
    """(Outcome, the raw Result with its torch models, the Try-it bundle rebuilt from the Outcome's weights)."""
    kept = {}
    outcome = execute(name, values or {}, keep=lambda r: kept.update(result=r))
    return outcome, kept["result"], tryit.load(name, outcome.config, outcome.weights, outcome.info)


def test_a_technique_without_weights_or_try_it_says_why():
    with pytest.raises(tryit.TryItUnavailable, match="no trained weights"):
        tryit.load("xai", {}, None, {})
    assert tryit.available("xai") and not tryit.available("no_such_technique")


# --- Explainable AI ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def xai():
    return trained("xai")


def test_xai_rebuilt_model_is_the_trained_one(xai):
    _outcome, result, bundle = xai
    with torch.no_grad():
        rebuilt = bundle.model(bundle._tensor(bundle.X_test_raw))
        original = result.models["mlp"](torch.as_tensor(result.arrays["X_test"]))
    assert torch.equal(rebuilt, original)


def test_xai_confident_rows_flip_when_worst_concave_points_moves_across_its_range(xai):
    from engine.xai.tryit import predict_row

    _outcome, _result, bundle = xai
    top = bundle.ranking[0]
    assert bundle.feature_names[top] in ("worst concave points", "worst area", "worst perimeter", "worst radius")
    lo, hi = bundle.X_train_raw[:, top].min(), bundle.X_train_raw[:, top].max()
    flips = []
    for row in bundle.X_test_raw:
        if predict_row(bundle, row).max() < 0.95:
            continue  # only clearly classified tumours
        low, high = row.copy(), row.copy()
        low[top], high[top] = lo, hi
        a, b = predict_row(bundle, low).argmax(), predict_row(bundle, high).argmax()
        if a != b:
            flips.append((bundle.class_names[a], bundle.class_names[b]))
    assert flips, "no clearly classified row changed its answer across the top feature's range"
    assert set(flips) == {("benign", "malignant")}  # larger tumour measurements read as malignant, never the reverse


def test_xai_try_it_shap_adds_up_to_the_logit(xai):
    _outcome, _result, bundle = xai
    row = bundle.X_test_raw[3].copy()
    row[bundle.ranking[0]] *= 1.3  # an input nobody measured
    answer = tryit.answer("xai", bundle, {"row": row})
    exp = answer.explanation
    k = int(np.argmax(list(answer.prediction.values())))
    with torch.no_grad():
        logit = bundle.model(bundle._tensor(row[None]))[0, k].item()
    assert abs(exp.base_values[0, k] + exp.values[0, :, k].sum() - logit) < 1e-4
    assert abs(sum(answer.prediction.values()) - 1) < 1e-9
    assert len(answer.tables["Nearest training rows"]) == 5 and answer.ms > 0 and answer.cpu_ms > 0


def test_xai_try_it_works_from_a_stored_run(xai, tmp_path):
    outcome, _result, bundle = xai
    store = RunStore(tmp_path / "runs.sqlite3")
    store.start("a" * 32, "owner", "xai", outcome.config)
    store.finish("a" * 32, "done", outcome)
    shared = store.load_outcome("a" * 32)
    assert shared.info["feature_names"] == bundle.feature_names  # the store keeps the run's info now
    again = tryit.load("xai", shared.config, store.weights("a" * 32), shared.info)
    row = bundle.X_test_raw[0]
    assert tryit.answer("xai", again, {"row": row}).prediction == tryit.answer("xai", bundle, {"row": row}).prediction


# --- Transfer learning -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def transfer_text():
    return trained("transfer")


def test_transfer_text_classifies_typed_sentences_and_words_add_up(transfer_text):
    _outcome, _result, bundle = transfer_text
    sport = tryit.answer("transfer", bundle, {"sentence": "the striker scored twice and the team won the match"})
    finance = tryit.answer("transfer", bundle, {"sentence": "interest rates rose and the bank's shares fell"})
    best = lambda a: max(a.prediction["feature_extraction"], key=a.prediction["feature_extraction"].get)
    assert best(sport) == "sport" and best(finance) == "finance"
    exp = sport.explanation["feature_extraction"]
    assert len(exp.values) == 10  # one value per word
    p_sport = sport.prediction["feature_extraction"]["sport"]
    assert abs(float(exp.base_values) + exp.values.sum() - p_sport) < 1e-6  # efficiency: exact for sampled Shapley
    assert exp.feature_names[int(np.argmax(exp.values))].split()[0] in ("striker", "scored", "team", "won", "match")


def test_transfer_rejects_an_empty_sentence(transfer_text):
    with pytest.raises(tryit.TryItUnavailable, match="Type a sentence"):
        tryit.answer("transfer", transfer_text[2], {"sentence": "   "})


def test_transfer_images_rebuilt_models_match_and_pixels_add_up():
    outcome, result, bundle = trained("transfer", {"track": "images", "epochs": 10, "labels_per_class": 5})
    assert bundle.y_test is not None and len(bundle.y_test) == len(bundle.X_test)  # Try it names each start digit
    x = torch.as_tensor(bundle.X_test[:20])
    for name in ("scratch", "feature_extraction", "finetune"):
        with torch.no_grad():
            assert torch.equal(bundle.models[name](x), result.models[name](x))
    answer = tryit.answer("transfer", bundle, {"image": bundle.X_test[0, 0]})
    for name, exp in answer.explanation.items():
        k = int(np.argmax(list(answer.prediction[name].values())))
        with torch.no_grad():
            logit = bundle.models[name](x[:1])[0, k].item()
        assert abs(float(exp.base_values[0]) + exp.values.sum() - logit) < 1e-4
    blank = tryit.answer("transfer", bundle, {"image": np.zeros((8, 8))})
    assert blank.prediction != answer.prediction


# --- Attention ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def attention():
    return trained("attention")


def test_attention_swapping_the_marked_tokens_flips_the_answer(attention):
    outcome, _result, bundle = attention
    assert outcome.metrics["test_accuracy"] > 0.9
    x_first = tryit.answer("attention", bundle, {"text": "abXcdefYghij"})
    y_first = tryit.answer("attention", bundle, {"text": "abYcdefXghij"})
    best = lambda a: max(a.prediction["transformer"], key=a.prediction["transformer"].get)
    assert (best(x_first), best(y_first)) == ("X first", "Y first")
    maps = [t for t in x_first.figures if t.startswith("Attention: block")]
    assert len(maps) == outcome.config["n_layers"] * outcome.config["n_heads"]
    exp = x_first.explanation
    assert abs(float(exp.base_values[0]) + exp.values.sum() - _logit(bundle, "abXcdefYghij", 0)) < 1e-4


def _logit(bundle, text: str, k: int) -> float:
    from engine.attention.tryit import encode

    x, _tokens = encode(bundle, text)
    with torch.no_grad():
        return bundle.models["transformer"](x)[0, k].item()


def test_attention_unknown_tokens_and_long_inputs_get_a_message(attention):
    bundle = attention[2]
    with pytest.raises(tryit.TryItUnavailable, match="never saw 'z'"):
        tryit.answer("attention", bundle, {"text": "abXzY"})
    with pytest.raises(tryit.TryItUnavailable, match="at most 12 tokens"):
        tryit.answer("attention", bundle, {"text": "abXcdefYghijab"})


# --- GANs --------------------------------------------------------------------------------------------------


def test_gan_latent_point_moves_the_sample_and_the_click_reads_the_discriminator():
    outcome, result, bundle = trained("gan", {"steps": 200})
    z = np.zeros(bundle.config.latent_size)
    here = tryit.answer("gan", bundle, {"z": z, "point": (0.8, 0.0)})
    z[0] = 2.5
    there = tryit.answer("gan", bundle, {"z": z, "point": (-1.2, -1.2)})
    assert np.linalg.norm(np.subtract(here.prediction["sample"], there.prediction["sample"])) > 1e-3
    with torch.no_grad():
        expected = result.models["generator"](torch.as_tensor(z, dtype=torch.float32)[None])[0].numpy()
    assert np.allclose(there.prediction["sample"], expected, atol=1e-5)  # the tanh output is data space here
    assert here.prediction["point_score"] != there.prediction["point_score"]
    exp = there.explanation
    assert exp.method.startswith("DeepExplainer") and exp.additivity_error < 1e-4


# --- Neural architecture search ----------------------------------------------------------------------------


def test_nas_best_architecture_is_rebuilt_and_its_pixels_add_up():
    outcome, result, bundle = trained("nas", {"evolution": False, "rl": False, "budget": 3, "epochs_per_candidate": 1})
    assert bundle.architecture == outcome.info["best_architecture"]
    x = torch.as_tensor(bundle.X_test[:20])
    with torch.no_grad():
        assert torch.equal(bundle.model(x), result.models["best"](x))
        logits = bundle.model(x[:1])[0]
    answer = tryit.answer("nas", bundle, {"image": bundle.X_test[0, 0]})
    k = int(logits.argmax())
    assert max(answer.prediction, key=answer.prediction.get) == str(k)
    exp = answer.explanation
    assert abs(float(np.ravel(exp.base_values)[0]) + exp.values.sum() - logits[k].item()) < 1e-3
    assert tryit.answer("nas", bundle, {"image": np.zeros((8, 8))}).prediction != answer.prediction
    with pytest.raises(tryit.TryItUnavailable, match="which architecture won"):
        tryit.load("nas", outcome.config, outcome.weights, {})  # a run stored before its info was kept


# --- Federated learning ------------------------------------------------------------------------------------


def test_federated_global_and_client_models_answer_the_same_digit():
    outcome, result, bundle = trained("federated", {"rounds": 3})
    x = torch.as_tensor(bundle.X_test[:20])
    for name in bundle.models:
        with torch.no_grad():
            assert torch.equal(bundle.models[name](x), result.models[name](x))
    answer = tryit.answer("federated", bundle, {"image": bundle.X_test[0].reshape(8, 8)})
    assert set(answer.prediction) == {"global", "centralized", f"local_{outcome.config['explain_client']}"}
    for name, exp in answer.explanation.items():
        k = int(np.argmax(list(answer.prediction[name].values())))
        with torch.no_grad():
            logit = bundle.models[name](x[:1])[0, k].item()
        assert abs(float(np.ravel(exp.base_values)[0]) + exp.values.sum() - logit) < 1e-4


# --- Self-supervised learning ------------------------------------------------------------------------------


def test_ssl_encoder_and_probe_answer_a_digit_with_neighbours_and_exact_pixels():
    outcome, result, bundle = trained("ssl", {"epochs": 2})
    x = torch.as_tensor(bundle.X_test[:1])
    with torch.no_grad():
        logits = result.models["probe"](result.models["encoder"](x))[0]
        assert torch.allclose(bundle.network(x)[0], logits)
    answer = tryit.answer("ssl", bundle, {"image": bundle.X_test[0, 0]})
    k = int(logits.argmax())
    assert max(answer.prediction["probe"], key=answer.prediction["probe"].get) == str(k)
    assert len(answer.prediction["neighbours"]) == 8
    exp = answer.explanation
    assert abs(float(np.ravel(exp.base_values)[0]) + exp.values.sum() - logits[k].item()) < 1e-4


# --- Quantum neural networks -------------------------------------------------------------------------------


def test_quantum_classifier_is_rebuilt_and_a_point_on_the_plane_gets_its_expectation_values():
    outcome, result, bundle = trained("quantum", {"epochs": 3})
    x = torch.as_tensor(bundle.X_test[:10])
    with torch.no_grad():
        assert torch.allclose(bundle.qnn(x), result.models["qnn"](x), atol=1e-6)
        assert torch.equal(bundle.baseline(x), result.models["baseline"](x))
    a = tryit.answer("quantum", bundle, {"row": bundle.X_test[0]})
    z = np.asarray(a.prediction["expectation_values"])
    assert z.shape == (outcome.config["n_qubits"],) and np.all(np.abs(z) <= 1 + 1e-9)
    k = max(a.prediction["quantum"], key=a.prediction["quantum"].get)
    exp = a.explanation
    assert abs(float(exp.base_values[0]) + exp.values.sum() - a.prediction["quantum"][k]) < 1e-9  # exact Shapley
    far = tryit.answer("quantum", bundle, {"row": -bundle.X_test[0]})
    assert far.prediction["expectation_values"] != a.prediction["expectation_values"]
    with pytest.raises(tryit.TryItUnavailable, match="circuit lab"):
        tryit.load("quantum", {**outcome.config, "mode": "circuit_lab"}, outcome.weights, {})


# --- Reinforcement learning --------------------------------------------------------------------------------


def test_rl_dqn_replays_from_a_chosen_start_state_and_tabular_agents_say_why_not():
    outcome, result, bundle = trained("rl", {"env": "CartPole-v1", "agent": "dqn", "training_steps": 3000})
    x = torch.as_tensor(np.random.default_rng(0).uniform(-0.05, 0.05, (10, 4)), dtype=torch.float32)
    with torch.no_grad():
        assert torch.equal(bundle.net(x), result.models["q_network"](x))
    upright = tryit.answer("rl", bundle, {"state": [0, 0, 0, 0]})
    falling = tryit.answer("rl", bundle, {"state": [0, 0, 0.18, 1.8]})  # already tipping fast to the right
    assert falling.prediction["steps"] < 5 < upright.prediction["steps"]  # a lost start falls at once
    assert falling.summary["First move"] == "push right"  # it still pushes under the falling pole
    exp = upright.explanation
    q = max(upright.prediction["q_values"].values())
    assert abs(float(np.ravel(exp.base_values)[0]) + exp.values.sum() - q) < 1e-4
    with pytest.raises(tryit.TryItUnavailable, match="Taxi"):
        tryit.load("rl", {"env": "Taxi-v4"}, b"", {})


def test_rl_table_agent_plays_from_a_cell_you_pick():
    """FrozenLake (the quick preset) was a dead end on Try it: the Q-table is stored now, so a person picks any
    free cell and watches the trained agent walk from there, with the four Q-values of that cell."""
    outcome, result, bundle = trained("rl", {"env": "FrozenLake-v1", "episodes": 1500})
    assert np.array_equal(bundle.Q, result.arrays["Q"])  # the stored table is the trained one
    start = tryit.answer("rl", bundle, {"cell": [0, 0]})
    assert start.summary["Ends"] == "reached the gift" and start.summary["Moves"] == "6"
    assert start.prediction["path"][0] == 0 and start.prediction["path"][-1] == 15  # the gift: bottom right
    assert set(start.figures) == {"Path", "Q-values"}
    assert start.figures["Q-values"].data[0].texttemplate == "%{y:.3g}"  # 0.94 vs 0.95 reads on the bars
    assert start.figures["Path"].layout.title.text == "Q-learning from row 0, column 0"
    near = tryit.answer("rl", bundle, {"cell": [2, 2]})  # a cell the agent rarely starts from
    assert near.prediction["path"][0] == 10 and near.prediction["path"][1] in {6, 9, 10, 11, 14}  # walks from it
    assert [e["cell"] for e in tryit.module("rl").examples(bundle)][0] == [0, 0]
    with pytest.raises(tryit.TryItUnavailable, match="hole"):
        tryit.answer("rl", bundle, {"cell": [1, 1]})  # a hole: the episode is over before it starts


# --- Edge AI -----------------------------------------------------------------------------------------------


def test_edge_original_and_compressed_versions_answer_the_same_digit_with_latencies():
    outcome, result, bundle = trained("edge", {"epochs": 3, "onnx": False, "distill": True, "distill_epochs": 2})
    x = torch.as_tensor(bundle.X_test[:20])
    with torch.no_grad():
        assert torch.equal(bundle.models["Original (float32)"](x), result.models["original"](x))
        assert torch.equal(bundle.models["Distilled student"](x), result.models["student"](x))
        pruned = next(m for n, m in bundle.models.items() if n.startswith("Pruned"))
        assert torch.allclose(pruned(x), result.models["pruned"](x), atol=1e-6)
    answer = tryit.answer("edge", bundle, {"image": bundle.X_test[0].reshape(8, 8)})
    assert set(answer.prediction) == set(bundle.models) and "Dynamic int8" in answer.prediction
    assert all(v.endswith(" ms") for v in answer.summary.values())
    for name, exp in answer.explanation.items():
        k = int(np.argmax(list(answer.prediction[name].values())))
        with torch.no_grad():
            logit = bundle.models[name](x[:1])[0, k].item()
        assert abs(float(np.ravel(exp.base_values)[0]) + exp.values.sum() - logit) < 1e-4


def test_edge_try_it_on_a_run_started_from_nas_rebuilds_every_version_from_its_own_weights(tmp_path, monkeypatch):
    """Issue 27: Try it on an Edge AI run that started from a NAS run failed ("Unexpected key(s) in state_dict:
    1.0.weight"), and it reopened the run store for the source. Now the edge run's own weights and info rebuild
    every version: no store is opened, and deleting the source changes nothing."""
    import engine.core.service
    import engine.core.store
    from engine.core.service import run_inputs

    nas = execute("nas", {"random": True, "evolution": False, "rl": False, "budget": 2, "epochs_per_candidate": 1})
    store = RunStore(tmp_path / "runs.sqlite3")
    store.start("e" * 32, "someone", "nas", nas.config)
    store.finish("e" * 32, "done", nas)
    values = {
        "start_from": "finished_run",
        "source_run": "e" * 32,
        "prune_steps": 1,
        "finetune_epochs": 1,
        "distill": True,
        "distill_epochs": 1,
        "onnx": False,
        "explain_rows": 4,
    }
    kept = {}
    outcome = execute("edge", values, keep=lambda r: kept.update(result=r), inputs=run_inputs(store, "edge", values))
    result = kept["result"]
    store.start("f" * 32, "someone", "edge", outcome.config)
    store.finish("f" * 32, "done", outcome)
    shared = store.load_outcome("f" * 32)

    def no_store(*_a, **_k):
        raise AssertionError("Try it opened the run store")

    monkeypatch.setattr(engine.core.store, "open_store", no_store)
    monkeypatch.setattr(engine.core.service, "run_inputs", no_store)
    bundle = tryit.load("edge", shared.config, store.weights("f" * 32), shared.info)
    assert {"Original (float32)", "Dynamic int8", "Distilled student"} < set(bundle.models)
    x = torch.as_tensor(result.arrays["X_test"][:20])
    with torch.no_grad():
        assert torch.equal(bundle.models["Original (float32)"](x), result.models["original"](x))
        assert torch.equal(bundle.models["Distilled student"](x), result.models["student"](x))
        pruned = next(m for n, m in bundle.models.items() if n.startswith("Pruned"))
        assert torch.equal(pruned(x), result.models["pruned"](x))
    assert np.array_equal(bundle.X_test[:5], result.arrays["X_test"][:5]) and bundle.image_side == 8
    answer = tryit.answer("edge", bundle, {"image": bundle.X_test[1].reshape(8, 8)})
    assert set(answer.prediction) == set(bundle.models)


def test_edge_try_it_times_every_version_warm_on_one_thread_like_the_run():
    """Issue 27: Try it timed dynamic int8 at 12 ms against 0.04 ms for the original while the run called int8
    faster: in the app process PyTorch spread int8's kernels over every core. Now every version is timed as the
    run times it: warm-up calls first, then timed calls, on one thread, and the app's thread count is restored."""
    from engine.edge import tryit as edge_tryit

    _outcome, _result, bundle = trained("edge", {"epochs": 2, "prune": False, "onnx": False})
    seen: dict[str, list[int]] = {}

    class Recorder(torch.nn.Module):
        def __init__(self, name, model):
            super().__init__()
            self.name, self.model = name, model

        def forward(self, x):
            if len(x) == 1:  # the answer and its timed calls (SHAP passes its background rows at once)
                seen.setdefault(self.name, []).append(torch.get_num_threads())
            return self.model(x)

    bundle.models = {name: Recorder(name, m) for name, m in bundle.models.items()}
    before = torch.get_num_threads()
    torch.set_num_threads(2)  # the app process: PyTorch's default, every core
    try:
        answer = tryit.answer("edge", bundle, {"image": bundle.X_test[0].reshape(8, 8)})
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert set(seen) == {"Original (float32)", "Dynamic int8"}
    timed = {name: v.count(1) for name, v in seen.items()}  # calls on one thread (SHAP of the original is not)
    assert len(set(timed.values())) == 1 and timed["Dynamic int8"] >= edge_tryit.WARMUP + edge_tryit.REPEATS
    assert set(seen["Dynamic int8"]) == {1}
    from engine.core.charts import caption_of

    assert "as the run measured it" in caption_of(answer.figures["Latency"])


def test_answers_of_different_models_run_at_once_and_of_one_model_take_turns(monkeypatch):
    """Issue 26: one visitor's Try it no longer waits for every other visitor's (a lock per rebuilt model)."""
    import threading
    import time
    import types
    from dataclasses import dataclass

    import engine.core.tryit as T

    @dataclass
    class FakeBundle:
        name: str

    def slow_answer(bundle, inputs):
        time.sleep(0.4)
        return T.Answer(summary={"bundle": bundle.name})

    monkeypatch.setattr(T, "module", lambda technique: types.SimpleNamespace(answer=slow_answer))

    def wall(bundles) -> float:
        started = time.perf_counter()
        threads = [threading.Thread(target=T.answer, args=("fake", b, {})) for b in bundles]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return time.perf_counter() - started

    assert wall([FakeBundle("a"), FakeBundle("b"), FakeBundle("c")]) < 0.75  # three models: at once
    one = FakeBundle("shared")
    assert wall([one, one]) >= 0.8  # one model: its answers take turns (SHAP hooks into the shared model)
