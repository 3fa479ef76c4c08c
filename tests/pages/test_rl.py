"""Reinforcement learning page: pick the cliff, compare SARSA with Q-learning, train for real, see the results."""
from tests.pages.helpers import open_page, train_and_wait


def test_rl_page_trains_on_the_cliff_and_shows_both_agents():
    at = open_page("rl")
    at.selectbox(key="rl.env").set_value("CliffWalking-v1").run()
    at.toggle(key="rl.compare_sarsa").set_value(True).run()
    at.number_input(key="rl.episodes").set_value(400).run()
    assert at.query_params["env"] == "CliffWalking-v1"  # the link reproduces the setup
    at = train_and_wait(at)
    outcome = at.session_state["rl._outcome"]
    assert outcome.metrics["success_rate"] == 1.0 and outcome.metrics["greedy_path_length"] == 13
    assert outcome.metrics["sarsa_greedy_path_length"] > 13
    assert [t.label for t in at.tabs] == ["Results", "Explain", "Details"]
    # returns, policy, replay, Q-table, SARSA policy, both paths + SHAP views (bar, beeswarm, waterfall, dependence)
    assert len(at.get("plotly_chart")) >= 6 + 4
    assert "What just happened" in [s.value for s in at.subheader]
    assert any("SARSA" in m.value for m in at.markdown)


def test_dqn_needs_cartpole_and_says_so():
    at = open_page("rl")
    at.selectbox(key="rl.agent").set_value("dqn").run()
    assert any("CartPole-v1" in e.value for e in at.error)
    assert next(b for b in at.button if b.key == "rl._train").disabled


def test_gridworld_shows_a_grid_editor_of_the_map():
    at = open_page("rl")
    at.selectbox(key="rl.env").set_value("gridworld").run()
    editor = at.get("arrow_data_frame") or at.dataframe
    assert editor, "the grid editor is shown"
    rows = at.text_input(key="rl.grid").value.split("/")
    assert len(editor[0].value) == len(rows) and "".join(editor[0].value.iloc[0]) == rows[0]


def test_the_form_shows_only_the_settings_that_apply():
    at = open_page("rl")
    keys = {w.key for w in at.slider} | {w.key for w in at.number_input} | {w.key for w in at.toggle}
    assert "rl.alpha" in keys and "rl.width" not in keys and "rl.buffer_size" not in keys
    at.selectbox(key="rl.env").set_value("CartPole-v1").run()
    at.selectbox(key="rl.agent").set_value("dqn").run()
    keys = {w.key for w in at.slider} | {w.key for w in at.number_input} | {w.key for w in at.toggle}
    assert "rl.width" in keys and "rl.buffer_size" in keys and "rl.alpha" not in keys
    assert not at.error  # hidden settings keep valid values
