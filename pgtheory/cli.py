"""Command line: ``pgtheory verify`` and ``pgtheory list``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import gymnasium as gym
import torch
from tqdm import tqdm

from pgtheory.algos import ALGORITHMS
from pgtheory.algos.common import reward_threshold
from pgtheory.algos.evaluation import aggregate
from pgtheory.bench import Measurement, run_benchmarks, verify_timings
from pgtheory.claim import Claim, ClaimResult, discover, select
from pgtheory.distributed import init_from_environment, rank_and_world
from pgtheory.montecarlo import resolve_device
from pgtheory.report import write_report, write_results_json
from pgtheory.report.results import strict_json, write_atomically
from pgtheory.verify import verify


class UsageError(Exception):
    """A problem with what the user asked for: reported in one line, exit status 2."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pgtheory",
        description="Policy-gradient claims, verified by evidence computed at run time.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def claim_selection(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "paths", nargs="*", type=Path, help="claim files or folders (default: claims/)"
        )
        p.add_argument(
            "-k", dest="pattern", help="only claims whose id contains this (comma-separated)"
        )

    v = sub.add_parser(
        "verify", help="run the claims and write reports/index.html and results.json"
    )
    claim_selection(v)
    v.add_argument("--seed", type=int, default=0, help="run seed (default 0)")
    v.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N")
    v.add_argument(
        "--out", type=Path, default=Path("reports"), help="output folder (default reports/)"
    )
    v.add_argument(
        "--quick", action="store_true", help="quick tier: resolutions doubled, 1/4 of the samples"
    )
    v.add_argument("--slow", action="store_true", help="also run the slow claims (full trainings)")
    v.add_argument(
        "--jobs",
        type=int,
        help="run claims in this many processes (default: one per CPU core on CPU; 1 on CUDA)",
    )
    v.add_argument(
        "--rl",
        type=Path,
        nargs="+",
        default=[],
        help="pgtheory train --json files for the RL section",
    )

    ls = sub.add_parser("list", help="list the claims, their sources and expected verdicts")
    claim_selection(ls)

    b = sub.add_parser("bench", help="benchmark the estimators (default) or the RL algorithms (rl)")
    b.add_argument("target", nargs="?", choices=["estimators", "rl"], default="estimators")
    b.add_argument("--seeds", type=int, default=5, help="seeds per algorithm for 'rl' (default 5)")
    b.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda")
    b.add_argument("--json", type=Path, help="write the measurements to this JSON file")
    b.add_argument("--no-verify", action="store_true", help="skip timing pgtheory verify")
    b.add_argument("--slow", action="store_true", help="time pgtheory verify --slow")
    b.add_argument("--no-billion", action="store_true", help="skip the 1e9-sample memory run")
    b.add_argument("--no-compile", action="store_true", help="skip the torch.compile kernels")

    t = sub.add_parser("train", help="train a policy-gradient algorithm on a gymnasium environment")
    t.add_argument("algo", choices=sorted(ALGORITHMS), help="the algorithm")
    t.add_argument(
        "--env", default="CartPole-v1", help="gymnasium environment id (default CartPole-v1)"
    )
    t.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    t.add_argument(
        "--seeds", type=int, default=1, help="number of seeds: seed, seed+1, ... (default 1)"
    )
    t.add_argument("--max-steps", type=int, default=500_000, help="env-step budget per seed")
    t.add_argument(
        "--device", default="cpu", help="cpu (default; the networks are small), cuda, auto"
    )
    t.add_argument("--json", type=Path, help="write the results to this JSON file")
    return parser


def _claims(paths: Sequence[Path], pattern: str | None) -> list[Claim]:
    try:
        claims = discover(paths or None)
    except (FileNotFoundError, ImportError, ValueError, SyntaxError) as exc:
        raise UsageError(str(exc)) from exc
    chosen = select(claims, pattern)
    if not chosen:
        known = ", ".join(c.id for c in claims) or "none"
        raise UsageError(f"no claim matches {pattern!r} (known: {known})")
    return chosen


