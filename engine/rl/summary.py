"""Reinforcement learning in words: the "What just happened" text, every sentence checked on the run's own
numbers (its metrics, greedy paths and returns)."""

from __future__ import annotations

from engine.core.contract import Result
from engine.core.wording import summary_text
from engine.rl import gridworld
from engine.rl.config import AGENT_NAMES, CARTPOLE_MAX_RETURN, ENV_TITLES, PRESET_LABELS

CLIFF_EDGE_PATH = 13  # steps of the shortest way along the cliff edge: 1 up, 11 right, 1 down
RANDOM_CARTPOLE = 22  # about how long random pushing keeps CartPole's pole up


def describe(result: Result) -> str:
    verdict, support, more = _describe_dqn(result) if result.config.agent == "dqn" else _describe_tabular(result)
    return summary_text(verdict, [support, *(["You stopped it early."] if result.stopped else [])], more)


def _dqn_verdict(m: dict) -> str:
    mean, low, full = m["balanced_steps_mean"], m["balanced_steps_min"], m["full_episodes_share"]
    if low >= CARTPOLE_MAX_RETURN:
        return f"**It solved CartPole: every test episode lasted the full {CARTPOLE_MAX_RETURN} steps.**"
    if full > 0:
        return f"**It balances the pole well but not reliably: {full:.0%} of test episodes lasted the full length.**"
    if mean >= 3 * RANDOM_CARTPOLE:
        return "**It learned to balance far longer than random pushing, but no test episode lasted the full length.**"
    return "**It has not learned to balance yet: it does not last much longer than random pushing.**"


def _describe_dqn(result: Result) -> tuple[str, str, str]:
    m, config = result.metrics, result.config
    mean, low, full = m["balanced_steps_mean"], m["balanced_steps_min"], m["full_episodes_share"]
    support = (
        f"With exploration off it balanced the pole for **{mean:.0f} of {CARTPOLE_MAX_RETURN} steps** on "
        f"average over {config.eval_episodes} episodes (fewest {low:.0f})."
    )
    text = (
        f"A deep Q-network with {m['parameters']:,} weights made {m['steps_run']:,} moves in CartPole "
        f"({m['episodes_run']} episodes, {m['gradient_updates']:,} learning steps). Its return per episode went "
        f"from {m['train_return_first']:.0f} (first 20 episodes) to {m['train_return_last']:.0f} (last 20)."
    )
    if low >= CARTPOLE_MAX_RETURN:
        text += " Every episode lasted the full 500 steps: it has solved CartPole."
    elif full > 0:
        text += (
            f" {full:.0%} of them lasted the full {CARTPOLE_MAX_RETURN} steps; the rest fell earlier, so "
            "its balance is good but not yet reliable."
        )
    if full == 0 and mean >= 3 * RANDOM_CARTPOLE:
        text += (
            f" That is far longer than random pushing (about {RANDOM_CARTPOLE} steps), though no episode "
            f"reached {CARTPOLE_MAX_RETURN}: more training steps (preset *{PRESET_LABELS['solve']}*) help."
        )
    elif mean < 3 * RANDOM_CARTPOLE:
        text += (
            f" That is not much better than random pushing (about {RANDOM_CARTPOLE} steps): it has not learned "
            f"to balance yet. Try more training steps or the preset *{PRESET_LABELS['solve']}*."
        )
    if m["kept_network_step"] < m["steps_run"]:
        text += (
            f" These numbers come from the network kept from move {m['kept_network_step']:,}, the best of the "
            "greedy checks during training."
        )
    return _dqn_verdict(m), support, text


def _goal_words(result: Result) -> tuple[str, str]:
    """(reached ..., never reached ...) phrases for this world."""
    if result.config.env == "Taxi-v4":
        return "delivered the passenger", "never delivered the passenger"
    goal = result.info["layout"]["goal_name"]
    return f"reached the {goal}", f"never reached the {goal}"


def _evaluation_sentence(result: Result, prefix: str = "") -> str:
    """How one agent did with exploration off, and why it failed when it did (checked on its own episodes)."""
    m, config = result.metrics, result.config
    reached, never = _goal_words(result)
    rate, ret = m[f"{prefix}success_rate"], m[f"{prefix}greedy_return_mean"]
    if rate > 0:
        text = f"{reached} in **{rate:.0%}** of {config.eval_episodes} episodes, with a mean return of {ret:.2f}"
        path = m.get(f"{prefix}greedy_path_length")
        return text + (f" along a {path:.0f}-step path." if path is not None and rate == 1 else ".")
    states = [int(s) for s in result.arrays[f"{prefix}greedy_path"]]
    if m[f"{prefix}greedy_steps_mean"] >= config.max_steps:
        first = next((i for i, s in enumerate(states) if s in states[:i]), None)  # the first state seen twice
        loop = first - states.index(states[first]) if first is not None else 0
        cut = f"until the episode is cut off after {config.max_steps} moves"
        if config.is_slippery or not loop:
            why = f"it wanders without arriving {cut}"
        elif loop == 1:
            why = f"its greedy move runs into the edge or a wall, so it stays where it is {cut}"
        else:
            why = f"its greedy moves go round a loop of {loop} states {cut}"
    else:
        why = f"its greedy moves end in a {result.info['layout']['trap_name'] or 'dead end'}"
    return f"**{never}** in {config.eval_episodes} episodes (mean return {ret:.2f}): {why}."


