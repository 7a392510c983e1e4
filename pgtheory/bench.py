"""``pgtheory bench``: how fast the estimators run, against the random-number limit and against
the naive per-sample loop, all measured in one run (these machines are shared and noisy, so
only ratios within a run are meaningful)."""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from dataclasses import asdict
from dataclasses import dataclass

import torch

from pgtheory.envs.finite import random_mdp
from pgtheory.envs.finite import sample_trajectories
from pgtheory.envs.finite import to_device
from pgtheory.envs.stateless import Experiment
from pgtheory.envs.stateless import simulate
from pgtheory.estimators import COMPILE_MIN_SAMPLES
from pgtheory.estimators import FUSED_CHUNK_ELEMENTS
from pgtheory.estimators import choose_kernel
from pgtheory.estimators import gaussian_score_function_moments
from pgtheory.montecarlo import make_generator
from pgtheory.policies import SoftmaxPolicy

DIMENSIONS = (1, 10, 100, 1000)
DTYPES = {"float32": torch.float32, "float64": torch.float64}


@dataclass
class Measurement:
    name: str
    value: float
    unit: str
    ratio_to_rng_limit: float | None = None
    ratio_to_naive: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def best_rate(work: Callable[[], int], repeats: int = 3) -> float:
    """Items per second of ``work`` (which returns its item count): the best of ``repeats``,
    after one warm-up, since interference only ever slows a run down."""
    work()
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        items = work()
        best = max(best, items / (time.perf_counter() - start))
    return best


def samples_for(d: int, dtype: torch.dtype, budget: float) -> int:
    """Sample counts sized to take roughly ``budget`` seconds (normals cost ~3 ns in float32)."""
    per_sample = d * (3e-9 if dtype == torch.float32 else 1.5e-8)
    return max(10_000, int(budget / per_sample))


def gaussian_estimator_rate(
    d: int, dtype: torch.dtype, n: int, device: torch.device, kernel: str = "eager"
) -> float:
    mu = torch.zeros(d, dtype=dtype, device=device)
    w_star = torch.ones(d, dtype=dtype, device=device)
    generator = make_generator(0, device)

    def work() -> int:
        gaussian_score_function_moments(mu, 0.5, w_star, n, generator, kernel=kernel)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return n

    return best_rate(work)


