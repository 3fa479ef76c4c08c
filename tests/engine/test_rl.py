"""Reinforcement learning: the update rules by hand, greedy policies that reach the goal, the cliff contrast,
DQN's replay buffer and target network, settings that must be refused, and a tiny end-to-end DQN run."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine import rl
from engine.core.config import ConfigError, validate
from engine.rl import dqn, gridworld, tabular

torch.set_num_threads(1)


def run(**values):
    return rl.run(validate(rl.Config, {**rl.PRESETS["quick"], **values}), lambda *_: False)


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
    return run(env="CliffWalking-v1", agent="q_learning", compare_sarsa=True, episodes=500,
               epsilon_start=0.1, epsilon_end=0.1, epsilon_schedule="constant", eval_episodes=1,
               explain_states=12)


def test_quick_preset_reaches_the_goal_on_deterministic_frozenlake():
    result = run(env="FrozenLake-v1", is_slippery=False, eval_episodes=5, explain_states=10)
    m = result.metrics
    assert m["success_rate"] == 1.0 and m["greedy_return_mean"] == 1.0
    assert m["greedy_steps_mean"] == 6  # the shortest way round the holes of the 4x4 lake
    h = result.history
    assert h["step"].iloc[-1] == 1000 and len(h) <= 200
    assert h["return"].iloc[:10].mean() < h["return"].iloc[-10:].mean()  # it learned while exploring less
    assert 0 <= h["epsilon"].min() < h["epsilon"].max() <= 1


def test_quick_preset_reaches_the_goal_on_the_cliff():
    m = run(env="CliffWalking-v1", eval_episodes=3, explain_states=10).metrics
    assert m["success_rate"] == 1.0
    assert 13 <= m["greedy_path_length"] <= 17  # 13 is the edge path; anything that arrives is at most a detour
    assert m["greedy_return_mean"] == -m["greedy_path_length"]  # -1 per step, never fell off


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
    assert cliff.arrays["sarsa_returns"][-200:].mean() > cliff.arrays["returns"][-200:].mean()
    assert "SARSA keeps away from the cliff edge" in rl.describe(cliff)


def test_tabular_figures_and_explanation(cliff):
    figs = rl.figures(cliff)
    assert {"Returns", "Policy and values", "Greedy episode", "Q-table", "Both greedy paths"} <= set(figs)
    assert len(figs["Greedy episode"].frames) == 14  # start + 13 steps
    assert all(f.layout.meta["caption"] for f in figs.values())
    exp = rl.explain(cliff)
    assert exp.values.shape == (12, 2) and exp.feature_names == ["row", "column"]
    assert exp.additivity_error < 1e-6
    # SHAP explains the greedy value max_a Q: base + contributions give it back
    states = gridworld.encode(exp.data, [4, 12])
    np.testing.assert_allclose(exp.values.sum(1) + exp.base_values, cliff.arrays["Q"][states].max(1), atol=1e-6)


def test_seeded_runs_are_reproducible_and_stop_works():
    a = run(env="gridworld", episodes=60, explain_states=10)
    b = run(env="gridworld", episodes=60, explain_states=10)
    assert a.metrics == b.metrics
    calls = []
    stopped = rl.run(validate(rl.Config, {"env": "Taxi-v4", "episodes": 5000}),
                     lambda *args: calls.append(args) or True)
    assert stopped.stopped and len(calls) == 1 and stopped.metrics["episodes_run"] == 25
    assert rl.figures(stopped) and "stopped it early" in rl.describe(stopped)
    assert rl.explain(stopped).values.shape[1] == 4  # Taxi: taxi row, column, passenger, destination


def test_live_figure_draws_the_value_map():
    payloads = []
    rl.run(validate(rl.Config, {"env": "FrozenLake-v1", "episodes": 200}),
           lambda step, total, m: payloads.append(m["live"]) if "live" in m else False)
    assert payloads
    fig = rl.live_figure(payloads[-1])
    assert np.asarray(fig.data[0].z).shape == (4, 4)


# --- settings ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("values, message", [
    ({"gamma": 1.5}, "`gamma` must be <= 1.0, but got 1.5"),
    ({"episodes": -5}, "`episodes` must be >= 1, but got -5"),
    ({"env": "CartPole-v1"}, "use agent dqn"),
    ({"agent": "dqn"}, "CartPole-v1"),
    ({"grid": "S.T/###/..G"}, "No goal G can be reached"),
    ({"epsilon_start": 0.1, "epsilon_end": 0.5}, "`epsilon_end` must be <= `epsilon_start`"),
])
def test_bad_settings_are_refused_with_a_message(values, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        validate(rl.Config, values)


def test_presets_validate():
    for preset in rl.PRESETS.values():
        validate(rl.Config, preset)
    assert rl.estimate_seconds(validate(rl.Config, rl.PRESETS["solve"])) > \
        rl.estimate_seconds(validate(rl.Config, {"env": "CartPole-v1", "agent": "dqn", **rl.PRESETS["quick"]}))


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
    batch = {"obs": np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32), "actions": np.arange(8) % 2,
             "rewards": np.ones(8, np.float32), "next_obs": np.zeros((8, 4), np.float32),
             "terminated": np.array([1, 0] * 4, np.float32)}
    before = [p.clone() for p in target.parameters()]
    loss = dqn.td_loss(online, target, batch, gamma=0.9)
    # hand-computed Huber loss against r + 0.9 * (1 - terminated) * max_a' Q_target(s', a')
    with torch.no_grad():
        q_next = target(torch.zeros(1, 4)).max().item()
        y = 1 + 0.9 * (1 - batch["terminated"]) * q_next
        q = online(torch.as_tensor(batch["obs"]))[torch.arange(8), torch.as_tensor(batch["actions"])].numpy()
    d = np.abs(q - y)
    assert loss.item() == pytest.approx(np.where(d < 1, 0.5 * d ** 2, d - 0.5).mean(), rel=1e-5)
    opt.zero_grad()
    loss.backward()
    opt.step()
    assert all(torch.equal(a, b) for a, b in zip(before, target.parameters()))  # no gradient reaches the target
    assert not torch.equal(online(x), target(x))
    dqn.sync_target(online, target)
    assert torch.equal(online(x), target(x))


def test_tiny_dqn_run_learns_and_explains():
    config = validate(rl.Config, {"env": "CartPole-v1", "agent": "dqn", "training_steps": 4000,
                                  "learning_starts": 500, "explore_fraction": 0.5, "train_frequency": 2,
                                  "gradient_steps": 1, "target_update": 100, "learning_rate": 0.002, "width": 32,
                                  "eval_episodes": 3, "explain_states": 20})
    result = rl.run(config, lambda *_: False)
    m = result.metrics
    # a random policy keeps the pole up ~22 steps; even 4000 moves of learning do clearly better greedily
    assert m["train_return_first"] < 30 and m["greedy_return_mean"] > 60
    assert m["gradient_updates"] == (4000 - 500) // 2
    assert set(result.history.columns) >= {"step", "return", "return_avg", "epsilon", "loss"}
    figs = rl.figures(result)
    assert {"Returns", "Q-values along an episode", "Cart-pole replay"} <= set(figs)
    assert figs["Cart-pole replay"].frames and figs["Cart-pole replay"].frames[0].layout.shapes
    exps = rl.explain(result)
    preference = exps["Push right rather than left"]
    assert preference.values.shape == (20, 4) and preference.additivity_error < 1e-3  # exact (DeepExplainer)
    assert exps["Chosen action's Q-value"].feature_names == dqn.STATE_FEATURES
    assert "kept the pole up" in rl.describe(result)


def test_grid_editor_edits_become_the_map():
    from engine.rl.gridworld import edit_grid

    assert edit_grid("S../..G", {0: {"1": "#"}, "1": {0: "T"}}) == "S#./T.G"
    assert edit_grid("S../..G", {0: {"2": None}, 5: {0: "#"}}) == "S../..G"  # cleared -> free; off-grid ignored
