"""000's notebook, replayed: the author's seeded runs in numpy, call for call.

The notebook that produced 000's figures (its companion material) runs a scalar REINFORCE
agent on numpy's global random stream. It seeds that stream once, ``np.random.seed(43)``,
before R3's fixed batches; R3's four runs, then R4's and R5's continue it. :func:`seeded_replay`
replays that sequence with the notebook's operations in the notebook's order, so its final
mu and sigma can be compared with the printed ones. It uses (and restores) numpy's global
stream, as the notebook does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Settings:
    """The settings the text leaves open: the notebook's (sigma in [0.05, 5], its
    ``PSI_MIN_MAX``; the EMA baseline starting at the mean of 10 initial rewards) or, for a
    control, those this project assumed before it read the notebook."""

    psi_bounds: tuple[float, float] | None
    baseline_from_initial_rewards: bool


NOTEBOOK_SETTINGS = Settings((np.log(0.05), np.log(5.0)), True)
EARLIER_SETTINGS = Settings(None, False)  # sigma unbounded, the EMA starting at 0


def run(
    reward: Callable[[float], float], lr: float, episodes: int, settings: Settings
) -> tuple[float, float]:
    """One run of the notebook's ``run_experiment`` with N_s = 1 and the EMA baseline (weight
    0.1, clipping at norm 10), on numpy's global stream, in the notebook's order of calls."""
    mu, psi = 0.0, np.log(2.0)
    lo, hi = settings.psi_bounds or (-np.inf, np.inf)

    def sigma() -> float:
        return np.exp(np.clip(psi, lo, hi))

    baseline = 0.0
    if settings.baseline_from_initial_rewards:
        initial = [reward(np.random.normal(mu, sigma())) for _ in range(10)]
        baseline = np.mean(initial)
    for _ in range(episodes):
        w = np.random.normal(mu, sigma())
        r = reward(w)
        advantage = r - baseline
        variance = sigma() ** 2 + 1e-9
        g_mu = np.mean([(w - mu) / variance * advantage])
        g_psi = np.mean([((w - mu) ** 2 / variance - 1) * advantage])
        norm = np.sqrt(g_mu**2 + g_psi**2)
        if norm > 10.0 and norm > 0:
            g_mu *= 10.0 / norm
            g_psi *= 10.0 / norm
        mu += lr * g_mu
        psi += lr * g_psi
        psi = np.clip(psi, lo, hi)
        baseline = 0.9 * baseline + 0.1 * np.mean([r])
    return float(mu), float(sigma())


def seeded_replay(settings: Settings = NOTEBOOK_SETTINGS) -> dict[str, tuple[float, float]]:
    """The notebook's seeded sequence: seed 43, R3's batches for N_s = 1, 5, 10, 20, R3's four
    runs, then R4 (5 10^4 episodes, alpha 0.01) and R5 (alpha 0.1), by the notebook's run id.
    numpy's global stream is restored afterwards."""
    state = np.random.get_state()
    try:
        return _seeded_sequence(settings)
    finally:
        np.random.set_state(state)


def _seeded_sequence(settings: Settings) -> dict[str, tuple[float, float]]:
    w_star, threshold = 5.0, -0.125
    np.random.seed(43)
    batches = {n: np.random.normal(0, 1.0, n) for n in (1, 5, 10, 20)}
    finals = {}
    for n, batch in batches.items():

        def proxy(w, batch=batch):
            return np.mean([-0.5 * (w - (w_star + z)) ** 2 for z in batch])

        run_id = f"R3_Proxy_LR-High_BT-ema_Ns1_ProxyNs{n}_GC-10.0"
        finals[run_id] = run(proxy, 0.01, 10_000, settings)

    def sparse(w):
        return 1.0 if -0.5 * (w - w_star) ** 2 > threshold else 0.0

    def shifted(w):
        loss = -0.5 * (w - w_star) ** 2
        return loss - threshold if loss > threshold else 0.0

    finals["R4_DiscreteSparse_LR-High_BT-ema_Ns1_GC-10.0"] = run(sparse, 0.01, 50_000, settings)
    finals["R5_SparseContinuous_LR-VSparse_BT-ema_Ns1_GC-10.0"] = run(
        shifted, 0.1, 50_000, settings
    )
    return finals
