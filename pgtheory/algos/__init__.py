"""Policy-gradient algorithms on gymnasium, each readable top to bottom in its own file.

Every trainer has the signature ``train(env_id, seed, max_steps, device, config=None,
eval_every=..., eval_episodes=..., stop_when_solved=...) -> TrainResult``.
"""

from pgtheory.algos.actor_critic import train_actor_critic
from pgtheory.algos.common import TrainResult
from pgtheory.algos.ppo import train_ppo
from pgtheory.algos.reinforce import train_grpo, train_npg, train_reinforce
from pgtheory.algos.reinforce_003 import train_reinforce_003

ALGORITHMS = {
    "reinforce-003": train_reinforce_003,
    "reinforce": train_reinforce,
    "actor-critic": train_actor_critic,
    "ppo": train_ppo,
    "npg": train_npg,
    "grpo": train_grpo,
}

__all__ = ["ALGORITHMS", "TrainResult"]