def random_number_limit(d: int, dtype: torch.dtype, n: int, device: torch.device) -> float:
    """Samples per second when each sample's d normals are only generated and read once,
    in the same chunks as the fused estimator."""
    chunk = max(1, FUSED_CHUNK_ELEMENTS // d)
    buffer = torch.empty(chunk, d, dtype=dtype, device=device)
    generator = make_generator(0, device)

    def work() -> int:
        for start in range(0, n, chunk):
            m = min(chunk, n - start)
            torch.randn(m, d, generator=generator, out=buffer[:m]).sum()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return n

    return best_rate(work)


def naive_rate(d: int, n: int = 500) -> float:
    """003's style: a Python loop per sample with torch.distributions and autograd."""
    mu = torch.zeros(d, requires_grad=True)
    log_sigma = torch.tensor(0.5, requires_grad=True).log().detach().requires_grad_(True)
    w_star = torch.ones(d)

    def work() -> int:
        total = torch.zeros(d + 1)
        for _ in range(n):
            dist = torch.distributions.Normal(mu, log_sigma.exp())
            w = dist.sample()
            reward = -0.5 * ((w - w_star) ** 2).sum()
            grads = torch.autograd.grad(dist.log_prob(w).sum() * reward, [mu, log_sigma])
            total += torch.cat([grads[0], grads[1].reshape(1)])
        return n

    return best_rate(work, repeats=2)


def softmax_estimator_rate(n: int, device: torch.device) -> float:
    """Score-function samples of a 10-action softmax bandit: sample, score, weight by reward."""
    policy = SoftmaxPolicy(torch.randn(1, 10, dtype=torch.float64, device=device))
    rewards = torch.linspace(-1, 1, 10, dtype=torch.float64, device=device)
    generator = make_generator(0, device)
    states = torch.zeros(n, dtype=torch.long, device=device)

    def work() -> int:
        actions = policy.sample(states, generator)
        (policy.score(states, actions) * rewards[actions][:, None, None]).mean(0)
        return n

    return best_rate(work)


def trajectory_sampler_rate(n: int, device: torch.device) -> float:
    """Environment steps per second of the finite-MDP sampler (S = 10, A = 4, H = 20)."""
    mdp = to_device(random_mdp(10, 4, 20, make_generator(0)), device)
    policy = SoftmaxPolicy(torch.zeros(10, 4, dtype=torch.float64, device=device))
    generator = make_generator(0, device)

    def work() -> int:
        sample_trajectories(mdp, policy, n, generator)
        return n * 20

    return best_rate(work)


def stateless_chain_rate(chains: int, device: torch.device) -> float:
    """Chain-steps per second of 000's simulator: R1, EMA baseline, clipping, one sample per
    update, ``chains`` runs side by side for 1000 updates."""
    experiment = Experiment(reward="R1", episodes=1000)
    generator = make_generator(0, device)

    def work() -> int:
        simulate(experiment, chains, generator)
        return chains * experiment.episodes

    return best_rate(work, repeats=2)


def peak_memory_for_a_billion_samples(device: torch.device) -> tuple[float, float]:
    """(peak resident MiB, seconds) of the fused estimator over 1e9 samples, d = 1, float32."""
    start = time.perf_counter()
    gaussian_score_function_moments(
        torch.zeros(1, device=device),
        0.5,
        torch.ones(1, device=device),
        10**9,
        make_generator(0, device),
    )
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak_kib / 1024, time.perf_counter() - start


def run_benchmarks(
    device: torch.device,
    budget: float = 0.3,
    billion: bool = True,
    compile_kernels: bool = True,
    report: Callable[[Measurement], None] | None = None,
) -> list[Measurement]:
    """Every measurement, in one process; ``report`` is called as each one is made."""
    out: list[Measurement] = []

    def add(m: Measurement) -> None:
        out.append(m)
        if report is not None:
            report(m)

    naive = naive_rate(10)
    add(
        Measurement(
            "gaussian score function, naive per-sample loop, d=10, float32",
            naive,
            "samples/s",
            None,
            1.0,
        )
    )
    for dtype_name, dtype in DTYPES.items():
        for d in DIMENSIONS:
            n = samples_for(d, dtype, budget)
            limit = random_number_limit(d, dtype, n, device)
            add(Measurement(f"random-number limit, d={d}, {dtype_name}", limit, "samples/s", 1.0))
            for kernel in ("eager", "compiled") if compile_kernels else ("eager",):
                rate = gaussian_estimator_rate(d, dtype, n, device, kernel)
                kind = f"fused {kernel}"
                if choose_kernel(d, COMPILE_MIN_SAMPLES, device) == kernel:
                    kind += " (auto's choice for long runs)"
                at_reference = d == 10 and dtype == torch.float32
                add(
                    Measurement(
                        f"gaussian score function, {kind}, d={d}, {dtype_name}",
                        rate,
                        "samples/s",
                        rate / limit,
                        rate / naive if at_reference else None,
                    )
                )
    add(
        Measurement(
            "softmax score function, 10 actions, float64",
            softmax_estimator_rate(1 << 20, device),
            "samples/s",
        )
    )
    add(
        Measurement(
            "finite-MDP trajectory sampler, S=10 A=4 H=20",
            trajectory_sampler_rate(1 << 16, device),
            "env steps/s",
        )
    )
    add(
        Measurement(
            "stateless chain simulator of 000, 4096 chains",
            stateless_chain_rate(4096, device),
            "chain-steps/s",
        )
    )
    if billion:
        peak, seconds = peak_memory_for_a_billion_samples(device)
        add(Measurement("peak resident memory, 1e9 samples streamed (d=1, float32)", peak, "MiB"))
        add(Measurement("wall clock, 1e9 samples streamed (d=1, float32)", seconds, "s"))
    return out


def verify_timings(device: torch.device, slow: bool = False) -> list[Measurement]:
    """Wall clock of ``pgtheory verify`` (``--slow`` with ``slow``): total, then per check,
    slowest first."""
    from pgtheory.verify import discover
    from pgtheory.verify import verify

    record = verify([c for c in discover() if slow or not c.slow], device=device)
    checks = sorted(
        ((r.claim.id, e.check, e.seconds) for r in record.results for e in r.evidence),
        key=lambda t: -t[2],
    )
    tier = "with the slow tier" if slow else "default tier"
    total = Measurement(
        f"pgtheory verify, {len(record.results)} claims ({tier})", record.seconds, "s"
    )
    return [total] + [
        Measurement(f"verify {cid} / {name}", seconds, "s") for cid, name, seconds in checks
    ]
