"""Command line: ``pgtheory verify | list | train | bench``.

Inputs and outputs are validated before any work (one line, exit 2). SIGINT and SIGTERM
stop every worker, write what finished (marked ``interrupted``) and exit 130 or 143.
Heavy modules (torch, sympy, matplotlib) are imported by the commands that need them, so
``pgtheory --help`` answers at once.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import sys
import tempfile
from collections.abc import Iterator
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

if TYPE_CHECKING:
    import torch

    from pgtheory.claim import Claim
    from pgtheory.claim import ClaimResult

#: Fewer claims than this run in this process by default: a worker's start (a fresh Python
#: importing torch and the claim modules, about 3 s here) outweighs what it saves.
SMALL_SELECTION = 8
#: Devices the Monte Carlo code runs on.
DEVICE_TYPES = ("cpu", "cuda")

CLAIMS_ARE_CODE = (
    "Claim modules are Python code: verify and list execute them. With no path given they run "
    "the claims shipped with pgtheory; any other folder only when named here."
)


class UsageError(Exception):
    """A problem with what the user asked for: reported in one line, exit status 2."""


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived; ``signum`` says which (exit status 128 + signum)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextmanager
def _interruptible() -> Iterator[list[int]]:
    """Turn SIGINT and SIGTERM into :class:`Interrupted` (once: a second signal is ignored
    while the first one's clean-up runs). Yields a list that holds the signal number, if any."""
    caught: list[int] = []

    def handler(signum: int, frame: Any) -> None:
        for s in (signal.SIGINT, signal.SIGTERM):
            signal.signal(s, signal.SIG_IGN)
        caught.append(signum)
        raise Interrupted(signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield caught
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


#: The algorithms of pgtheory train (pgtheory.algos.TRAINERS, which a test keeps in step).
ALGORITHM_NAMES = ["reinforce-003", "reinforce", "actor-critic", "ppo", "npg", "grpo"]


def _train_parsers(train: argparse.ArgumentParser) -> None:
    """One sub-command per algorithm, with the shared options and a flag per config field."""
    from pgtheory.algos import TRAINERS

    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument(
        "--env",
        default="CartPole-v1",
        help="gymnasium environment id with discrete actions and a flat Box observation "
        "(default CartPole-v1)",
    )
    shared.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    shared.add_argument(
        "--seeds", type=int, default=1, help="number of seeds: seed, seed+1, ... (default 1)"
    )
    shared.add_argument("--max-steps", type=int, default=500_000, help="env-step budget per seed")
    shared.add_argument(
        "--device", default="cpu", help="cpu (default; the networks are small), cuda, auto"
    )
    shared.add_argument("--json", type=Path, help="write the results to this JSON file")
    shared.add_argument(
        "--budget-only",
        action="store_true",
        help="run the whole --max-steps budget instead of stopping when solved",
    )
    shared.add_argument(
        "--save", type=Path, metavar="DIR", help="save each seed's policy, config and curve here"
    )
    shared.add_argument(
        "--tensorboard",
        type=Path,
        metavar="DIR",
        help="also write TensorBoard event files here (needs: pip install tensorboard)",
    )
    algos = train.add_subparsers(dest="algo", required=True, metavar="ALGO")
    for name, trainer in TRAINERS.items():
        a = algos.add_parser(name, parents=[shared], help=f"train {name}")
        if trainer.config_type is not None:
            _config_flags(a, trainer.default_config())


def _config_flags(parser: argparse.ArgumentParser, config: Any) -> None:
    """A --flag per field of the dataclass ``config``, its docstring as help."""
    import dataclasses

    group = parser.add_argument_group(f"{type(config).__name__} (defaults as shown)")
    docs = _field_docs(type(config))
    for f in dataclasses.fields(config):
        default = getattr(config, f.name)
        flag = "--" + f.name.replace("_", "-")
        text = f"{docs.get(f.name, '')} (default {default!r})"
        if isinstance(default, bool):
            group.add_argument(
                flag,
                dest=f"config_{f.name}",
                action=argparse.BooleanOptionalAction,
                default=None,
                help=text,
            )
        else:
            group.add_argument(
                flag,
                dest=f"config_{f.name}",
                type=type(default),
                metavar=f.name.upper(),
                default=None,
                help=text,
            )


def _field_docs(cls: type) -> dict[str, str]:
    """The string under each field of a dataclass (its attribute docstring), from its source."""
    import ast
    import inspect
    import textwrap

    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError):
        return {}
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    docs = {}
    for field_node, doc in itertools.pairwise(body):
        if (
            isinstance(field_node, ast.AnnAssign)
            and isinstance(field_node.target, ast.Name)
            and isinstance(doc, ast.Expr)
            and isinstance(doc.value, ast.Constant)
            and isinstance(doc.value.value, str)
        ):
            docs[field_node.target.id] = " ".join(doc.value.value.split())
    return docs


def _parser(train_flags: bool = False) -> argparse.ArgumentParser:
    from pgtheory import __version__

    parser = argparse.ArgumentParser(
        prog="pgtheory",
        description="Policy-gradient claims, verified by evidence computed at run time.",
        epilog=CLAIMS_ARE_CODE,
    )
    parser.add_argument("--version", action="version", version=f"pgtheory {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def claim_selection(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "paths",
            nargs="*",
            type=Path,
            help="claim files or folders to execute (default: the claims shipped with pgtheory)",
        )
        p.add_argument(
            "-k", dest="pattern", help="only claims whose id contains this (comma-separated)"
        )

    v = sub.add_parser(
        "verify",
        help="run the claims and write reports/index.html and results.json",
        epilog=CLAIMS_ARE_CODE,
    )
    claim_selection(v)
    v.add_argument("--seed", type=int, default=0, help="run seed (default 0)")
    v.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N")
    loud = v.add_mutually_exclusive_group()
    loud.add_argument(
        "-q", "--quiet", action="store_true", help="only the final line and errors, no progress"
    )
    loud.add_argument(
        "-v", "--verbose", action="store_true", help="also each check's outcome and numbers"
    )
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
        help="run checks in this many worker processes (default: one per CPU core on CPU, "
        f"capped at the number of claims; 1 on CUDA or for fewer than {SMALL_SELECTION} "
        "claims, where starting workers costs more than it saves). 1 runs them in this process.",
    )
    v.add_argument(
        "--check-timeout",
        type=float,
        metavar="SECONDS",
        help="time budget of every check, overriding the checks' own (default: a check's "
        "declared budget, else 600 s; 0 = none). A check that overruns is inconclusive.",
    )
    v.add_argument(
        "--rl",
        type=Path,
        nargs="+",
        default=[],
        help="pgtheory train --json files for the RL section",
    )

    c = sub.add_parser(
        "calibrate",
        help="run claims over many run seeds: how often each verdict comes out, and every "
        "negative control that fails to refute",
        epilog=CLAIMS_ARE_CODE,
    )
    claim_selection(c)
    c.add_argument("--seeds", type=int, default=20, help="number of run seeds (default 20)")
    c.add_argument("--first-seed", type=int, default=0, help="seeds start here (default 0)")
    c.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda")
    c.add_argument("--quick", action="store_true", help="the quick tier")
    c.add_argument("--slow", action="store_true", help="include the slow claims")
    c.add_argument("--jobs", type=int, help="worker processes (default: one per CPU core)")
    c.add_argument("--check-timeout", type=float, metavar="SECONDS", help="as for verify")
    c.add_argument("--json", type=Path, help="write the table to this JSON file")

    ls = sub.add_parser(
        "list", help="list the claims, their sources and expected verdicts", epilog=CLAIMS_ARE_CODE
    )
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

    t = sub.add_parser(
        "train",
        help="train a policy-gradient algorithm on a gymnasium environment",
        description="pgtheory train ALGO [options]; pgtheory train ALGO --help lists the "
        "algorithm's config fields, each a flag.",
    )
    if train_flags:
        _train_parsers(t)
    else:  # the algorithms (and torch) load only when a train command is parsed
        t.add_argument("algo", choices=ALGORITHM_NAMES, help="the algorithm")

    e = sub.add_parser("evaluate", help="run policies saved by pgtheory train --save")
    e.add_argument("folder", type=Path, help="the --save folder (one subfolder per seed)")
    e.add_argument("--episodes", type=int, default=20, help="episodes per seed (default 20)")
    e.add_argument("--seed", type=int, default=12345, help="seed of the evaluation episodes")
    return parser