def _advice(result: Result) -> str:
    """What to change when the main agent did not master the world (only called when it did not)."""
    config = result.config
    tips = [f"more episodes (the *{PRESET_LABELS['better']}* preset)"]
    if config.initial_q <= 0 and config.env != "Taxi-v4":
        tips.append("an optimistic starting Q-value such as 1, so it tries every move")
    if config.is_slippery and config.env != "Taxi-v4":
        tips.append("a smaller learning rate (on slippery ice every outcome is noisy)")
    elif config.alpha_end > 0.1:
        tips.append("a smaller learning rate at the end, so its estimates settle")
    return (
        " It has not mastered this world yet: try "
        + ", ".join(tips[:-1])
        + (" or " if len(tips) > 1 else "")
        + tips[-1]
        + "."
    )


def _tabular_verdict(result: Result) -> str:
    m, config = result.metrics, result.config
    agent, world = AGENT_NAMES[config.agent], ENV_TITLES[config.env]
    rate = m["success_rate"]
    if rate >= 1:
        return f"**{agent} learned {world}: it succeeds in every test episode.**"
    if rate >= 0.5:
        return f"**{agent} mostly learned {world}: it succeeds in {rate:.0%} of test episodes.**"
    if rate > 0:
        return f"**{agent} has not mastered {world}: it succeeds in only {rate:.0%} of test episodes.**"
    return f"**{agent} has not learned {world}: it fails every test episode.**"


def _describe_tabular(result: Result) -> tuple[str, str, str]:
    m, config, info = result.metrics, result.config, result.info
    world = ENV_TITLES[config.env] + (" (slippery)" if config.is_slippery and config.env != "Taxi-v4" else "")
    start, end = config.epsilon_start, config.epsilon_end
    explore = (
        f"exploring with epsilon {start:g}"
        if config.epsilon_schedule == "constant" or start == end
        else f"exploring with epsilon falling from {start:g} to {end:g}"
    )
    support = f"With exploration off it {_evaluation_sentence(result)}"
    text = (
        f"{AGENT_NAMES[config.agent]} played {m['episodes_run']:,} episodes of {world} ({m['steps_run']:,} "
        f"moves), {explore}; it visited {m['states_visited']} of {m['n_states']} states."
    )
    if m["success_rate"] < 0.5:
        text += _advice(result)
    elif config.is_slippery and m["success_rate"] < 1 and config.env != "Taxi-v4":
        text += " On slippery ice a move can go sideways, so even a good policy falls in now and then."
    for other in info["agents"][1:]:
        text += f" {AGENT_NAMES[other]}, trained on the same seeds, {_evaluation_sentence(result, f'{other}_')}"
    contrast = cliff_contrast(result)
    return _tabular_verdict(result), support, text + (f" {contrast}" if contrast else "")


def cliff_contrast(result: Result) -> str | None:
    """The textbook comparison on the cliff, from the two agents' own greedy paths and training returns."""
    m, info, a = result.metrics, result.info, result.arrays
    if result.config.env != "CliffWalking-v1" or len(info["agents"]) < 2:
        return None
    q_key = "" if info["agents"][0] == "q_learning" else "q_learning_"
    s_key = "" if info["agents"][0] == "sarsa" else "sarsa_"
    if m[f"{q_key}success_rate"] < 1 or m[f"{s_key}success_rate"] < 1:
        return (
            "One of the two agents did not reach the goal, so their paths cannot be compared yet: try more "
            "episodes or a smaller learning rate at the end."
        )
    q_len, s_len = m[f"{q_key}greedy_path_length"], m[f"{s_key}greedy_path_length"]
    if s_len > q_len:
        edge = " right along the cliff edge" if q_len == CLIFF_EDGE_PATH else ""
        rows = gridworld.decode(a[f"{s_key}greedy_path"], info["layout"]["feature_dims"])[1:-1, 0]
        away = "detour away from it" if rows.min() < 2 else "path"  # row 2 runs along the cliff (row 3)
        text = (
            f"Q-learning walks the {q_len:.0f}-step path{edge}, SARSA a {s_len:.0f}-step {away}: "
            "SARSA's values include its own random moves, and exploring next to the edge sometimes falls."
        )
    elif s_len == q_len:
        text = (
            f"Both took {q_len:.0f}-step paths, so the classic contrast did not show on this run; the textbook "
            "setting keeps epsilon at 0.1 throughout."
        )
    else:
        text = "Unusually, Q-learning took the longer path."
    q_ret, s_ret = a[f"{q_key}returns"], a[f"{s_key}returns"]
    tail = max(1, len(q_ret) // 5)
    if s_ret[-tail:].mean() > q_ret[-tail:].mean():
        text += (
            f" While learning, SARSA earned more per episode over the last {tail} episodes "
            f"({s_ret[-tail:].mean():.1f} against {q_ret[-tail:].mean():.1f}): it fell off the cliff less."
        )
    return text
