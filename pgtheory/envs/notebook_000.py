"""000's notebook, replayed: the author's seeded runs in numpy, call for call.

The notebook that produced 000's figures (its companion material) runs a scalar REINFORCE
agent on numpy's global random stream. It seeds that stream once, ``np.random.seed(43)``,
before R3's fixed batches; R3's four runs, then R4's and R5's continue it. :func:`seeded_replay`
replays that sequence with the notebook's draws in the notebook's order (its arithmetic in
Python floats), so its final mu and sigma can be compared with the printed ones. It uses (and
restores) numpy's global stream, as the notebook does.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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


#: The notebook's constants that its seeded sequence uses, as its source sets them (a claim that
#: reads them from the notebook at run time passes its own; see pgtheory.sources).
NOTEBOOK_CONSTANTS: dict[str, float] = {
    "TRUE_W_STAR": 5.0,
    "SPARSE_REWARD_THRESHOLD_R4R5": -0.125,
    "NOISE_SIGMA_Z_R2": 1.0,
    "CHOSEN_LR_STD_HIGH": 0.01,
    "NUM_EPISODES_STD": 10_000,
    "NUM_EPISODES_SPARSE": 50_000,
    "CHOSEN_LR_R3R4": 0.01,
    "CHOSEN_LR_R5": 0.1,
}


def run(
    reward: Callable[[float], float], lr: float, episodes: int, settings: Settings
) -> tuple[float, float]:
    """One run of the notebook's ``run_experiment`` with N_s = 1 and the EMA baseline (weight
    0.1, clipping at norm 10), on numpy's global stream: the same draws in the same order
    (10 initial rewards for the EMA, then np.random.normal(mu, sigma) once per episode), its
    arithmetic in Python floats, which agrees with the notebook's numpy arithmetic to rounding
    (about 1e-15) and runs about 20 times faster."""
    normal = np.random.normal
    lo, hi = settings.psi_bounds or (-math.inf, math.inf)
    mu, psi = 0.0, math.log(2.0)
    sigma = float(np.exp(min(max(psi, lo), hi)))
    baseline = 0.0
    if settings.baseline_from_initial_rewards:
        baseline = float(np.mean([reward(normal(mu, sigma)) for _ in range(10)]))
    for _ in range(episodes):
        w = normal(mu, sigma)
        r = reward(w)
        advantage = r - baseline
        variance = sigma * sigma + 1e-9
        d = w - mu
        g_mu = d / variance * advantage
        g_psi = (d * d / variance - 1) * advantage
        norm = math.sqrt(g_mu * g_mu + g_psi * g_psi)
        if norm > 10.0:
            g_mu *= 10.0 / norm
            g_psi *= 10.0 / norm
        mu += lr * g_mu
        psi = min(max(psi + lr * g_psi, lo), hi)
        sigma = math.exp(psi)
        baseline = 0.9 * baseline + 0.1 * r
    return mu, sigma


def seeded_replay(
    settings: Settings = NOTEBOOK_SETTINGS, constants: Mapping[str, Any] | None = None
) -> dict[str, tuple[float, float]]:
    """The notebook's seeded sequence: seed 43, R3's batches for N_s = 1, 5, 10, 20, R3's four
    runs, then R4 and R5, by the notebook's run id, with the notebook's ``constants`` (by
    default :data:`NOTEBOOK_CONSTANTS`). numpy's global stream is restored afterwards."""
    c = NOTEBOOK_CONSTANTS if constants is None else constants
    w_star, threshold = c["TRUE_W_STAR"], c["SPARSE_REWARD_THRESHOLD_R4R5"]
    state = np.random.get_state()
    try:
        np.random.seed(43)
        batches = {n: np.random.normal(0, c["NOISE_SIGMA_Z_R2"], n) for n in (1, 5, 10, 20)}
        finals = {}
        for n, batch in batches.items():
            zs = [float(z) for z in batch]

            def proxy(w: float, zs: list[float] = zs) -> float:
                return float(np.mean([-0.5 * (w - (w_star + z)) ** 2 for z in zs]))

            run_id = f"R3_Proxy_LR-High_BT-ema_Ns1_ProxyNs{n}_GC-10.0"
            finals[run_id] = run(proxy, c["CHOSEN_LR_STD_HIGH"], c["NUM_EPISODES_STD"], settings)

        def sparse(w: float) -> float:
            return 1.0 if -0.5 * (w - w_star) ** 2 > threshold else 0.0

        def shifted(w: float) -> float:
            loss = -0.5 * (w - w_star) ** 2
            return loss - threshold if loss > threshold else 0.0

        episodes = c["NUM_EPISODES_SPARSE"]
        finals["R4_DiscreteSparse_LR-High_BT-ema_Ns1_GC-10.0"] = run(
            sparse, c["CHOSEN_LR_R3R4"], episodes, settings
        )
        finals["R5_SparseContinuous_LR-VSparse_BT-ema_Ns1_GC-10.0"] = run(
            shifted, c["CHOSEN_LR_R5"], episodes, settings
        )
        return finals
    finally:
        np.random.set_state(state)
