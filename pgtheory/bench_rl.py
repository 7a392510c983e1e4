"""``pgtheory bench rl``: our PPO and REINFORCE against Stable-Baselines3's PPO (rl-zoo
hyperparameters for CartPole-v1) and 003's program, in one process, under one solved criterion:
the mean of 20 evaluation episodes of the stochastic policy, every 10,000 steps, reaches the
reward threshold; wall clock counts everything, evaluation included.

Stable-Baselines3 is an optional extra (``pip install -e ".[bench]"``); only this module needs it.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable

import torch

from pgtheory.algos import ALGORITHMS
from pgtheory.algos import TrainResult
from pgtheory.algos.common import Tracker
from pgtheory.algos.ppo import PPOConfig
from pgtheory.bench import Measurement


def train_sb3_ppo(env_id: str, seed: int, max_steps: int, device: torch.device) -> TrainResult:
    """SB3 PPO with the rl-zoo CartPole-v1 hyperparameters, evaluated by our Tracker."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

    def linear(start: float) -> Callable[[float], float]:
        return lambda progress_remaining: progress_remaining * start

    tracker = Tracker("sb3-ppo", env_id, seed, eval_every=10_000, eval_episodes=20, device=device)
    model = PPO(
        "MlpPolicy",
        make_vec_env(env_id, n_envs=8, seed=seed),
        n_steps=32,
        batch_size=256,
        gae_lambda=0.8,
        gamma=0.98,
        n_epochs=20,
        ent_coef=0.0,
        learning_rate=linear(0.001),
        clip_range=linear(0.2),
        seed=seed,
        device=str(device),
        verbose=0,
    )

    def act(obs: torch.Tensor) -> torch.Tensor:
        actions, _ = model.predict(obs.cpu().numpy(), deterministic=False)
        return torch.as_tensor(actions)

    class Evaluate(BaseCallback):
        def _on_step(self) -> bool:
            return not tracker.maybe_evaluate(self.num_timesteps, act)

    model.learn(total_timesteps=max_steps, callback=Evaluate())
    return tracker.result(model.num_timesteps, act)


CONTESTANTS: dict[str, Callable[[str, int, int, torch.device], TrainResult]] = {
    "ppo": ALGORITHMS["ppo"],
    # the same implementation with SB3's hyperparameters: the implementations' speed alone
    "ppo (rl-zoo settings)": lambda env, seed, steps, device: ALGORITHMS["ppo"](
        env, seed, steps, device, PPOConfig.rl_zoo()
    ),
    "sb3-ppo": train_sb3_ppo,
    "reinforce": ALGORITHMS["reinforce"],
    "reinforce-003": ALGORITHMS["reinforce-003"],
}


def warm_up() -> None:
    """Pay torch's lazy imports (the first optimiser imports torch._dynamo, about a second)
    before any contestant's clock starts, so that no contestant's first seed pays them."""
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])


def median_seconds_to_solve(results: list[TrainResult]) -> float:
    """Median wall clock to solve over seeds; an unsolved seed counts as infinitely slow."""
    return statistics.median(r.seconds_to_solve if r.solved else float("inf") for r in results)


def run_rl_benchmark(
    seeds: int = 5,
    env_id: str = "CartPole-v1",
    max_steps: int = 300_000,
    device: torch.device | None = None,
    report: Callable[[str], None] = print,
) -> list[Measurement]:
    device = device or torch.device("cpu")
    warm_up()
    results: dict[str, list[TrainResult]] = {}
    for name, train in CONTESTANTS.items():
        results[name] = []
        for seed in range(seeds):
            r = train(env_id, seed, max_steps, device)
            results[name].append(r)
            solved = (
                f"{r.seconds_to_solve:.1f}s, {r.steps_to_solve:,} steps"
                if r.solved
                else "not solved"
            )
            report(f"{name:22s} seed {seed}: {solved}")
    medians = {name: median_seconds_to_solve(rs) for name, rs in results.items()}
    out = []
    for name, rs in results.items():
        solved = sum(r.solved for r in rs)
        out.append(Measurement(f"{name}: seeds solved of {len(rs)}", solved, "seeds"))
        out.append(
            Measurement(
                f"{name}: median seconds to solve ({env_id})",
                medians[name],
                "s",
                None,
                None,
            )
        )
        report(
            f"{name:22s} solved {solved}/{len(rs)}  median {medians[name]:.1f}s  "
            f"x SB3 PPO {medians[name] / medians['sb3-ppo']:.2f}  "
            f"x reinforce-003 {medians[name] / medians['reinforce-003']:.2f}"
        )
    return out
