"""Batched Monte Carlo on a torch device, chunked to bounded memory, seeded per check.

A *sampler* is a function ``sampler(n, generator) -> Tensor`` of shape ``(n, *event_shape)``
that draws ``n`` independent samples on ``generator.device`` with no Python loop per sample.
The runner calls it chunk by chunk and streams float64 moments, so memory stays bounded
whatever the sample count, and nothing synchronises with the host inside the loop.

The ``planned_*`` functions are planners: a pilot sizes the sample from the declared error
budget (the design functions of :mod:`pgtheory.stats`), fresh samples are streamed, and the
decision itself is made by the matching function of :mod:`pgtheory.stats`
(``planned_mean_test`` -> ``mean_equality_test``, ``planned_ratio_test`` ->
``log_ratio_test``, ``planned_scaling_test`` and ``planned_chain_slope_test`` ->
``log_means_slope_test``).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from collections.abc import Sequence

import numpy as np
import torch

from pgtheory.distributed import all_reduce_moments
from pgtheory.distributed import share
from pgtheory.moments import Moments
from pgtheory.stats import DEFAULT_FALSE_ALARM
from pgtheory.stats import Finding
from pgtheory.stats import Outcome
from pgtheory.stats import design_z
from pgtheory.stats import log_means_slope_test
from pgtheory.stats import log_ratio_test
from pgtheory.stats import mean_equality_test
from pgtheory.stats import min_discrepancy_detectable_by_mean_test
from pgtheory.stats import min_samples_for_mean_test
from pgtheory.stats import min_samples_for_slope_test
from pgtheory.stats import slope_test
from pgtheory.stats import undecidable

Sampler = Callable[[int, torch.Generator], torch.Tensor]

#: Elements (samples x components) per chunk: about 32 MiB of float64 per chunk.
CHUNK_ELEMENTS = 1 << 22
#: Planned sample sizes from a pilot are multiplied by this: a pilot underestimates the
#: spread of heavy-tailed quantities (squares of products of Gaussians, importance weights),
#: and an interval wider than planned makes a true statement inconclusive.
PILOT_MARGIN = 1.5


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` is CUDA when present, else CPU; anything else is passed to ``torch.device``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda requested but CUDA is not available")
    return device


def derive_seed(run_seed: int, *names: str) -> int:
    """A 63-bit seed from the run seed and names (e.g. a check id), stable across runs.

    Python's ``hash`` is salted per process, so a cryptographic digest is used instead.
    """
    key = "\x1f".join([str(run_seed), *names]).encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little") >> 1


def make_generator(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    return generator


def stream_moments(
    sampler: Sampler, n: int, generator: torch.Generator, chunk_size: int = 1 << 16
) -> Moments:
    """Moments of ``n`` samples drawn ``chunk_size`` at a time."""
    total = Moments.empty()
    for start in range(0, n, chunk_size):
        total = total.merge(Moments.of(sampler(min(chunk_size, n - start), generator)))
    return total


def sharded_moments(
    sampler: Sampler, n: int, generator: torch.Generator, chunk_size: int = 1 << 16
) -> Moments:
    """Moments of ``n`` samples in all: under torch.distributed each rank streams its share
    from its own generator and the shards are merged; in one process, :func:`stream_moments`."""
    return all_reduce_moments(stream_moments(sampler, share(n), generator, chunk_size))


def planned_mean_test(
    sampler: Sampler,
    reference: torch.Tensor | float | Sequence[float],
    *,
    generator: torch.Generator,
    resolution: float | Sequence[float],
    false_alarm: float = DEFAULT_FALSE_ALARM,
    pilot_samples: int = 20_000,
    max_samples: int = 20_000_000,
) -> Finding:
    """Decide whether the sampled quantity's mean equals ``reference``, planning n first.

    A pilot run estimates the per-sample standard deviation; ``n`` then follows from the
    declared ``false_alarm``, ``resolution`` and the inconclusive budget
    (:func:`min_samples_for_mean_test`, times :data:`PILOT_MARGIN`), capped at
    ``max_samples``. The pilot samples are discarded so that ``n`` is chosen independently of
    the samples that decide. If the cap binds, the interval may come out wider than the
    resolution and the decision is then inconclusive, never a false support.
    """
    pilot = sharded_moments(sampler, pilot_samples, generator)
    if stop := undecidable("z-test of the mean (CLT), pilot", pilot=pilot):
        return stop
    components = max(1, pilot.mean.numel())
    pilot_std = pilot.std.reshape(-1).cpu()
    res = torch.as_tensor(resolution, dtype=torch.float64).reshape(-1).expand_as(pilot_std)
    # The component that needs the most samples sets n.
    planned = max(
        math.ceil(
            PILOT_MARGIN * min_samples_for_mean_test(float(s), float(r), false_alarm, components)
        )
        for s, r in zip(pilot_std, res, strict=True)
    )
    n = min(planned, max_samples)
    chunk = max(1024, CHUNK_ELEMENTS // components)
    moments = sharded_moments(sampler, n, generator, chunk)
    finding = mean_equality_test(moments, reference, resolution=resolution, false_alarm=false_alarm)
    detectable = min_discrepancy_detectable_by_mean_test(
        float(moments.std.max()), n, false_alarm, components
    )
    plan = f"planned n={planned:,} from pilot sd up to {float(pilot_std.max()):.3g}"
    if planned > max_samples:
        plan += f", capped at {max_samples:,}"
    finding.note = "; ".join(
        s for s in (plan, f"detectable deviation up to {detectable:.3g}", finding.note) if s
    )
    finding.data["pilot_std"] = pilot_std.tolist()
    return finding


def planned_ratio_test(
    numerator: Sampler,
    denominator: Sampler,
    *,
    generator: torch.Generator,
    predicted: float = 1.0,
    alternative: str = "equal",
    resolution: float,
    false_alarm: float = DEFAULT_FALSE_ALARM,
    pilot_samples: int = 20_000,
    max_samples: int = 20_000_000,
) -> Finding:
    """:func:`log_ratio_test` of the means of two scalar samplers, with n planned per arm.

    Each arm gets ``n`` samples such that its relative standard error contributes at most
    ``resolution / (sqrt(2) z)`` with ``z = design_z(false_alarm)`` (times
    :data:`PILOT_MARGIN` in samples), so a true ratio is inconclusive with probability at most
    :data:`~pgtheory.stats.DEFAULT_INCONCLUSIVE`.
    """
    z = design_z(false_alarm)
    plans = []
    for sampler in (numerator, denominator):
        pilot = sharded_moments(sampler, pilot_samples, generator)
        if stop := undecidable("log ratio of means, pilot", pilot=pilot):
            return stop
        relative_sd = float(pilot.std) / max(abs(float(pilot.mean)), 1e-300)
        plans.append(math.ceil(PILOT_MARGIN * 2 * (z * relative_sd / resolution) ** 2))
    n_num, n_den = (max(2, min(p, max_samples)) for p in plans)
    finding = log_ratio_test(
        sharded_moments(numerator, n_num, generator),
        sharded_moments(denominator, n_den, generator),
        predicted=predicted,
        alternative=alternative,
        resolution=resolution,
        false_alarm=false_alarm,
    )
    capped = " (capped)" if max(plans) > max_samples else ""
    finding.note += f"; planned n = {plans[0]:,} / {plans[1]:,} per arm{capped}"
    return finding


def planned_scaling_test(
    make_sampler: Callable[[float], Sampler],
    xs: Sequence[float],
    predicted: float,
    *,
    generator: torch.Generator,
    samples_per_point: int,
    resolution: float = 0.1,
    false_alarm: float = 1e-4,
    max_samples_per_point: int = 2_000_000,
    exact_law: bool = True,
) -> Finding:
    """Decide ``E[sample(x)] ~ C x**predicted`` over the grid ``xs``, planning n first.

    A pilot of ``samples_per_point`` samples per point estimates each point's relative
    variance; the samples per point then follow from the declared ``false_alarm``,
    ``resolution`` and :data:`~pgtheory.stats.DEFAULT_INCONCLUSIVE`
    (:func:`~pgtheory.stats.min_samples_for_slope_test`, times :data:`PILOT_MARGIN`), at least
    the pilot's size and at most ``max_samples_per_point``. Fresh samples decide
    (:func:`~pgtheory.stats.log_means_slope_test`); the pilot's are discarded.

    ``exact_law=False`` is for a law that holds only asymptotically (``as sigma -> 0``): the
    grid's curvature is then part of the evidence, so the slope's interval comes from the
    residuals of the fit (Student's t, :func:`~pgtheory.stats.slope_test`) rather than from
    the sampling error alone, which would refute any curvature however small.
    """
    samplers = [make_sampler(float(x)) for x in xs]
    pilot = [sharded_moments(s, samples_per_point, generator) for s in samplers]
    method = "log-log least squares of Monte Carlo means, pilot"
    spread = [(float(m.mean), float(m.std)) for m in pilot]
    if stop := undecidable(method, pilot=spread):
        return stop
    if any(float(m.mean) <= 0 for m in pilot):
        return Finding(Outcome.INCONCLUSIVE, method, note="a pilot mean is not positive")
    relative = np.diag([float(m.variance) / float(m.mean) ** 2 for m in pilot])
    planned = math.ceil(
        PILOT_MARGIN * min_samples_for_slope_test(xs, relative, resolution, false_alarm)
    )
    n = min(max(planned, samples_per_point), max_samples_per_point)
    final = [sharded_moments(s, n, generator) for s in samplers]
    if not exact_law:
        finding = slope_test(
            xs,
            [float(m.mean) for m in final],
            predicted,
            resolution=resolution,
            false_alarm=false_alarm,
        )
        finding.note = f"{len(xs)} grid points x {n:,} samples (planned {planned:,})"
        return finding
    finding = log_means_slope_test(
        xs,
        [float(m.mean) for m in final],
        np.diag([float(m.variance) / n for m in final]),
        predicted,
        resolution=resolution,
        false_alarm=false_alarm,
        n=n * len(xs),
    )
    capped = f", capped at {max_samples_per_point:,}" if planned > max_samples_per_point else ""
    finding.note = "; ".join(
        t
        for t in (
            f"{len(xs)} grid points x {n:,} samples (planned {planned:,}{capped})",
            finding.note,
        )
        if t
    )
    finding.data["planned_per_point"] = planned
    return finding


def planned_chain_slope_test(
    draw: Callable[[int], np.ndarray],
    xs: Sequence[float],
    predicted: float,
    *,
    resolution: float,
    false_alarm: float = 1e-4,
    independent_points: bool = False,
    pilot_chains: int = 64,
    max_chains: int = 8192,
) -> Finding:
    """The exponent of ``E[Y(x)] ~ C x**predicted`` from simulated chains, planning the number
    of chains first. ``draw(k)`` returns a (k chains x len(xs)) array, one value per chain and
    grid point, on the check's own generator: the same chains at every point (their
    covariance across points is used) or, with ``independent_points``, separate ones. A pilot
    of ``pilot_chains`` plans the chains (as :func:`planned_scaling_test` plans samples);
    fresh chains decide."""
    method = "log-log least squares of chain means, pilot"
    pilot = np.asarray(draw(pilot_chains), float)
    if stop := undecidable(method, pilot=pilot):
        return stop
    means = pilot.mean(0)
    if (means <= 0).any():
        return Finding(Outcome.INCONCLUSIVE, method, note="a pilot mean is not positive")
    covariance = np.cov(pilot, rowvar=False)
    if independent_points:
        covariance = np.diag(np.diag(covariance))
    planned = math.ceil(
        PILOT_MARGIN
        * min_samples_for_slope_test(
            xs, covariance / np.outer(means, means), resolution, false_alarm
        )
    )
    chains = min(max(planned, pilot_chains), max_chains)
    values = np.asarray(draw(chains), float)
    covariance = np.cov(values, rowvar=False) / chains
    if independent_points:
        covariance = np.diag(np.diag(covariance))
    finding = log_means_slope_test(
        xs,
        values.mean(0),
        covariance,
        predicted,
        resolution=resolution,
        false_alarm=false_alarm,
        n=chains,
    )
    capped = f", capped at {max_chains:,}" if planned > max_chains else ""
    finding.note = "; ".join(
        t for t in (f"{chains:,} chains (planned {planned:,}{capped})", finding.note) if t
    )
    finding.data["planned_chains"] = planned
    return finding
