"""Deep Q-network (DQN) on CartPole-v1: a neural network replaces the Q-table (Mnih et al. 2015).

The network maps the cart-pole's 4 state numbers to one Q-value per action (push left, push right). It
learns from an experience-replay buffer (random old transitions, so consecutive, correlated steps do not
dominate) toward targets computed by a frozen copy of itself, the target network, refreshed every
``target_update`` gradient steps (chasing a target that moves with every step is unstable):

    loss = Huber(Q(s, a), r + gamma * (1 - terminated) * max_a' Q_target(s', a'))

CartPole pays +1 for every step the pole stays up and ends an episode after 500 steps, so a greedy return is
the number of steps the trained network balanced the pole, out of 500.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.core.contract import ProgressFn, Result, Tracker
from engine.core.device import pick, seeded
from engine.core.train import count_parameters, mlp
from engine.rl.config import CARTPOLE_MAX_RETURN, Config
from engine.rl.tabular import epsilon_at

STATE_FEATURES = ["cart position", "cart velocity", "pole angle", "pole angular velocity"]
ACTIONS = ["push left", "push right"]


class ReplayBuffer:
    """A fixed-size ring buffer of transitions (s, a, r, s', terminated); the oldest are overwritten."""

    def __init__(self, capacity: int, obs_dim: int):
        self.capacity = capacity
        self.obs = np.zeros((capacity, obs_dim), dtype=np.float32)  # (N, obs_dim)
        self.next_obs = np.zeros((capacity, obs_dim), dtype=np.float32)  # (N, obs_dim)
        self.actions = np.zeros(capacity, dtype=np.int64)  # (N,)
        self.rewards = np.zeros(capacity, dtype=np.float32)  # (N,)
        self.terminated = np.zeros(capacity, dtype=np.float32)  # (N,) 1.0 where s' ends the episode
        self.pos = 0  # where the next transition goes
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def add(self, obs, action: int, reward: float, next_obs, terminated: bool) -> None:
        i = self.pos
        self.obs[i], self.actions[i], self.rewards[i] = obs, action, reward
        self.next_obs[i], self.terminated[i] = next_obs, float(terminated)
        self.pos = (self.pos + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """``batch_size`` transitions drawn uniformly (with replacement) from what the buffer holds."""
        idx = rng.integers(0, self.size, size=batch_size)
        return {
            "obs": self.obs[idx],
            "actions": self.actions[idx],
            "rewards": self.rewards[idx],
            "next_obs": self.next_obs[idx],
            "terminated": self.terminated[idx],
        }


def q_network(hidden_layers: int, width: int, n_in: int = 4, n_actions: int = 2) -> nn.Module:
    """A plain ReLU MLP: (B, 4) states -> (B, 2) Q-values."""
    return mlp(n_in, n_actions, [width] * hidden_layers, "relu")


def sync_target(online: nn.Module, target: nn.Module) -> None:
    """Copy the online network's weights into the target network (a hard update)."""
    target.load_state_dict(online.state_dict())


def td_loss(online: nn.Module, target: nn.Module, batch: dict, gamma: float) -> torch.Tensor:
    """Huber loss between Q(s, a) and the one-step target r + gamma * (1 - terminated) * max_a' Q_target(s', a')."""
    dev = next(online.parameters()).device
    obs = torch.as_tensor(batch["obs"], device=dev)  # (B, 4)
    next_obs = torch.as_tensor(batch["next_obs"], device=dev)  # (B, 4)
    actions = torch.as_tensor(batch["actions"], device=dev)  # (B,)
    rewards = torch.as_tensor(batch["rewards"], device=dev)  # (B,)
    terminated = torch.as_tensor(batch["terminated"], device=dev)  # (B,)
    with torch.no_grad():
        target_q = rewards + gamma * (1.0 - terminated) * target(next_obs).max(1).values  # (B,)
    q = online(obs).gather(1, actions[:, None]).squeeze(1)  # (B,) Q of the action taken
    return F.smooth_l1_loss(q, target_q)


def greedy_action(net: nn.Module, obs) -> int:
    with torch.inference_mode():
        q = net(torch.as_tensor(obs, dtype=torch.float32, device=next(net.parameters()).device)[None])  # (1, 2)
    return int(q.argmax(1).item())


def greedy_episodes(net: nn.Module, episodes: int, seed: int) -> dict:
    """Play CartPole with exploration off. Returns per-episode ``returns``, every visited state ``states``
    (n, 4), and the first episode's ``rollout`` states (T+1, 4) and ``q_values`` (T, 2)."""
    env = gym.make("CartPole-v1")
    dev = next(net.parameters()).device
    returns, states, rollout, q_values = [], [], [], []
    for ep in range(episodes):
        obs, _ = env.reset(seed=seed + ep)
        total, done = 0.0, False
        if ep == 0:
            rollout.append(obs)
        while not done:
            with torch.inference_mode():
                q = net(torch.as_tensor(obs, device=dev)[None])[0].cpu().numpy()  # (2,)
            states.append(obs)
            obs, r, terminated, truncated, _ = env.step(int(q.argmax()))
            total += float(r)
            done = terminated or truncated
            if ep == 0:
                rollout.append(obs)
                q_values.append(q)
        returns.append(total)
    env.close()
    return {
        "returns": returns,
        "states": np.asarray(states, dtype=np.float32),
        "rollout": np.asarray(rollout, dtype=np.float32),
        "q_values": np.asarray(q_values, dtype=np.float32),
    }


# --- training ----------------------------------------------------------------------------------------------


@dataclass
class Learner:
    """Everything the training loop changes: the two networks, the optimiser, the replay memory, the log."""

    online: nn.Module
    target: nn.Module
    opt: torch.optim.Optimizer
    buffer: ReplayBuffer
    rng: np.random.Generator
    updates: int = 0
    losses: list = field(default_factory=list)  # losses since the last progress row
    best: tuple = (-np.inf, None, 0)  # (greedy score, weights, move) of the best network checked so far
    log: dict = field(default_factory=lambda: {"returns": [], "end_steps": [], "epsilons": [], "checks": []})


def setup(config: Config) -> Learner:
    dev = pick()
    with seeded(config.seed):
        online = q_network(config.hidden_layers, config.width).to(dev)
        target = q_network(config.hidden_layers, config.width).to(dev)
    sync_target(online, target)
    target.eval()
    opt = torch.optim.Adam(online.parameters(), lr=config.learning_rate, fused=True)  # fewer kernel calls per step
    return Learner(online, target, opt, ReplayBuffer(config.buffer_size, 4), np.random.default_rng(config.seed))


def learn(config: Config, agent: Learner) -> None:
    """``gradient_steps`` updates on random batches from the replay memory; the target follows every
    ``target_update`` of them."""
    for _ in range(config.gradient_steps):
        loss = td_loss(agent.online, agent.target, agent.buffer.sample(config.batch_size, agent.rng), config.gamma)
        agent.opt.zero_grad(set_to_none=True)
        loss.backward()
        agent.opt.step()
        agent.losses.append(loss.detach())
        agent.updates += 1
        if agent.updates % config.target_update == 0:
            sync_target(agent.online, agent.target)


def check(config: Config, agent: Learner, t: int) -> None:
    """A DQN's skill can collapse late in training: test the greedy policy now and then, keep the best network."""
    score = float(np.mean(greedy_episodes(agent.online, 5, seed=config.seed + 20_000 + t)["returns"]))
    agent.log["checks"].append((t, score))
    if score >= agent.best[0]:  # ties go to the later, longer-trained network
        agent.best = (score, {k: v.detach().clone() for k, v in agent.online.state_dict().items()}, t)


def report(agent: Learner, tracker: Tracker, t: int, epsilon: float) -> bool:
    """One progress row at the end of an episode; returns True when the person asked to stop."""
    returns = agent.log["returns"]
    row = {"return": returns[-1], "return_avg": float(np.mean(returns[-20:])), "epsilon": epsilon}
    if agent.losses:
        row["loss"] = float(torch.stack(agent.losses).mean())
        agent.losses = []
    live = (
        {"returns": returns[-300:], "first_episode": max(1, len(returns) - 299)} if len(tracker.rows) % 5 == 0 else None
    )
    return tracker.step(t, live=live, **row)


def train(config: Config, tracker: Tracker) -> tuple[nn.Module, dict]:
    """Train for ``config.training_steps`` moves; returns the online network (or the best one checked, with
    ``keep_best``) and the per-episode log. At most ~250 progress rows, each at the end of an episode."""
    agent = setup(config)
    env = gym.make("CartPole-v1")
    obs, _ = env.reset(seed=config.seed)
    total, ep_return, last_report = config.training_steps, 0.0, -(10**9)
    check_every, report_every = max(1000, total // 20), max(1, total // 250)
    for t in range(1, total + 1):
        epsilon = epsilon_at(
            t / total, config.epsilon_start, config.epsilon_end, config.epsilon_schedule, config.explore_fraction
        )
        action = int(agent.rng.integers(2)) if agent.rng.random() < epsilon else greedy_action(agent.online, obs)
        next_obs, step_reward, terminated, truncated, _ = env.step(action)
        reward = float(step_reward)
        agent.buffer.add(obs, action, reward, next_obs, terminated)
        ep_return, obs = ep_return + reward, next_obs
        if t > config.learning_starts and t % config.train_frequency == 0:
            learn(config, agent)
        if config.keep_best and t > config.learning_starts and (t % check_every == 0 or t == total):
            check(config, agent, t)
        if terminated or truncated:
            agent.log["returns"].append(ep_return)
            agent.log["end_steps"].append(t)
            agent.log["epsilons"].append(epsilon)
            ep_return, (obs, _) = 0.0, env.reset()
            if t - last_report >= report_every or t == total:
                last_report = t
                if report(agent, tracker, t, epsilon):
                    break
    env.close()
    score, best_state, best_step = agent.best
    if best_state is not None:
        agent.online.load_state_dict(best_state)
    agent.log.update(best_step=best_step if best_state is not None else t, updates=agent.updates, steps_done=t)
    return agent.online.cpu().eval(), agent.log


def run(config: Config, progress: ProgressFn) -> Result:
    """Train the deep Q-network on CartPole, then play greedy evaluation episodes (exploration off)."""
    tracker = Tracker(progress, config.training_steps)
    net, log = train(config, tracker)
    ev = greedy_episodes(net, config.eval_episodes, seed=config.seed + 10_000)
    returns, greedy = np.asarray(log["returns"]), np.asarray(ev["returns"])
    metrics = {
        "balanced_steps_mean": float(greedy.mean()),
        "balanced_steps_min": float(greedy.min()),
        "full_episodes_share": float(np.mean(greedy >= CARTPOLE_MAX_RETURN)),
        "greedy_return_mean": float(greedy.mean()),
        "greedy_return_min": float(greedy.min()),
        "train_return_first": float(returns[:20].mean()) if len(returns) else 0.0,
        "train_return_last": float(returns[-20:].mean()) if len(returns) else 0.0,
        "episodes_run": len(returns),
        "steps_run": int(log["steps_done"]),
        "gradient_updates": int(log["updates"]),
        "parameters": count_parameters(net),
        "kept_network_step": int(log["best_step"]),
    }
    return Result(
        config=config,
        history=tracker.history(),
        metrics=metrics,
        headline=("balanced_steps_mean", "balanced_steps_min"),
        models={"q_network": net},
        stopped=tracker.stopped,
        arrays={
            "returns": returns,
            "end_steps": np.asarray(log["end_steps"]),
            "epsilons": np.asarray(log["epsilons"]),
            "rollout": ev["rollout"],
            "q_values": ev["q_values"],
            "eval_states": ev["states"],
            "checks": np.asarray(log["checks"], dtype=float).reshape(-1, 2),
        },
        info={"agents": ["dqn"], "feature_names": STATE_FEATURES, "action_names": ACTIONS},
    )
