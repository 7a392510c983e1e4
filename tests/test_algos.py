"""The RL algorithms: GAE against a hand recursion, reproducibility, masking, smoke runs."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from pgtheory.algos import ALGORITHMS
from pgtheory.algos.common import make_vector_env
from pgtheory.algos.evaluation import aggregate
from pgtheory.algos.natural import conjugate_gradient
from pgtheory.algos.natural import natural_gradient_step
from pgtheory.algos.ppo import gae
from pgtheory.algos.reinforce import ReinforceConfig
from pgtheory.cli import main
from pgtheory.stats import interquartile_mean
from pgtheory.stats import iqm_band
from pgtheory.stats import iqm_with_interval

CPU = torch.device("cpu")


def hand_gae(rewards, values, dones, last_value, gamma, lam):
    """GAE written the slow way, one environment, straight from the definition."""
    T = len(rewards)
    out = []
    for t in range(T):
        total, weight = 0.0, 1.0
        for k in range(t, T):
            next_value = last_value if k == T - 1 else values[k + 1]
            delta = rewards[k] + gamma * next_value * (1 - dones[k]) - values[k]
            total += weight * delta
            if dones[k]:
                break
            weight *= gamma * lam
        out.append(total)
    return out


@pytest.mark.parametrize("lam", [0.0, 0.8, 1.0])
def test_gae_matches_the_definition(lam):
    gen = torch.Generator().manual_seed(0)
    rewards, values = torch.randn(12, 1, generator=gen), torch.randn(12, 1, generator=gen)
    dones = torch.zeros(12, 1)
    dones[4] = dones[9] = 1.0
    last = torch.randn(1, generator=gen)
    ours = gae(rewards, values, dones, last, 0.9, lam)[:, 0]
    ref = hand_gae(
        rewards[:, 0].tolist(), values[:, 0].tolist(), dones[:, 0].tolist(), float(last), 0.9, lam
    )
    torch.testing.assert_close(ours, torch.tensor(ref), rtol=1e-5, atol=1e-5)


def test_gae_lambda_zero_is_the_td_error_and_one_the_monte_carlo_advantage():
    rewards, values = torch.tensor([[1.0], [2.0], [3.0]]), torch.tensor([[0.5], [0.2], [0.1]])
    dones, last = torch.tensor([[0.0], [0.0], [1.0]]), torch.tensor([9.0])
    td = gae(rewards, values, dones, last, 0.5, 0.0)[:, 0]
    torch.testing.assert_close(
        td, torch.tensor([1 + 0.5 * 0.2 - 0.5, 2 + 0.5 * 0.1 - 0.2, 3 - 0.1])
    )
    mc = gae(rewards, values, dones, last, 0.5, 1.0)[:, 0]
    returns = torch.tensor([1 + 0.5 * 2 + 0.25 * 3, 2 + 0.5 * 3, 3.0])
    torch.testing.assert_close(mc, returns - values[:, 0])


@pytest.mark.parametrize("algo", sorted(ALGORITHMS))
def test_every_algorithm_runs_and_is_reproducible(algo):
    train = ALGORITHMS[algo]
    a = train(
        "CartPole-v1", 3, 3_000, CPU, eval_every=1_500, eval_episodes=4, stop_when_solved=False
    )
    b = train(
        "CartPole-v1", 3, 3_000, CPU, eval_every=1_500, eval_episodes=4, stop_when_solved=False
    )
    assert a.steps >= 1_500 and a.curve
    assert [(s, r) for s, _, r in a.curve] == [(s, r) for s, _, r in b.curve]
    assert a.final_eval_return == b.final_eval_return


SWITCHES = [
    ("reinforce", {"baseline": "none"}),
    ("reinforce", {"baseline": "value"}),
    ("reinforce", {"discount_weight": True}),
    ("reinforce", {"normalise_advantages": False}),
    ("ppo", {"clip_vloss": True}),
    ("ppo", {"norm_adv": False}),
    ("actor-critic", {"discount_factor_I": False}),
]


@pytest.mark.parametrize(("algo", "switch"), SWITCHES, ids=[f"{a}-{s}" for a, s in SWITCHES])
def test_a_config_switch_is_reproducible_and_changes_the_run(algo, switch):
    """Each switch: two seeded runs are identical, and the switch changes what is learnt
    (the same seed and budget with the default config ends elsewhere)."""
    import dataclasses

    from pgtheory.algos import TRAINERS

    trainer = TRAINERS[algo]
    config = dataclasses.replace(trainer.default_config(), **switch)

    def run(cfg):
        result = trainer.train(
            "CartPole-v1",
            5,
            2_000,
            CPU,
            cfg,
            eval_every=1_000,
            eval_episodes=3,
            stop_when_solved=False,
        )
        return [p.detach().clone() for p in result.policy.parameters()]

    first, again, default = run(config), run(config), run(trainer.default_config())
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert any(not torch.equal(a, d) for a, d in zip(first, default, strict=True))


def test_a_variant_keeps_its_defining_fields_whatever_config_it_is_given():
    """npg and grpo are REINFORCE with a variant: a config passed to them keeps it."""
    from pgtheory.algos import TRAINERS

    seen = []

    def spy(env_id, seed, max_steps, device, config, **options):
        seen.append(config)

    for name in ("npg", "grpo"):
        trainer = dataclasses.replace(TRAINERS[name], function=spy)
        trainer.train("CartPole-v1", 0, 1, CPU, ReinforceConfig(learning_rate=0.5))
        trainer.train("CartPole-v1", 0, 1, CPU)
    assert [c.update for c in seen] == ["natural", "natural", "adam", "adam"]
    assert [c.baseline for c in seen[2:]] == ["group", "group"]
    assert seen[0].learning_rate == 0.5 and seen[3].num_envs == 16


def test_ppo_records_its_update_diagnostics():
    result = ALGORITHMS["ppo"](
        "CartPole-v1", 0, 2_000, CPU, eval_every=1_000, eval_episodes=2, stop_when_solved=False
    )
    assert len(result.diagnostics) >= 2
    for d in result.diagnostics:
        assert {"steps", "approx_kl", "clip_fraction", "explained_variance", "entropy"} <= set(d)
        assert d["approx_kl"] >= -1e-6 and 0 <= d["clip_fraction"] <= 1 and d["entropy"] > 0
    assert "diagnostics" in result.to_dict() and "policy" not in result.to_dict()


def test_reset_steps_are_not_counted_as_transitions():
    """REINFORCE counts exactly the steps of the episodes it learns from."""
    result = ALGORITHMS["reinforce"]("CartPole-v1", 0, 1, CPU, eval_every=10**9, eval_episodes=2)
    # one batch of 8 complete CartPole episodes: each lasts at least 8 steps and at most 500
    assert 8 * 8 <= result.steps <= 8 * 500


def test_iqm_and_aggregate():
    assert interquartile_mean([0, 1, 2, 3, 100, -100, 1, 2]) == pytest.approx(1.5)
    summary = iqm_with_interval([1.0, 2.0, 3.0, 4.0, 5.0], seed=0)
    assert summary["ci"][0] <= summary["iqm"] <= summary["ci"][1]


def test_train_cli_writes_the_json(tmp_path):
    out = tmp_path / "run.json"
    assert (
        main(["train", "reinforce", "--seeds", "2", "--max-steps", "2000", "--json", str(out)]) == 0
    )
    doc = json.loads(out.read_text())
    assert doc["algo"] == "reinforce" and doc["env"] == "CartPole-v1"
    assert [s["seed"] for s in doc["seeds"]] == [0, 1]
    for s in doc["seeds"]:
        assert {
            "seed",
            "solved",
            "steps_to_solve",
            "seconds_to_solve",
            "final_eval_return",
            "sps",
        } <= set(s)
    assert {"solved_fraction", "final_eval_return", "seconds_to_solve"} <= set(doc["aggregate"])
    report = tmp_path / "report"
    assert (
        main(["verify", "-k", "001-score-zero-mean", "--rl", str(out), "--out", str(report)]) == 0
    )
    assert "Reinforcement learning runs" in (report / "index.html").read_text()
    assert json.loads((report / "results.json").read_text())["rl"][0]["algo"] == "reinforce"


@pytest.mark.parametrize(
    "argv", [["train", "ppo", "--env", "NoSuchEnv-v0"], ["train", "ppo", "--seeds", "0"]]
)
def test_train_cli_rejects_bad_input(argv, capsys):
    assert main(argv) == 2
    assert capsys.readouterr().err.startswith("pgtheory: error:")


@pytest.mark.slow
@pytest.mark.parametrize("algo", ["ppo", "reinforce", "actor-critic", "npg", "grpo"])
def test_cartpole_is_solved_by_most_seeds(algo):
    results = [ALGORITHMS[algo]("CartPole-v1", s, 300_000, CPU) for s in range(5)]
    assert aggregate(results, 300_000)["solved_fraction"] >= 0.8


def test_conjugate_gradient_solves_a_positive_definite_system():
    gen = torch.Generator().manual_seed(0)
    m = torch.randn(6, 6, generator=gen, dtype=torch.float64)
    a, b = (
        m @ m.T + 0.5 * torch.eye(6, dtype=torch.float64),
        torch.randn(6, generator=gen, dtype=torch.float64),
    )
    torch.testing.assert_close(
        conjugate_gradient(lambda v: a @ v, b, iterations=20), torch.linalg.solve(a, b)
    )


def test_natural_step_is_fisher_inverse_gradient_with_the_kl_budget():
    """On a tabular softmax policy, F (formed explicitly from score outer products) times the
    step is parallel to the gradient, and 1/2 step^T F step equals the KL budget (002, 8.2)."""
    torch.manual_seed(0)
    n_states, n_actions = 3, 3
    policy = torch.nn.Linear(n_states, n_actions, bias=False).double()
    with torch.no_grad():  # a peaked policy, so that F is far from a multiple of the identity
        policy.weight.mul_(5.0)
    obs = torch.eye(n_states, dtype=torch.float64)
    weights = torch.ones(n_states, dtype=torch.float64)
    actions = torch.tensor([0, 2, 1])
    advantages = torch.tensor([1.0, -0.5, 2.0], dtype=torch.float64)
    before = policy.weight.detach().clone()
    objective = (policy(obs).log_softmax(-1)[range(3), actions] * advantages).mean()
    gradient = torch.autograd.grad(objective, policy.weight, retain_graph=True)[0].flatten()

    probs = policy(obs).softmax(-1).detach()
    fisher = torch.zeros(9, 9, dtype=torch.float64)
    for s in range(n_states):
        for a in range(n_actions):
            score = torch.autograd.grad(policy(obs[s]).log_softmax(-1)[a], policy.weight)[
                0
            ].flatten()
            fisher += probs[s, a] * torch.outer(score, score) / n_states

    natural_gradient_step(policy, obs, weights, objective, max_kl=1e-3, damping=0.0)
    step = (policy.weight.detach() - before).flatten()
    f_step = fisher @ step
    assert torch.nn.functional.cosine_similarity(f_step, gradient, dim=0) > 1 - 1e-8
    assert 0.5 * step @ fisher @ step == pytest.approx(1e-3, rel=1e-6)
    # and the step is not the plain gradient's direction (the check could tell them apart)
    assert torch.nn.functional.cosine_similarity(step, gradient, dim=0) < 0.95


def test_group_members_start_from_one_state():
    """GRPO's groups: copies reset with one seed per sub-environment share initial states."""
    envs = make_vector_env("CartPole-v1", 4, 0, per_env_seeds=True)
    obs, _ = envs.reset(seed=[5, 5, 7, 7])
    assert (obs[0] == obs[1]).all() and (obs[2] == obs[3]).all() and (obs[0] != obs[2]).any()
    with pytest.raises(ValueError, match="multiple"):
        ALGORITHMS["reinforce"](
            "CartPole-v1", 0, 1, CPU, ReinforceConfig(baseline="group", num_envs=6)
        )


def test_iqm_band_is_the_per_point_bootstrap_interval():
    values = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [4.0, 40.0], [100.0, 50.0]])
    iqm, low, high = iqm_band(values, seed=0)
    for column in range(2):
        single = iqm_with_interval(values[:, column], seed=0)
        assert iqm[column] == pytest.approx(single["iqm"])
        assert low[column] <= iqm[column] <= high[column]
        assert values[:, column].min() <= low[column] < high[column] <= values[:, column].max()
    one_seed = iqm_band(values[:2], seed=0)
    assert one_seed[1] is None and one_seed[2] is None  # no band from fewer than 3 seeds


def test_train_writes_tensorboard_events_or_says_what_is_missing(tmp_path, capsys):
    argv = ["train", "ppo", "--max-steps", "1500", "--tensorboard", str(tmp_path / "tb")]
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        assert main(argv) == 2
        assert "pip install tensorboard" in capsys.readouterr().err
        return
    assert main(argv) == 0
    assert list((tmp_path / "tb").glob("*/events.out.tfevents.*"))
