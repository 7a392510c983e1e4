"""The claim author's toolbox: what a check receives, and the whole quick-tier policy.

A check is a function ``check(ctx) -> Finding``. ``ctx`` carries the check's own generator
(seeded from the run seed, the claim id and the check's stream key), its device, and the
statistical tests bound to that generator. The quick tier (``pgtheory verify --quick``) is
decided here and nowhere else: Monte Carlo resolutions doubled (a quarter of the samples),
experiment chains halved, scaling grids untouched (a slope's interval widens fast).
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import torch

from pgtheory.montecarlo import Sampler
from pgtheory.montecarlo import derive_seed
from pgtheory.montecarlo import make_generator
from pgtheory.montecarlo import planned_mean_test
from pgtheory.montecarlo import planned_ratio_test
from pgtheory.montecarlo import planned_scaling_test
from pgtheory.stats import DEFAULT_FALSE_ALARM
from pgtheory.stats import Finding

#: Quick tier: Monte Carlo resolutions are multiplied by this (samples shrink by its square).
QUICK_RESOLUTION_SCALE = 2.0
#: Quick tier: experiments run this fraction of their chains (seeds).
QUICK_CHAIN_FRACTION = 0.5

_CHECK_SEED: ContextVar[int] = ContextVar("pgtheory_check_seed", default=0)


def active_check_seed() -> int:
    """The seed of the check running now (0 outside a check). Helpers deep inside a check
    that draw random numbers of their own (the random points of
    :func:`pgtheory.symbolic.is_zero`) take it, so ``--seed`` reaches them too."""
    return _CHECK_SEED.get()


@contextmanager
def checking(seed: int) -> Iterator[None]:
    """Within: :func:`active_check_seed` is ``seed``."""
    token = _CHECK_SEED.set(seed)
    try:
        yield
    finally:
        _CHECK_SEED.reset(token)


@dataclass
class Context:
    """What a check may use: its own generator (seeded from run seed and check id) and device.

    ``run_seed`` is the run's seed (``pgtheory verify --seed``); ``seed`` the check's own,
    derived from it. Anything random in a check (bootstraps, random points of a symbolic
    test) takes its seed from here, so ``--seed`` reaches it.
    """

    seed: int
    device: torch.device
    generator: torch.Generator
    quick: bool = False
    run_seed: int = 0

    def resolution(self, resolution: float) -> float:
        """The resolution a Monte Carlo test uses in this tier."""
        return resolution * (QUICK_RESOLUTION_SCALE if self.quick else 1.0)

    def chains(self, chains: int) -> int:
        """How many chains (seeds) an experiment runs in this tier."""
        return max(2, int(chains * QUICK_CHAIN_FRACTION)) if self.quick else chains

    def substream(self, *names: str | int) -> int:
        """A seed for one named part of this check (a bootstrap, a pair of arms), derived
        from the check's seed: stable across runs, distinct across names."""
        return derive_seed(self.seed, *map(str, names))

    def mean_test(
        self,
        sampler: Sampler,
        reference: torch.Tensor | float | Sequence[float],
        *,
        resolution: float | Sequence[float],
        false_alarm: float = DEFAULT_FALSE_ALARM,
        pilot_samples: int = 20_000,
    ) -> Finding:
        """:func:`planned_mean_test` on this check's generator; the evidence records the
        resolution actually used (doubled in the quick tier). A sampler whose samples are
        costly (a whole batch of a trainer's update) may ask for a smaller pilot."""
        res = torch.as_tensor(resolution, dtype=torch.float64) * self.resolution(1.0)
        return planned_mean_test(
            sampler,
            reference,
            generator=self.generator,
            resolution=res.tolist(),
            false_alarm=false_alarm,
            pilot_samples=pilot_samples,
        )

    def ratio_test(
        self,
        numerator: Sampler,
        denominator: Sampler,
        *,
        predicted: float = 1.0,
        alternative: str = "equal",
        resolution: float,
        false_alarm: float = DEFAULT_FALSE_ALARM,
        pilot_samples: int = 20_000,
    ) -> Finding:
        """:func:`planned_ratio_test` on this check's generator (a smaller pilot for costly
        samples, as for :meth:`mean_test`)."""
        return planned_ratio_test(
            numerator,
            denominator,
            generator=self.generator,
            predicted=predicted,
            alternative=alternative,
            resolution=self.resolution(resolution),
            false_alarm=false_alarm,
            pilot_samples=pilot_samples,
        )

    def scaling_test(
        self,
        make_sampler: Callable[[float, torch.device], Sampler],
        xs: Sequence[float],
        predicted: float,
        *,
        samples_per_point: int,
        resolution: float = 0.1,
        exact_law: bool = True,
    ) -> Finding:
        """:func:`planned_scaling_test` on this check's generator and device (the same
        in both tiers); ``samples_per_point`` is the pilot's size and the least n."""
        return planned_scaling_test(
            lambda x: make_sampler(x, self.device),
            xs,
            predicted,
            generator=self.generator,
            samples_per_point=samples_per_point,
            resolution=resolution,
            exact_law=exact_law,
        )

    def cpu_generator(self) -> torch.Generator:
        """A CPU generator on this check's seed, for exact computations on random instances."""
        return make_generator(self.seed, "cpu")