def _list(args: argparse.Namespace) -> int:
    for claim in _claims(args.paths, args.pattern):
        source = claim.sources[0]
        print(
            f"{claim.id:40s} expected {claim.expected.value:12s} {source.file} | {source.section}"
        )
        print(f"{'':40s} {claim.title}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    selected = _claims(args.paths, args.pattern)
    claims = [c for c in selected if args.slow or not c.slow]
    if skipped := len(selected) - len(claims):
        print(f"{skipped} slow claim(s) not run: add --slow to include them")
    if not claims:
        raise UsageError("every selected claim is slow: add --slow")
    try:
        device = resolve_device(args.device)
    except (RuntimeError, ValueError) as exc:
        raise UsageError(f"bad --device {args.device!r}: {exc}") from exc

    init_from_environment(device)  # under torchrun: shard Monte Carlo over the ranks
    rank, world = rank_and_world()
    if args.jobs is not None and (args.jobs < 1 or (args.jobs > 1 and world > 1)):
        raise UsageError("--jobs must be a positive integer, and 1 under torchrun")
    one_process = device.type != "cpu" or world > 1
    jobs = args.jobs or (1 if one_process else os.cpu_count() or 1)
    bar = tqdm(total=len(claims), unit="claim", disable=True if rank else None, leave=False)

    def report_progress(result: ClaimResult) -> None:
        bar.set_postfix_str(f"{result.claim.id}: {result.verdict.value}")
        bar.update()

    try:
        rl_runs = [json.loads(path.read_text()) for path in args.rl]
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(f"cannot read --rl file: {exc}") from exc
    with _one_torch_thread(device):
        record = verify(
            claims,
            seed=args.seed,
            device=device,
            quick=args.quick,
            on_result=report_progress,
            jobs=min(jobs, len(claims)),
            claim_paths=args.paths or None,
        )
    record.rl_runs = rl_runs
    bar.close()
    if rank != 0:  # every rank decided the same; rank 0 reports
        return 1 if record.unexpected or record.errors else 0
    record.environment["world_size"] = world
    record.environment["jobs"] = min(jobs, len(claims))
    try:
        write_results_json(record, args.out / "results.json")
        write_report(record, args.out / "index.html")
    except OSError as exc:
        raise UsageError(f"cannot write the report to {args.out}: {exc}") from exc

    for r in record.results:
        mark = "ok" if r.as_expected else f"EXPECTED {r.claim.expected.value.upper()}"
        print(f"{r.claim.id:40s} {r.verdict.value:13s} {r.seconds:7.2f}s  {mark}")
    print(
        f"{len(record.results)} claims in {record.seconds:.1f}s on {device}; "
        f"report: {args.out / 'index.html'}"
    )
    for r in record.errors:
        for e in r.evidence:
            if e.error:
                print(f"error in {r.claim.id} / {e.check}: {e.error}", file=sys.stderr)
    if record.unexpected or record.errors:
        print(
            f"{len(record.unexpected)} verdict(s) differ from the expected; "
            f"{len(record.errors)} claim(s) with errors",
            file=sys.stderr,
        )
        return 1
    return 0


@contextmanager
def _one_torch_thread(device: torch.device) -> Iterator[None]:
    """One intra-op thread on CPU, restored afterwards. For training: networks this small gain
    nothing from a second thread, and when the core is shared its spinning makes every
    operation many times slower. For verify: the worker processes of --jobs run one thread
    each, and a reduction's rounding depends on the thread count, so one thread everywhere
    keeps a check's numbers independent of --jobs."""
    before = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _bench(args: argparse.Namespace) -> int:
    try:
        device = resolve_device(args.device)
    except (RuntimeError, ValueError) as exc:
        raise UsageError(f"bad --device {args.device!r}: {exc}") from exc

    def show(m: Measurement) -> None:
        ratios = "".join(
            f"  {label} {value:8.3g}"
            for label, value in (
                ("x rng limit", m.ratio_to_rng_limit),
                ("x naive", m.ratio_to_naive),
            )
            if value is not None
        )
        print(f"{m.name:64s} {m.value:14,.6g} {m.unit:12s}{ratios}", flush=True)

    if args.target == "rl":
        try:
            import stable_baselines3  # noqa: F401

            from pgtheory.bench_rl import run_rl_benchmark
        except ImportError as exc:
            raise UsageError('bench rl needs Stable-Baselines3: pip install -e ".[bench]"') from exc
        with _one_torch_thread(device):
            print(f"device {device}, torch {torch.__version__}, one thread per network")
            measurements = run_rl_benchmark(args.seeds, device=device)
        if args.json:
            write_atomically(args.json, json.dumps([m.to_dict() for m in measurements], indent=2))
        return 0
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    measurements = run_benchmarks(
        device, billion=not args.no_billion, compile_kernels=not args.no_compile, report=show
    )
    if not args.no_verify:
        for m in verify_timings(device, slow=args.slow):
            show(m)
            measurements.append(m)
    if args.json:
        try:
            write_atomically(args.json, json.dumps([m.to_dict() for m in measurements], indent=2))
        except OSError as exc:
            raise UsageError(f"cannot write {args.json}: {exc}") from exc
    return 0


def _train(args: argparse.Namespace) -> int:
    try:
        reward_threshold(args.env)
    except (gym.error.Error, ValueError) as exc:
        raise UsageError(f"bad --env {args.env!r}: {exc}") from exc
    if args.seeds < 1 or args.max_steps < 1:
        raise UsageError("--seeds and --max-steps must be positive")
    try:
        device = resolve_device(args.device)
    except (RuntimeError, ValueError) as exc:
        raise UsageError(f"bad --device {args.device!r}: {exc}") from exc
    trainer = ALGORITHMS[args.algo]
    results = []
    for seed in tqdm(
        range(args.seed, args.seed + args.seeds), unit="seed", disable=None, leave=False
    ):
        try:
            with _one_torch_thread(device):
                result = trainer(args.env, seed, args.max_steps, device)
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
        results.append(result)
        solved = (
            f"solved at {result.steps_to_solve:,} steps, {result.seconds_to_solve:.1f}s"
            if result.solved
            else "not solved"
        )
        print(
            f"{args.algo} {args.env} seed {seed}: {solved}; "
            f"final evaluation {result.final_eval_return:.1f}; {result.sps:,.0f} steps/s"
        )
    summary = aggregate(results, args.max_steps)
    seconds = summary["seconds_to_solve"]
    print(
        f"solved {summary['solved_fraction']:.0%} of {len(results)} seeds; IQM seconds to solve "
        f"{seconds['iqm']:.1f} (95% CI {seconds['ci'][0]:.1f}-{seconds['ci'][1]:.1f})"
    )
    if args.json:
        document = {
            "algo": args.algo,
            "env": args.env,
            "device": str(device),
            "max_steps": args.max_steps,
            "seeds": [r.to_dict() for r in results],
            "aggregate": summary,
        }
        try:
            write_atomically(args.json, json.dumps(strict_json(document), indent=2))
        except OSError as exc:
            raise UsageError(f"cannot write {args.json}: {exc}") from exc
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        commands = {"verify": _verify, "list": _list, "train": _train, "bench": _bench}
        return commands[args.command](args)
    except UsageError as exc:
        print(f"pgtheory: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
