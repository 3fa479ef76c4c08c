"""Reinforcement learning: the update rules by hand, greedy policies that reach the goal, the cliff contrast on ten
seeds, FrozenLake 8x8 on every seed, text built from the run's own numbers (failing runs included), SHAP of an
agent that learned nothing, DQN's replay buffer and target network, settings that must be refused, and a tiny
end-to-end DQN run."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine import rl
from engine.core import charts
from engine.core.config import ConfigError, validate
from engine.core.contract import Result, check_result
from engine.rl import dqn, gridworld, tabular

torch.set_num_threads(1)


def run(preset: str = "quick", **values):
    return rl.run(validate(rl.Config, {**rl.PRESETS[preset], **values}), lambda *_a, **_k: False)


# --- update rules -----------------------------------------------------------------------------------------


def test_q_learning_update_matches_hand_computed_value():
    Q = np.zeros((3, 2))
    Q[0, 1] = 0.5
    Q[2] = [1.0, 3.0]  # max_a' Q[s'] = 3
    td = tabular.q_learning_update(Q, s=0, a=1, r=1.0, s_next=2, terminated=False, alpha=0.1, gamma=0.9)
    # target = 1 + 0.9 * 3 = 3.7; TD error = 3.7 - 0.5 = 3.2; Q = 0.5 + 0.1 * 3.2 = 0.82
    assert td == pytest.approx(3.2)
    assert Q[0, 1] == pytest.approx(0.82)
    assert Q[0, 0] == 0.0 and list(Q[2]) == [1.0, 3.0]  # nothing else moves
    # a terminal next state has no future: target = r = 1, Q = 0.82 + 0.1 * (1 - 0.82)
    tabular.q_learning_update(Q, 0, 1, 1.0, 2, True, 0.1, 0.9)
    assert Q[0, 1] == pytest.approx(0.838)


def test_sarsa_bootstraps_on_the_action_taken_not_the_best():
    Q = np.zeros((3, 2))
    Q[2] = [1.0, 3.0]
    tabular.sarsa_update(Q, s=0, a=0, r=0.0, s_next=2, a_next=0, terminated=False, alpha=0.5, gamma=1.0)
    assert Q[0, 0] == pytest.approx(0.5)  # 0.5 * (0 + 1 * Q[2, 0]); Q-learning would use Q[2, 1] = 3
    Q2 = np.zeros((3, 2))
    Q2[2] = [1.0, 3.0]
    tabular.q_learning_update(Q2, 0, 0, 0.0, 2, False, 0.5, 1.0)
    assert Q2[0, 0] == pytest.approx(1.5)


def test_epsilon_schedules():
    assert tabular.epsilon_at(0.0, 1.0, 0.1, "linear", 0.5) == 1.0
    assert tabular.epsilon_at(0.25, 1.0, 0.1, "linear", 0.5) == pytest.approx(0.55)
    assert tabular.epsilon_at(0.9, 1.0, 0.1, "linear", 0.5) == pytest.approx(0.1)
    assert tabular.epsilon_at(0.25, 1.0, 0.01, "exponential", 0.5) == pytest.approx(0.1)  # halfway: sqrt(0.01)
    assert tabular.epsilon_at(0.7, 0.3, 0.0, "constant", 0.5) == 0.3
    assert tabular.alpha_at(0.0, 0.5, 0.05) == 0.5 and tabular.alpha_at(0.5, 0.5, 0.05) == pytest.approx(0.275)
    assert tabular.alpha_at(1.0, 0.5, 0.05) == pytest.approx(0.05)


def test_optimistic_table_leaves_the_cells_that_end_an_episode_at_zero():
    env = gridworld.make("gridworld", grid="S#G/.T./...")
    Q = tabular.initial_table(gridworld.layout("gridworld", env), 1.0)
    assert Q.shape == (9, 4)
    assert Q[2].tolist() == [0.0] * 4 and Q[4].tolist() == [0.0] * 4  # the goal G and the trap T
    assert (np.delete(Q, [2, 4], axis=0) == 1.0).all()
    taxi = gridworld.make("Taxi-v4")
    assert (tabular.initial_table(gridworld.layout("Taxi-v4", taxi), 1.0) == 1.0).all()  # no terminal cells


# --- grid worlds ------------------------------------------------------------------------------------------


def test_gridworld_map_rules_and_dynamics():
    with pytest.raises(ValueError, match="exactly one start"):
        gridworld.parse_grid("..../..G.")
    with pytest.raises(ValueError, match="same length"):
        gridworld.parse_grid("S../..G.")
    with pytest.raises(ValueError, match="No goal G can be reached"):
        gridworld.parse_grid("S#../.#G.")
    env = gridworld.make("gridworld", grid="S#G/.T./...", goal_reward=2.0, trap_reward=-3.0, step_reward=-0.1)
    s, _ = env.reset(seed=0)
    assert s == 0
    assert env.step(2)[:3] == (0, -0.1, False)  # right is a wall: stay put, pay the step cost
    assert env.step(1)[:3] == (3, -0.1, False)  # down
    assert env.step(2)[:3] == (4, -3.0, True)  # right into the trap ends the episode
    lay = gridworld.layout("gridworld", env)
    assert gridworld.reached_goal(lay, 2, True) and not gridworld.reached_goal(lay, 4, True)
    assert gridworld.encode(gridworld.decode([0, 5, 8], [3, 3]), [3, 3]).tolist() == [0, 5, 8]


def test_taxi_state_decodes_into_its_four_features():
    env = gridworld.make("Taxi-v4")
    lay = gridworld.layout("Taxi-v4", env)
    s = env.encode(3, 1, 2, 0)
    assert gridworld.decode([s], lay["feature_dims"]).tolist() == [[3, 1, 2, 0]]
    assert lay["feature_names"] == ["taxi row", "taxi column", "passenger location", "destination"]


# --- tabular runs -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cliff():
    """Q-learning and SARSA on the same seeds on CliffWalking, with the classic constant epsilon 0.1."""
    return run(
        env="CliffWalking-v1",
        agent="q_learning",
        compare_sarsa=True,
        episodes=500,
        epsilon_start=0.1,
        epsilon_end=0.1,
        epsilon_schedule="constant",
        eval_episodes=1,
        explain_states=12,
    )


def test_quick_preset_reaches_the_goal_on_deterministic_frozenlake():
    result = run(env="FrozenLake-v1", is_slippery=False, eval_episodes=5, explain_states=10)
    m = result.metrics
    assert m["success_rate"] == 1.0 and m["greedy_return_mean"] == 1.0
    assert m["greedy_steps_mean"] == 6  # the shortest way round the holes of the 4x4 lake
    assert result.headline == ("greedy_return_mean", "success_rate") and check_result(result, rl.METRICS) == []
    assert result.config.env == "FrozenLake-v1"  # the Result carries its config
    h = result.history
    assert h["step"].iloc[-1] == 1000 and len(h) <= 200
    assert h["return"].iloc[:10].mean() < h["return"].iloc[-10:].mean()  # it learned while exploring less
    assert 0 <= h["epsilon"].min() < h["epsilon"].max() <= 1
    assert h["alpha"].iloc[0] == pytest.approx(0.5, abs=0.01) and h["alpha"].iloc[-1] == pytest.approx(0.05, abs=0.01)


@pytest.mark.parametrize("seed", range(4))
def test_quick_preset_learns_frozenlake_8x8_on_every_seed(seed):
    """Issue 21 item 3: before the optimistic start, seeds 0 and 3 never found the gift (success 0)."""
    for agent in ("q_learning", "sarsa"):
        m = tabular.run(
            validate(
                rl.Config,
                {**rl.PRESETS["quick"], "env": "FrozenLake8x8-v1", "agent": agent, "seed": seed, "eval_episodes": 1},
            ),
            lambda *_a, **_k: False,
        ).metrics
        assert m["success_rate"] == 1.0 and m["greedy_steps_mean"] == 14, (agent, m)  # the shortest way: 14 moves


def test_without_the_optimistic_start_8x8_is_found_by_luck_only():
    """The same budget with a table starting at 0: the agent must stumble on the gift by random walk."""
    found = [
        tabular.run(
            validate(
                rl.Config,
                {**rl.PRESETS["quick"], "env": "FrozenLake8x8-v1", "initial_q": 0.0, "seed": seed, "eval_episodes": 1},
            ),
            lambda *_a, **_k: False,
        ).metrics["success_rate"]
        for seed in (0, 3)
    ]
    assert found == [0.0, 0.0]


def test_the_cliff_preset_shows_the_textbook_contrast_on_ten_seeds():
    """Issue 21 item 2: Q-learning's 13-step edge path, SARSA's safe path, both reaching the goal, seeds 0-9
    (before: SARSA looped for 100 steps on seeds 2, 5 and 7)."""
    for seed in range(10):
        result = tabular.run(
            validate(rl.Config, {**rl.PRESETS["cliff"], "seed": seed, "eval_episodes": 1}), lambda *_a, **_k: False
        )
        m = result.metrics
        assert m["success_rate"] == 1.0 and m["sarsa_success_rate"] == 1.0, (seed, m)
        assert m["greedy_return_mean"] == -13 and m["greedy_path_length"] == 13, seed
        assert m["sarsa_greedy_path_length"] > 13 and m["sarsa_greedy_return_mean"] == -m["sarsa_greedy_path_length"]
        sarsa_rows = gridworld.decode(result.arrays["sarsa_greedy_path"], [4, 12])[1:-1, 0]
        assert sarsa_rows.min() < 2, seed  # SARSA climbs away from the edge row
        assert result.headline == (
            "greedy_return_mean",
            "success_rate",
            "sarsa_greedy_return_mean",
            "sarsa_success_rate",
        )


def test_quick_preset_reaches_the_goal_on_the_cliff():
    m = run(env="CliffWalking-v1", eval_episodes=3, explain_states=10).metrics
    assert m["success_rate"] == 1.0
    assert m["greedy_path_length"] == 13 and m["greedy_return_mean"] == -13  # the optimal edge path, never fell


def test_sarsa_learns_the_safe_path_q_learning_the_edge(cliff):
    m = cliff.metrics
    assert m["success_rate"] == 1.0 and m["sarsa_success_rate"] == 1.0
    assert m["greedy_path_length"] == 13  # Q-learning: straight along the cliff edge (optimal)
    assert m["sarsa_greedy_path_length"] > 13  # SARSA: a detour away from the edge
    path = gridworld.decode(cliff.arrays["greedy_path"], [4, 12])
    sarsa_path = gridworld.decode(cliff.arrays["sarsa_greedy_path"], [4, 12])
    assert path[1:-1, 0].max() == 2 and path[1:-1, 0].min() == 2  # every step on row 2, next to the cliff
    assert sarsa_path[1:-1, 0].min() < 2  # SARSA climbs higher up
    # SARSA also falls less while learning, the other half of the classic picture
    assert cliff.arrays["sarsa_returns"][-100:].mean() > cliff.arrays["returns"][-100:].mean()
    text = rl.describe(cliff)
    assert "Q-learning walks the 13-step path right along the cliff edge" in text
    assert f"SARSA a {m['sarsa_greedy_path_length']:.0f}-step detour" in text and "fell off the cliff less" in text


def test_tabular_figures_and_explanation(cliff):
    figs = rl.figures(cliff)
    assert {"Returns", "Policy and values", "Greedy episode", "Q-table", "Both greedy paths"} <= set(figs)
    assert len(figs["Greedy episode"].frames) == 14  # start + 13 steps
    assert all(f.layout.meta["caption"] for f in figs.values())
    assert "13-step path" in figs["Both greedy paths"].layout.meta["caption"]
    exp = rl.explain(cliff)
    assert exp.values.shape == (12, 2) and exp.feature_names == ["row", "column"]
    assert exp.additivity_error < 1e-6
    # SHAP explains the greedy value max_a Q: base + contributions give it back
    states = gridworld.encode(exp.data, [4, 12])
    np.testing.assert_allclose(exp.values.sum(1) + exp.base_values, cliff.arrays["Q"][states].max(1), atol=1e-6)
    assert rl.explain_figures(cliff, exp) == {}


# --- runs that fail: the text says so, SHAP views cope ------------------------------------------------------


@pytest.fixture(scope="module")
def learned_nothing():
    """FrozenLake 8x8 with a zero table and 30 episodes: the gift is never found, every Q-value stays 0."""
    return run(env="FrozenLake8x8-v1", initial_q=0.0, episodes=30, eval_episodes=3, explain_states=12)


def test_describe_says_when_the_agent_never_reached_the_goal(learned_nothing):
    m = learned_nothing.metrics
    assert m["success_rate"] == 0 and not learned_nothing.arrays["Q"].any()
    text = rl.describe(learned_nothing)
    assert "**never reached the gift** in 3 episodes" in text
    assert "reached the gift in" not in text and "has not mastered this world yet" in text
    assert "optimistic starting Q-value" in text  # the setting that would have helped
    assert "runs into the edge or a wall, so it stays where it is" in text  # an all-zero table picks "left" at S


def test_all_zero_shap_values_draw_every_view(learned_nothing):
    """Issue 13 item 2: the dependence plot crashed ('All-NaN slice') when the agent learned nothing."""
    exp = rl.explain(learned_nothing)
    assert exp.values.shape == (12, 2) and not np.asarray(exp.values).any()
    for feature in range(2):
        fig = charts.shap_dependence(exp, feature)
        assert len(fig.data[0].x) == 12
    assert charts.shap_beeswarm(exp).data and charts.shap_bar(exp).data and charts.shap_waterfall(exp, 0).data


def test_describe_does_not_claim_the_contrast_when_sarsa_never_arrives():
    """Issue 21 item 9: 'SARSA keeps away from the cliff edge' was said right after 'succeeded in 0%'."""
    result = run("cliff", episodes=3, alpha=0.1, alpha_end=0.1, eval_episodes=1)
    m = result.metrics
    assert m["sarsa_success_rate"] == 0 or m["success_rate"] == 0
    text = rl.describe(result)
    assert "cannot be compared yet" in text and "detour" not in text and "cliff edge" not in text
    assert "never reached the goal" in text


def test_describe_spots_a_greedy_loop():
    """A greedy policy that walks in circles: the text names the loop instead of a vague failure."""
    result = run(
        env="gridworld",
        grid="S.G/...",
        initial_q=0.0,
        episodes=1,
        alpha=0.001,
        alpha_end=0.001,
        eval_episodes=1,
        max_steps=5,
        explain_states=10,
    )
    result.arrays["Q"][:] = 0.0
    result.arrays["Q"][0, 2], result.arrays["Q"][1, 0] = 1.0, 1.0  # right from S, left back from the middle
    result.arrays["greedy_path"] = np.asarray([0, 1, 0, 1, 0, 1])
    result.metrics.update(success_rate=0.0, greedy_steps_mean=5.0, greedy_return_mean=-0.05)
    assert "go round a loop of 2 states until the episode is cut off after 5 moves" in rl.describe(result)


def _dqn_result(greedy: list[float], **extra) -> Result:
    """A DQN Result with given greedy evaluation returns (the text reads only config, metrics and arrays)."""
    config = validate(rl.Config, rl.PRESETS["dqn_quick"])
    g = np.asarray(greedy, dtype=float)
    metrics = {
        "balanced_steps_mean": g.mean(),
        "balanced_steps_min": g.min(),
        "full_episodes_share": (g >= 500).mean(),
        "greedy_return_mean": g.mean(),
        "greedy_return_min": g.min(),
        "train_return_first": 20.0,
        "train_return_last": 150.0,
        "episodes_run": 300,
        "steps_run": 15000,
        "gradient_updates": 7000,
        "parameters": 4610,
        "kept_network_step": 15000,
        **extra,
    }
    return Result(config=config, history=None, metrics=metrics, headline=("balanced_steps_mean", "balanced_steps_min"))


def test_dqn_text_reads_a_long_balance_as_learning_not_failure():
    """Issue 13 item 12 / issue 21 item 7: 'success rate 0.0%' beside a return of 281 read as failure."""
    text = rl.describe(_dqn_result([281.0] * 10 + [195.0] * 10))
    assert "**238 of 500 steps**" in text and "far longer than random pushing" in text
    assert "0%" not in text and "solved" not in text
    assert "solved CartPole" in rl.describe(_dqn_result([500.0] * 20))
    mixed = rl.describe(_dqn_result([500.0] * 9 + [200.0]))
    assert "90% of them lasted the full 500 steps" in mixed and "no episode" not in mixed
    poor = rl.describe(_dqn_result([25.0] * 20))
    assert "has not learned to balance yet" in poor and "far longer" not in poor
    assert rl.METRICS["balanced_steps_mean"].label.startswith("Steps balanced, of 500")


def test_seeded_runs_are_reproducible_and_stop_works():
    a = run(env="gridworld", episodes=60, explain_states=10)
    b = run(env="gridworld", episodes=60, explain_states=10)
    assert a.metrics == b.metrics
    calls = []
    stopped = rl.run(
        validate(rl.Config, {"env": "Taxi-v4", "episodes": 5000}), lambda *args, **kw: calls.append(args) or True
    )
    assert stopped.stopped and len(calls) == 1 and stopped.metrics["episodes_run"] == 25
    assert rl.figures(stopped) and "stopped it early" in rl.describe(stopped)
    assert rl.explain(stopped).values.shape[1] == 4  # Taxi: taxi row, column, passenger, destination


def test_live_figure_draws_the_value_map():
    payloads = []
    rl.run(
        validate(rl.Config, {"env": "FrozenLake-v1", "episodes": 200}),
        lambda step, total, m, live=None: payloads.append(live) if live is not None else False,
    )
    assert payloads
    fig = rl.live_figure(payloads[-1])
    assert np.asarray(fig.data[0].z).shape == (4, 4)
    assert rl.live_figure(None) is None


# --- settings ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "values, message",
    [
        ({"gamma": 1.5}, "`gamma` must be <= 1.0, but got 1.5"),
        ({"episodes": -5}, "`episodes` must be >= 1, but got -5"),
        ({"env": "CartPole-v1"}, "use agent dqn"),
        ({"agent": "dqn"}, "CartPole-v1"),
        ({"grid": "S.T/###/..G"}, "No goal G can be reached"),
        ({"epsilon_start": 0.1, "epsilon_end": 0.5}, "`epsilon_end` must be <= `epsilon_start`"),
        ({"alpha": 0.1, "alpha_end": 0.5}, "`alpha_end` must be <= `alpha`"),
    ],
)
def test_bad_settings_are_refused_with_a_message(values, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        validate(rl.Config, values)


def test_presets_validate_and_read_as_words():
    for preset in rl.PRESETS.values():
        validate(rl.Config, preset)
    assert set(rl.PRESET_LABELS) == set(rl.PRESETS)
    assert all(label[0].isupper() and "_" not in label for label in rl.PRESET_LABELS.values())
    assert validate(rl.Config, {}) == validate(rl.Config, rl.PRESETS["quick"])  # quick is the default
    assert rl.Config.model_fields["compare_sarsa"].title == "Also run the other table-based agent"
    assert rl.estimate_seconds(validate(rl.Config, rl.PRESETS["solve"])) > rl.estimate_seconds(
        validate(rl.Config, {"env": "CartPole-v1", "agent": "dqn", **rl.PRESETS["quick"]})
    )


# --- DQN --------------------------------------------------------------------------------------------------


def test_replay_buffer_is_a_ring_and_samples_what_it_holds():
    buf = dqn.ReplayBuffer(capacity=3, obs_dim=2)
    for i in range(5):  # 0 and 1 are overwritten by 3 and 4
        buf.add([i, i], i % 2, float(i), [i + 1, i + 1], terminated=i == 4)
    assert len(buf) == 3 and buf.pos == 2
    assert sorted(buf.rewards.tolist()) == [2.0, 3.0, 4.0]
    batch = buf.sample(50, np.random.default_rng(0))
    assert batch["obs"].shape == (50, 2) and set(batch["rewards"].tolist()) == {2.0, 3.0, 4.0}
    np.testing.assert_array_equal(batch["next_obs"], batch["obs"] + 1)  # transitions stay whole
    np.testing.assert_array_equal(batch["terminated"], (batch["rewards"] == 4.0).astype(np.float32))


def test_target_network_is_frozen_until_synced_and_td_target_is_right():
    torch.manual_seed(0)
    online, target = dqn.q_network(1, 8), dqn.q_network(1, 8)
    dqn.sync_target(online, target)
    x = torch.randn(5, 4)
    assert torch.equal(online(x), target(x))
    opt = torch.optim.SGD(online.parameters(), lr=0.1)
    batch = {
        "obs": np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32),
        "actions": np.arange(8) % 2,
        "rewards": np.ones(8, np.float32),
        "next_obs": np.zeros((8, 4), np.float32),
        "terminated": np.array([1, 0] * 4, np.float32),
    }
    before = [p.clone() for p in target.parameters()]
    loss = dqn.td_loss(online, target, batch, gamma=0.9)
    # hand-computed Huber loss against r + 0.9 * (1 - terminated) * max_a' Q_target(s', a')
    with torch.no_grad():
        q_next = target(torch.zeros(1, 4)).max().item()
        y = 1 + 0.9 * (1 - batch["terminated"]) * q_next
        q = online(torch.as_tensor(batch["obs"]))[torch.arange(8), torch.as_tensor(batch["actions"])].numpy()
    d = np.abs(q - y)
    assert loss.item() == pytest.approx(np.where(d < 1, 0.5 * d**2, d - 0.5).mean(), rel=1e-5)
    opt.zero_grad()
    loss.backward()
    opt.step()
    assert all(torch.equal(a, b) for a, b in zip(before, target.parameters()))  # no gradient reaches the target
    assert not torch.equal(online(x), target(x))
    dqn.sync_target(online, target)
    assert torch.equal(online(x), target(x))


def test_tiny_dqn_run_learns_and_explains():
    config = validate(
        rl.Config,
        {
            "env": "CartPole-v1",
            "agent": "dqn",
            "training_steps": 4000,
            "learning_starts": 500,
            "explore_fraction": 0.5,
            "train_frequency": 2,
            "gradient_steps": 1,
            "target_update": 100,
            "learning_rate": 0.002,
            "width": 32,
            "eval_episodes": 3,
            "explain_states": 20,
        },
    )
    lives = []
    result = rl.run(config, lambda step, total, metrics, live=None: lives.append(live) or False)
    m = result.metrics
    # a random policy keeps the pole up ~22 steps; even 4000 moves of learning do clearly better greedily
    assert m["train_return_first"] < 30 and m["greedy_return_mean"] > 60
    assert m["balanced_steps_mean"] == m["greedy_return_mean"] and m["balanced_steps_min"] <= m["balanced_steps_mean"]
    assert result.headline == ("balanced_steps_mean", "balanced_steps_min") and check_result(result, rl.METRICS) == []
    assert m["gradient_updates"] == (4000 - 500) // 2
    assert set(result.history.columns) >= {"step", "return", "return_avg", "epsilon", "loss"}
    snapshot = next(live for live in lives if live)
    assert len(rl.live_figure(snapshot).data[0].y) == len(snapshot["returns"])  # recent returns, drawn live
    figs = rl.figures(result)
    assert {"Returns", "Q-values along an episode", "Cart-pole replay"} <= set(figs)
    assert figs["Cart-pole replay"].frames and figs["Cart-pole replay"].frames[0].layout.shapes
    exps = rl.explain(result)
    preference = exps["Push right rather than left"]
    assert preference.values.shape == (20, 4) and preference.additivity_error < 1e-3  # exact (DeepExplainer)
    assert exps["Chosen action's Q-value"].feature_names == dqn.STATE_FEATURES
    assert f"balanced the pole for **{m['balanced_steps_mean']:.0f} of 500 steps**" in rl.describe(result)


@pytest.mark.parametrize(
    "values",
    [
        {**rl.PRESETS["cliff"], "episodes": 200, "eval_episodes": 1, "explain_states": 10},  # both agents, both paths
        {"env": "CartPole-v1", "agent": "dqn", "training_steps": 1500, "learning_starts": 200, "eval_episodes": 2},
    ],
    ids=["tabular", "dqn"],
)
def test_a_stored_run_draws_the_same_charts_and_words_from_its_data(tmp_path, values):
    """Issue 25 item 2: a run read back from the store (data only: no models, no torch) draws what a fresh one does."""
    from engine.core.pipeline import execute
    from tests.engine.helpers import read_back_same

    fresh = execute("rl", values)
    stored = read_back_same(fresh, tmp_path)
    assert stored.explain_figures == fresh.explain_figures == {}  # the standard SHAP views draw the explanation


def test_value_maps_colour_only_states_with_a_value_and_mark_goal_and_traps():
    """The goal and the traps end the episode, so their Q-values stay 0 and mean nothing: the value colours
    skip them (and walls), which are drawn as marked squares instead, and the colour range comes from the rest."""
    from engine.rl import plots

    env = gridworld.make("gridworld", grid="S#G/.T./...")
    lay = gridworld.layout("gridworld", env)
    Q = np.full((9, 4), 0.5)
    Q[[2, 4]] = 0.0  # terminal: goal (2) and trap (4)
    Q[0] = 0.2
    fig = plots.policy_figure(lay, Q)
    heat = fig.data[0]
    z = np.asarray(heat.z, dtype=float)
    assert np.isnan(z[0, 2]) and np.isnan(z[1, 1]) and np.isnan(z[0, 1])  # goal, trap, wall: no colour
    assert (heat.zmin, heat.zmax) == (0.2, 0.5)  # the range of the states with values
    fills = {s.fillcolor for s in fig.layout.shapes if s.type == "rect"}
    assert plots.GOAL in fills and plots.TRAP in fills  # marked as what they are
    assert "no value of their own" in charts.caption_of(fig)
    live = plots.value_live_figure(lay["cells"], Q.max(1).reshape(3, 3).tolist(), [["→"] * 3] * 3, 5)
    live_z = np.asarray(live.data[0].z, dtype=float)
    assert np.isnan(live_z[0, 2]) and np.isnan(live_z[1, 1])


def test_a_step_is_an_episode_for_a_table_agent_and_an_environment_step_for_a_dqn():
    assert validate(rl.Config, {"agent": "q_learning"}).step_unit() == "episode"
    assert validate(rl.Config, rl.PRESETS["dqn_quick"]).step_unit() == "environment step"
