"""Deep Q-network (DQN) on CartPole-v1: a neural network replaces the Q-table.

The network maps the cart-pole's 4 state numbers to one Q-value per action (push left, push right). It
learns from an experience-replay buffer (random old transitions, so consecutive, correlated steps do not
dominate) toward targets computed by a frozen copy of itself, the target network, refreshed every
``target_update`` gradient steps (chasing a target that moves with every step is unstable):

    loss = Huber(Q(s, a), r + gamma * (1 - terminated) * max_a' Q_target(s', a'))
"""
from __future__ import annotations

import numpy as np

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
        return {"obs": self.obs[idx], "actions": self.actions[idx], "rewards": self.rewards[idx],
                "next_obs": self.next_obs[idx], "terminated": self.terminated[idx]}


def q_network(hidden_layers: int, width: int, n_in: int = 4, n_actions: int = 2):
    """A plain ReLU MLP: (B, 4) states -> (B, 2) Q-values."""
    from engine.core.train import mlp

    return mlp(n_in, n_actions, [width] * hidden_layers, "relu")


def sync_target(online, target) -> None:
    """Copy the online network's weights into the target network (a hard update)."""
    target.load_state_dict(online.state_dict())


def td_loss(online, target, batch: dict, gamma: float):
    """Huber loss between Q(s, a) and the one-step target r + gamma * (1 - terminated) * max_a' Q_target(s', a')."""
    import torch
    import torch.nn.functional as F

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


def greedy_action(net, obs) -> int:
    import torch

    with torch.inference_mode():
        q = net(torch.as_tensor(obs, dtype=torch.float32, device=next(net.parameters()).device)[None])
    return int(q.argmax(1).item())


def greedy_episodes(net, episodes: int, seed: int) -> dict:
    """Play CartPole with exploration off. Returns per-episode ``returns``, every visited state ``states``
    (n, 4), and the first episode's ``rollout`` states (T+1, 4) and ``q_values`` (T, 2)."""
    import gymnasium as gym
    import torch

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
            total += r
            done = terminated or truncated
            if ep == 0:
                rollout.append(obs)
                q_values.append(q)
        returns.append(total)
    env.close()
    return {"returns": returns, "states": np.asarray(states, dtype=np.float32),
            "rollout": np.asarray(rollout, dtype=np.float32), "q_values": np.asarray(q_values, dtype=np.float32)}


def train(config, tracker, epsilon_fn):
    """Train a DQN for ``config.training_steps`` environment steps; returns (online net, per-episode log dict).

    With ``config.keep_best`` the greedy policy is checked on 5 episodes every 5% of training and the network
    that scored best is returned (``log["best_step"]`` says from when; ``log["checks"]`` has every check).

    ``epsilon_fn(progress)`` gives the exploration rate at a share of training done. The tracker gets one row
    at the end of an episode at most every ``training_steps / 250`` steps (so long runs stay light).
    """
    import gymnasium as gym
    import torch

    from engine.core.device import pick

    dev = pick()
    rng = np.random.default_rng(config.seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        online = q_network(config.hidden_layers, config.width).to(dev)
        target = q_network(config.hidden_layers, config.width).to(dev)
    sync_target(online, target)
    target.eval()
    opt = torch.optim.Adam(online.parameters(), lr=config.learning_rate, fused=True)  # fewer kernel calls per step
    buffer = ReplayBuffer(config.buffer_size, 4)
    env = gym.make("CartPole-v1")
    obs, _ = env.reset(seed=config.seed)
    log = {"returns": [], "end_steps": [], "epsilons": [], "checks": []}
    check_every = max(1000, config.training_steps // 20)
    best_score, best_state, best_step = -np.inf, None, 0
    ep_return, losses, updates = 0.0, [], 0
    report_every, last_report = max(1, config.training_steps // 250), -10**9
    total = config.training_steps
    for t in range(1, total + 1):
        epsilon = epsilon_fn(t / total)
        if rng.random() < epsilon:
            action = int(rng.integers(2))
        else:
            action = greedy_action(online, obs)
        next_obs, reward, terminated, truncated, _ = env.step(action)
        buffer.add(obs, action, reward, next_obs, terminated)
        ep_return += reward
        obs = next_obs
        if t > config.learning_starts and t % config.train_frequency == 0:
            for _ in range(config.gradient_steps):
                loss = td_loss(online, target, buffer.sample(config.batch_size, rng), config.gamma)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                losses.append(loss.detach())
                updates += 1
                if updates % config.target_update == 0:
                    sync_target(online, target)
        if config.keep_best and t > config.learning_starts and (t % check_every == 0 or t == total):
            # DQN's skill can collapse late in training: check the greedy policy now and then, keep the best
            score = float(np.mean(greedy_episodes(online, 5, seed=config.seed + 20_000 + t)["returns"]))
            log["checks"].append((t, score))
            if score >= best_score:  # ties go to the later, longer-trained network
                best_score, best_step = score, t
                best_state = {k: v.detach().clone() for k, v in online.state_dict().items()}
        if terminated or truncated:
            log["returns"].append(ep_return)
            log["end_steps"].append(t)
            log["epsilons"].append(epsilon)
            ep_return = 0.0
            obs, _ = env.reset()
            if t - last_report >= report_every or t == total:
                last_report = t
                recent = log["returns"][-20:]
                row = {"episode": len(log["returns"]), "return": log["returns"][-1],
                       "return_avg": float(np.mean(recent)), "epsilon": epsilon}
                if losses:
                    row["loss"] = float(torch.stack(losses).mean())
                    losses = []
                if tracker.step(t, **row):
                    break
    env.close()
    if best_state is not None:
        online.load_state_dict(best_state)
    log["best_step"] = best_step if best_state is not None else t
    log["best_score"] = float(best_score) if best_state is not None else float("nan")
    log["updates"] = updates
    log["steps_done"] = t
    return online.cpu().eval(), log