# --- validation before work ------------------------------------------------------------


def _device(name: str) -> torch.device:
    import torch

    from pgtheory.montecarlo import resolve_device

    try:
        device = resolve_device(name)
    except (RuntimeError, ValueError) as exc:
        raise UsageError(f"bad --device {name!r}: {exc}") from exc
    if device.type not in DEVICE_TYPES:
        raise UsageError(f"--device {name!r} is not supported (use auto, cpu, cuda or cuda:N)")
    return torch.device(device)


def _writable_folder(path: Path, flag: str) -> None:
    if path.exists() and not path.is_dir():
        raise UsageError(f"{flag} {path} is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise UsageError(f"cannot write to {flag} {path}: {exc.strerror or exc}") from exc


def _writable_file(path: Path, flag: str) -> None:
    if path.is_dir():
        raise UsageError(f"{flag} {path} is a folder, not a file")
    _writable_folder(path.parent if str(path.parent) else Path("."), f"the folder of {flag}")


def _claims(paths: Sequence[Path], pattern: str | None) -> list[Claim]:
    from pgtheory.verify import ClaimLoadError
    from pgtheory.verify import discover
    from pgtheory.verify import select

    try:
        claims = discover(paths or None, pattern)
    except (FileNotFoundError, ClaimLoadError, ValueError) as exc:
        raise UsageError(str(exc)) from exc
    chosen = select(claims, pattern)
    if not chosen:
        known = ", ".join(c.id for c in claims) or "none"
        raise UsageError(f"no claim matches {pattern!r} (known: {known})")
    return chosen


# --- commands ----------------------------------------------------------------------------


def _list(args: argparse.Namespace) -> int:
    for claim in _claims(args.paths, args.pattern):
        source = claim.sources[0]
        print(
            f"{claim.id:40s} expected {claim.expected.value:12s} {source.file} | {source.section}"
        )
        print(f"{'':40s} {claim.title}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    _writable_folder(args.out, "--out")
    from pgtheory.runs import read_training_run

    try:
        rl_runs = [read_training_run(path).to_dict() for path in args.rl]
    except ValueError as exc:
        raise UsageError(f"bad --rl file {exc}") from exc
    if args.check_timeout is not None and args.check_timeout < 0:
        raise UsageError("--check-timeout must be >= 0 (0 = no limit)")
    if args.jobs is not None and args.jobs < 1:
        raise UsageError("--jobs must be a positive integer")
    device = _device(args.device)
    selected = _claims(args.paths, args.pattern)
    claims = [c for c in selected if args.slow or not c.slow]
    if skipped := len(selected) - len(claims):
        print(f"{skipped} slow claim(s) not run: add --slow to include them")
    if not claims:
        raise UsageError("every selected claim is slow: add --slow")

    from pgtheory.distributed import init_from_environment
    from pgtheory.distributed import rank_and_world

    init_from_environment(device)  # under torchrun: shard Monte Carlo over the ranks
    rank, world = rank_and_world()
    if args.jobs is not None and args.jobs > 1 and world > 1:
        raise UsageError("--jobs must be 1 under torchrun")
    one_process = device.type != "cpu" or world > 1 or len(claims) < SMALL_SELECTION
    jobs = min(args.jobs or (1 if one_process else os.cpu_count() or 1), os.cpu_count() or 1)
    jobs = min(jobs, len(claims))
    progress = _progress(len(claims), quiet=rank != 0 or args.quiet, verbose=args.verbose)
    from pgtheory.verify import verify

    with _one_torch_thread(device), _interruptible() as caught:
        record = verify(
            claims,
            seed=args.seed,
            device=device,
            quick=args.quick,
            on_result=progress.update,
            jobs=jobs,
            check_timeout=args.check_timeout,
            rl_runs=rl_runs,
        )
    progress.close()
    if rank != 0:  # every rank decided the same; rank 0 reports
        return 1 if record.unexpected or record.errors else 0
    status = _write_outputs(record, args.out)
    if not progress.live and not args.quiet:
        for r in record.results:
            print(_result_line(r))
            if args.verbose:
                print(_check_lines(r))
    print(
        f"{len(record.results)} claims in {record.seconds:.1f}s on {device}; "
        f"report: {args.out / 'index.html'}"
    )
    for r in record.errors:
        for e in r.errors:
            print(f"error in {r.claim.id} / {e.check}: {e.error}", file=sys.stderr)
    if record.interrupted:
        signum = caught[0] if caught else signal.SIGINT
        print(
            f"pgtheory: interrupted by {signal.Signals(signum).name}: {len(record.results)} of "
            f"{len(claims)} claims finished; the report is marked partial",
            file=sys.stderr,
        )
        return 128 + signum
    if record.unexpected or record.errors:
        print(
            f"{len(record.unexpected)} verdict(s) differ from the expected; "
            f"{len(record.errors)} claim(s) with errors",
            file=sys.stderr,
        )
        return 1
    return status


def _calibrate(args: argparse.Namespace) -> int:
    if args.seeds < 1:
        raise UsageError("--seeds must be positive")
    if args.json:
        _writable_file(args.json, "--json")
    device = _device(args.device)
    claims = [c for c in _claims(args.paths, args.pattern) if args.slow or not c.slow]
    if not claims:
        raise UsageError("every selected claim is slow: add --slow")
    cores = os.cpu_count() or 1
    jobs = min(args.jobs or (1 if device.type != "cpu" else cores), cores)
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    from pgtheory.claim import Role
    from pgtheory.claim import Verdict
    from pgtheory.report.results import write_atomically
    from pgtheory.stats import Outcome
    from pgtheory.verify import calibrate

    progress = _progress(len(claims) * len(seeds), quiet=True)
    with _one_torch_thread(device), _interruptible():
        table = calibrate(claims, seeds, device, args.quick, jobs, args.check_timeout)
    progress.close()
    rows, unstable = [], 0
    for claim in claims:
        by_seed = table[claim.id]
        counts = {v.value: sum(r.verdict == v for r in by_seed.values()) for v in Verdict}
        weak_controls = sorted(
            {
                f"{e.check} (seed {seed})"
                for seed, r in by_seed.items()
                for e in r.evidence
                if e.role == Role.NEGATIVE_CONTROL and e.outcome != Outcome.REFUTES
            }
        )
        off = {s: r.verdict.value for s, r in by_seed.items() if not r.as_expected}
        unstable += bool(off or weak_controls)
        rows.append(
            {
                "id": claim.id,
                "expected": claim.expected.value,
                "seeds": len(by_seed),
                "verdicts": {k: n for k, n in counts.items() if n},
                "unexpected": off,
                "controls_not_refuted": weak_controls,
            }
        )
        summary = ", ".join(f"{k} {n}" for k, n in counts.items() if n)
        flag = (
            ""
            if not (off or weak_controls)
            else "  <- " + "; ".join([f"seed {s}: {v}" for s, v in off.items()] + weak_controls)
        )
        print(f"{claim.id:44s} expected {claim.expected.value:12s} {summary}{flag}")
    print(f"{len(claims)} claims x {len(seeds)} seeds; {unstable} claim(s) not stable")
    if args.json:
        write_atomically(args.json, json.dumps({"seeds": seeds, "claims": rows}, indent=2))
    return 1 if unstable else 0


def _result_line(r: ClaimResult) -> str:
    if r.skipped:
        return f"{r.claim.id:40s} {'skipped':13s} {'':8s}  {r.skipped}"
    mark = "ok" if r.as_expected else f"EXPECTED {r.claim.expected.value.upper()}"
    return f"{r.claim.id:40s} {r.verdict.value:13s} {r.seconds:7.2f}s  {mark}"


def _check_lines(r: ClaimResult) -> str:
    from pgtheory.claim import describe

    return "\n".join(f"    {e.role.value:16s} {describe(e)}" for e in r.evidence)


class _progress:
    """A progress bar in a terminal; elsewhere (CI logs) one line per claim as it finishes."""

    def __init__(self, total: int, quiet: bool, verbose: bool = False) -> None:
        self.verbose = verbose
        self.live = not quiet and not sys.stdout.isatty()
        self.bar = None
        if not quiet and not self.live:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="claim", leave=False)

    def update(self, result: ClaimResult) -> None:
        if self.bar is not None:
            verdict = result.verdict.value if result.verdict else "skipped"
            self.bar.set_postfix_str(f"{result.claim.id}: {verdict}")
            self.bar.update()
        elif self.live:
            print(_result_line(result), flush=True)
            if self.verbose:
                print(_check_lines(result), flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _write_outputs(record: Any, out: Path) -> int:
    """results.json, then index.html from the same document. If the HTML cannot be rendered,
    say so, keep the JSON and remove an older index.html rather than leave it looking current.
    Returns 0, or 1 when the HTML failed."""
    from pgtheory.report import results_document
    from pgtheory.report import write_report
    from pgtheory.report import write_results_json

    document = results_document(record)
    try:
        write_results_json(document, out / "results.json")
    except OSError as exc:
        raise UsageError(f"cannot write {out / 'results.json'}: {exc}") from exc
    try:
        write_report(document, out / "index.html")
    except Exception as exc:  # a figure or template fault must not cost the results
        (out / "index.html").unlink(missing_ok=True)
        print(
            f"pgtheory: the HTML report could not be rendered ({type(exc).__name__}: {exc}); "
            f"results.json is written",
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
    import torch

    before = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _bench(args: argparse.Namespace) -> int:
    import torch

    from pgtheory.bench import Measurement
    from pgtheory.bench import run_benchmarks
    from pgtheory.bench import verify_timings
    from pgtheory.report.results import write_atomically

    if args.json:
        _writable_file(args.json, "--json")
    device = _device(args.device)

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


def _supported_env(env_id: str) -> None:
    """The trainers take discrete actions and a flat Box observation, and need a reward
    threshold to say when a run is solved: anything else is refused in one line."""
    import gymnasium as gym

    from pgtheory.algos.common import env_spec
    from pgtheory.algos.common import reward_threshold

    try:
        env_spec(env_id)
        env = gym.make(env_id)
    except (gym.error.Error, ValueError, ImportError) as exc:
        raise UsageError(f"bad --env {env_id!r}: {exc}") from exc
    action, observation = env.action_space, env.observation_space
    env.close()
    if not isinstance(action, gym.spaces.Discrete):
        raise UsageError(
            f"--env {env_id}: its actions are {type(action).__name__}; pgtheory train supports "
            "discrete actions only"
        )
    if not isinstance(observation, gym.spaces.Box) or len(observation.shape) != 1:
        raise UsageError(
            f"--env {env_id}: its observations are {observation}; pgtheory train supports a "
            "flat Box observation only"
        )
    try:
        reward_threshold(env_id)
    except ValueError as exc:
        raise UsageError(f"--env {env_id}: {exc}; pgtheory train supports only those") from exc


def _config(args: argparse.Namespace) -> Any:
    """The algorithm's default config with every flag the user gave applied."""
    import dataclasses

    from pgtheory.algos import TRAINERS

    trainer = TRAINERS[args.algo]
    if trainer.config_type is None:
        return None
    given = {
        k.removeprefix("config_"): v
        for k, v in vars(args).items()
        if k.startswith("config_") and v is not None
    }
    return dataclasses.replace(trainer.default_config(), **given)


def _run_facts(device: Any, config: Any) -> dict[str, Any]:
    """What a training run needs to be reproduced: config, versions, device, commit, command."""
    import dataclasses
    import platform

    import gymnasium
    import numpy as np
    import torch

    from pgtheory import __version__
    from pgtheory.verify import git_commit

    return {
        "config": dataclasses.asdict(config) if config is not None else None,
        "versions": {
            "pgtheory": __version__,
            "python": platform.python_version(),
            "torch": torch.__version__,
            "numpy": np.__version__,
            "gymnasium": gymnasium.__version__,
        },
        "device": str(device),
        "commit": git_commit(Path(__file__).resolve().parent),
        "command": " ".join(["pgtheory", *sys.argv[1:]]),
    }


def _save_policy(folder: Path, result: Any, env: str, config: Any) -> None:
    """``folder/seed-N/``: policy.pt (the network, observations -> action logits) and run.json
    (environment, config and the learning curve)."""
    import dataclasses

    import torch

    from pgtheory.report.results import strict_json
    from pgtheory.report.results import write_atomically

    target = folder / f"seed-{result.seed}"
    target.mkdir(parents=True, exist_ok=True)
    torch.save(result.policy, target / "policy.pt")
    record = {
        "algo": result.algo,
        "env": env,
        "seed": result.seed,
        "config": dataclasses.asdict(config) if config is not None else None,
        "result": result.to_dict(),
    }
    write_atomically(target / "run.json", json.dumps(strict_json(record), indent=2))


def _tensorboard(folder: Path, result: Any) -> None:
    """One event file per seed: the evaluation return and, where recorded, the per-update
    diagnostics, against env steps."""
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(folder / f"{result.algo}-{result.env}-seed-{result.seed}")) as w:
        for steps, seconds, score in result.curve:
            w.add_scalar("eval/return", score, steps)
            w.add_scalar("eval/seconds", seconds, steps)
        for d in result.diagnostics:
            for key, value in d.items():
                if key != "steps":
                    w.add_scalar(f"update/{key}", value, d["steps"])


def _train(args: argparse.Namespace) -> int:
    if args.seeds < 1 or args.max_steps < 1:
        raise UsageError("--seeds and --max-steps must be positive")
    if args.json:
        _writable_file(args.json, "--json")
    if args.save:
        _writable_folder(args.save, "--save")
    if args.tensorboard:
        try:
            import tensorboard  # noqa: F401
        except ImportError as exc:
            raise UsageError("--tensorboard needs TensorBoard: pip install tensorboard") from exc
        _writable_folder(args.tensorboard, "--tensorboard")
    _supported_env(args.env)
    device = _device(args.device)
    from tqdm import tqdm

    from pgtheory.algos import TRAINERS
    from pgtheory.algos.evaluation import aggregate
    from pgtheory.report.results import strict_json
    from pgtheory.report.results import write_atomically

    try:
        config = _config(args)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"bad config for {args.algo}: {exc}") from exc
    trainer = TRAINERS[args.algo].train
    results = []
    interrupted = None
    bar = tqdm(total=args.seeds, unit="seed", disable=None, leave=False)
    try:
        with _interruptible():
            for seed in range(args.seed, args.seed + args.seeds):
                try:
                    with _one_torch_thread(device):
                        result = trainer(
                            args.env,
                            seed,
                            args.max_steps,
                            device,
                            config,
                            stop_when_solved=not args.budget_only,
                        )
                except ValueError as exc:
                    raise UsageError(str(exc)) from exc
                results.append(result)
                if args.save and result.policy is not None:
                    _save_policy(args.save, result, args.env, config)
                if args.tensorboard:
                    _tensorboard(args.tensorboard, result)
                solved = (
                    f"solved at {result.steps_to_solve:,} steps, {result.seconds_to_solve:.1f}s"
                    if result.solved
                    else "not solved"
                )
                exact = (
                    f"; exact J {result.exact_returns[-1][1]:.4f} (optimal "
                    f"{result.optimal_return:.4f}, gap "
                    f"{result.optimal_return - result.exact_returns[-1][1]:.4f})"
                    if result.exact_returns and result.optimal_return is not None
                    else ""
                )
                bar.write(
                    f"{args.algo} {args.env} seed {seed}: {solved}; "
                    f"final evaluation {result.final_eval_return:.1f}{exact}; "
                    f"{result.sps:,.0f} steps/s"
                )
                sys.stdout.flush()  # a line per seed as it ends, in a CI log too
                bar.update()
    except Interrupted as exc:
        interrupted = exc.signum
    bar.close()
    if results:
        summary = aggregate(results, args.max_steps, seed=args.seed)
        seconds = summary["seconds_to_solve"]
        interval = (
            f" (95% CI {seconds['ci'][0]:.1f}-{seconds['ci'][1]:.1f})"
            if seconds["ci"]
            else " (no interval from fewer than 3 seeds)"
        )
        budget = (
            "; an unsolved seed counts at its whole run, so this is a lower bound"
            if summary["solved_fraction"] < 1
            else ""
        )
        print(
            f"solved {summary['solved_fraction']:.0%} of {len(results)} seeds; "
            f"IQM seconds to solve {seconds['iqm']:.1f}{interval}{budget}"
        )
        if args.json:
            document = {
                "algo": args.algo,
                "env": args.env,
                "device": str(device),
                "max_steps": args.max_steps,
                "interrupted": interrupted is not None,
                "seeds": [r.to_dict() for r in results],
                "aggregate": summary,
                **_run_facts(device, config),
            }
            try:
                write_atomically(args.json, json.dumps(strict_json(document), indent=2))
            except OSError as exc:
                raise UsageError(f"cannot write {args.json}: {exc}") from exc
    if interrupted is not None:
        print(
            f"pgtheory: interrupted by {signal.Signals(interrupted).name} after "
            f"{len(results)} of {args.seeds} seeds"
            + (f"; {args.json} holds them" if args.json and results else ""),
            file=sys.stderr,
        )
        return 128 + interrupted
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    """Run each saved policy of a ``train --save`` folder and print its mean return."""
    runs = sorted(args.folder.glob("seed-*/run.json"))
    if not runs:
        raise UsageError(f"no saved policy in {args.folder} (expected seed-N/run.json)")
    if args.episodes < 1:
        raise UsageError("--episodes must be positive")
    import torch

    from pgtheory.algos.common import evaluate
    from pgtheory.algos.common import sample_actions

    returns = []
    for run in runs:
        record = json.loads(run.read_text())
        # a file this tool wrote: the whole network is pickled, so only load folders you trust
        policy = torch.load(run.parent / "policy.pt", weights_only=False, map_location="cpu")
        policy.eval()

        def act(obs: torch.Tensor, policy: torch.nn.Module = policy) -> torch.Tensor:
            return sample_actions(policy(obs))[0]

        mean = evaluate(act, record["env"], args.episodes, args.seed, torch.device("cpu"))
        returns.append(mean)
        print(
            f"{record['algo']} {record['env']} seed {record['seed']}: mean return {mean:.1f} "
            f"over {args.episodes} episodes"
        )
    print(f"{len(returns)} policies; mean of their mean returns {sum(returns) / len(returns):.1f}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    words = [a for a in argv if not a.startswith("-")]
    args = _parser(train_flags=bool(words) and words[0] == "train").parse_args(argv)
    try:
        commands = {
            "verify": _verify,
            "calibrate": _calibrate,
            "list": _list,
            "train": _train,
            "evaluate": _evaluate,
            "bench": _bench,
        }
        return commands[args.command](args)
    except UsageError as exc:
        print(f"pgtheory: error: {exc}", file=sys.stderr)
        return 2
    except Interrupted as exc:  # a command without partial results to keep
        print(f"pgtheory: interrupted by {signal.Signals(exc.signum).name}", file=sys.stderr)
        return 128 + exc.signum


if __name__ == "__main__":
    sys.exit(main())
