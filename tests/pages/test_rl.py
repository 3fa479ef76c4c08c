"""Reinforcement learning page: pick the cliff, compare SARSA with Q-learning, train for real, see the results;
an agent that learned nothing still gets its Explain tab; the grid editor edits the map."""

from tests.pages.helpers import every_chart, open_page, open_try_it, train_and_wait, try_it_answer
from ui.gridworld import apply_edits


def test_rl_page_trains_on_the_cliff_and_shows_both_agents():
    at = open_page("rl")
    at.selectbox(key="rl.env").set_value("CliffWalking-v1").run()
    toggle = at.toggle(key="rl.compare_sarsa")
    assert toggle.label == "Also run the other table-based agent"  # reads right whichever agent is chosen
    toggle.set_value(True).run()
    at.number_input(key="rl.episodes").set_value(400).run()
    assert at.query_params["env"] == "CliffWalking-v1"  # the link reproduces the setup
    at = train_and_wait(at)
    outcome = at.session_state["rl._outcome"]
    assert outcome.metrics["success_rate"] == 1.0 and outcome.metrics["greedy_path_length"] == 13
    assert outcome.metrics["sarsa_success_rate"] == 1.0 and outcome.metrics["sarsa_greedy_path_length"] > 13
    assert outcome.headline == ["greedy_return_mean", "success_rate", "sarsa_greedy_return_mean", "sarsa_success_rate"]
    assert [m.label for m in at.metric][:4] == [
        "Return, exploration off",
        "Success, exploration off",
        "SARSA: return",
        "SARSA: success rate",
    ]
    assert [t.label for t in at.tabs] == ["Results", "Explain", "Try it", "Details"]
    open_try_it(at, "rl")  # a table-based agent: pick a cell, the agent walks from there (no longer a dead end)
    assert try_it_answer(at, "Ends") == "reached the goal" and try_it_answer(at, "Moves") == "13"  # the cliff edge
    at.selectbox(key="rl.try.cell").set_value((0, 11)).run()  # top right: straight down to the goal
    assert try_it_answer(at, "Moves") == "3" and try_it_answer(at, "First move") == "down"
    # returns, policy, replay, Q-table, SARSA policy, both paths + SHAP views (bar, beeswarm, waterfall, dependence)
    assert len(every_chart(at, "rl")) >= 6 + 4
    assert "What just happened" in [s.value for s in at.subheader]
    assert any("right along the cliff edge" in m.value for m in at.markdown)


def test_explain_tab_copes_with_an_agent_that_learned_nothing():
    """Issue 13 item 2: FrozenLake 8x8 where the agent never finds the gift gives all-zero SHAP values; the
    dependence view used to crash with 'All-NaN slice'."""
    at = open_page("rl")
    at.selectbox(key="rl.env").set_value("FrozenLake8x8-v1").run()
    at.number_input(key="rl.initial_q").set_value(0.0).run()
    at.number_input(key="rl.episodes").set_value(30).run()
    at = train_and_wait(at)  # asserts no exception and no error box
    outcome = at.session_state["rl._outcome"]
    assert outcome.metrics["success_rate"] == 0.0
    assert not outcome.explanation.values.any()
    assert len(every_chart(at, "rl")) >= 4 + 4  # results + the four SHAP views
    assert any("never reached the gift" in m.value for m in at.markdown)


def test_dqn_needs_cartpole_and_says_so():
    at = open_page("rl")
    at.selectbox(key="rl.agent").set_value("dqn").run()
    assert any("CartPole-v1" in e.value.replace("\\", "") for e in at.error)  # Markdown-escaped, reads as typed
    assert next(b for b in at.button if b.key == "rl._train").disabled


def test_gridworld_shows_a_grid_editor_of_the_map():
    at = open_page("rl")
    at.selectbox(key="rl.env").set_value("gridworld").run()
    editor = at.get("arrow_data_frame") or at.dataframe
    assert editor, "the grid editor is shown"
    rows = at.text_input(key="rl.grid").value.split("/")
    assert len(editor[0].value) == len(rows) and "".join(editor[0].value.iloc[0]) == rows[0]


def test_grid_editor_edits_become_the_map():
    """The data editor's edited-rows dict is translated on the ui side; the engine only sees a map string."""
    assert apply_edits("S../..G", {0: {"1": "#"}, "1": {0: "T"}}) == "S#./T.G"
    assert apply_edits("S../..G", {0: {"2": None}, 5: {0: "#"}}) == "S../..G"  # cleared -> free; off-grid ignored


def test_the_form_shows_only_the_settings_that_apply():
    at = open_page("rl")
    keys = {w.key for w in at.slider} | {w.key for w in at.number_input} | {w.key for w in at.toggle}
    assert {"rl.alpha", "rl.alpha_end", "rl.initial_q"} <= keys and "rl.width" not in keys
    assert "rl.buffer_size" not in keys
    at.selectbox(key="rl.env").set_value("CartPole-v1").run()
    at.selectbox(key="rl.agent").set_value("dqn").run()
    keys = {w.key for w in at.slider} | {w.key for w in at.number_input} | {w.key for w in at.toggle}
    assert "rl.width" in keys and "rl.buffer_size" in keys and "rl.alpha" not in keys
    assert not at.error  # hidden settings keep valid values


def test_try_it_replays_the_dqn_from_a_start_state_you_set():
    at = train_and_wait(open_page("rl", query={"env": "CartPole-v1", "agent": "dqn", "training_steps": "3000"}))
    assert "Try it" in [t.label for t in at.tabs]

    def balanced():
        return next(m.value for m in at.metric if m.label == "Balanced for")

    open_try_it(at, "rl")
    upright = balanced()
    at.slider(key="rl.try.pole angle").set_value(0.18).run()
    at.slider(key="rl.try.pole angular velocity").set_value(1.8).run()
    assert int(balanced().split()[0]) < 5 < int(upright.split()[0]), (upright, balanced())
    assert not at.exception


def test_choosing_cartpole_switches_a_table_agent_to_the_deep_q_network_and_says_so():
    """Issue 27: choosing CartPole while the agent was Q-learning gave a red error. The agent now follows the world
    (a short note says so), and back: a grid world gets the table-based Q-learning again."""
    at = open_page("rl")
    assert at.selectbox(key="rl.agent").value == "q_learning"
    at.selectbox(key="rl.env").set_value("CartPole-v1").run()
    assert not at.error, [e.value for e in at.error]
    assert at.selectbox(key="rl.agent").value == "dqn" and at.query_params["agent"] == "dqn"
    assert any("deep Q-network" in i.value for i in at.info)
    assert not next(b for b in at.button if b.key == "rl._train").disabled
    at.selectbox(key="rl.env").set_value("FrozenLake-v1").run()
    assert not at.error and at.selectbox(key="rl.agent").value == "q_learning"
    assert any("Q-learning" in i.value for i in at.info)
