"""003: statements about the training code: loss scaling and learning rates, dropout at
inference, and the log_softmax alternative for the Pong network."""

import json
import warnings
from pathlib import Path

import torch
from torch import nn

from pgtheory.claim import Claim
from pgtheory.claim import Kind
from pgtheory.claim import Severity
from pgtheory.claim import Slip
from pgtheory.claim import SlipKind
from pgtheory.claim import Source
from pgtheory.claim import Verdict
from pgtheory.claim import beyond_conditions
from pgtheory.claim import check
from pgtheory.claim import effect
from pgtheory.claim import negative_control
from pgtheory.context import Context
from pgtheory.stats import Finding
from pgtheory.stats import effect_size
from pgtheory.stats import exact_comparison
from pgtheory.stats import exact_properties

BATCH_SIZE, LEARNING_RATE, STEPS = 64, 0.01, 20

# --- 003-batchsize-division-equals-smaller-lr ---------------------------------------------------


def _small_network() -> nn.Module:
    return nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 1)).double()


def train_small_network(
    optimiser_name: str, loss_divisor: float, lr: float, seed: int
) -> torch.Tensor:
    """20 steps on a fixed regression problem; returns the final parameters (flattened)."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(256, 4, generator=gen, dtype=torch.float64)
    y = torch.randn(256, 1, generator=gen, dtype=torch.float64)
    torch.manual_seed(seed)
    net = _small_network()
    optimiser = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}[optimiser_name](
        net.parameters(), lr=lr
    )
    for _ in range(STEPS):
        loss = ((net(x) - y) ** 2).sum() / loss_divisor
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return torch.cat([p.detach().flatten() for p in net.parameters()])


def division_equals_smaller_lr(optimiser_name: str, smaller_lr: float):
    """Loss / batch_size with lr, against the undivided loss with ``smaller_lr``."""

    def run(ctx: Context) -> Finding:
        divided = train_small_network(optimiser_name, BATCH_SIZE, LEARNING_RATE, ctx.seed % 2**31)
        smaller = train_small_network(optimiser_name, 1.0, smaller_lr, ctx.seed % 2**31)
        return exact_comparison(
            divided,
            smaller,
            tolerance=1e-10,
            method=f"{STEPS} {optimiser_name} steps, parameters compared",
        )

    return run


def adam_step_ratio_effect(ctx: Context) -> Finding:
    """With Adam (003's optimiser): how far the parameters move with loss / 64 at lr 0.01,
    over how far with the undivided loss at lr 0.01 / 64 (20 steps), minus one."""
    seed = ctx.seed % 2**31
    torch.manual_seed(seed)  # the network train_small_network starts from
    start = torch.cat([q.detach().flatten() for q in _small_network().parameters()])
    divided = train_small_network("adam", BATCH_SIZE, LEARNING_RATE, seed)
    smaller = train_small_network("adam", 1.0, LEARNING_RATE / BATCH_SIZE, seed)
    return effect_size(
        float((divided - start).norm() / (smaller - start).norm() - 1),
        measure="distance moved (loss / B, lr) / distance moved (loss, lr / B) - 1",
        setting=f"Adam, B = {BATCH_SIZE} and lr {LEARNING_RATE} (003's Pong settings), "
        f"{STEPS} steps of a 4-16-1 network",
    )


BATCHSIZE_DIVISION = Claim(
    id="003-batchsize-division-equals-smaller-lr",
    title="Dividing the loss by the batch size is equivalent to a smaller learning rate",
    statement=r"\nabla (L / B) \text{ with step } \alpha \ \equiv\ \nabla L \text{ with step } \alpha / B",
    sources=(
        Source(
            "003",
            "Calculating loss and backpropagation. That is the core learning step.",
            "equivalent to using a smaller learning rate",
        ),
    ),
    conditions="Left out by the document: the optimiser must be plain SGD (no momentum "
    "normalisation). 003 itself recommends Adam, which divides by a running gradient scale.",
    expected=Verdict.CONDITIONAL,
    severity=Severity.MISSING_CONDITION,
    reading="For SGD, (alpha/B) grad L = alpha grad (L/B) exactly. Adam's update is invariant to "
    "the scale of the loss (up to eps), so dividing by B changes almost nothing, while lr/B "
    "shrinks every step B-fold: the two are not equivalent with the optimiser 003 uses.",
    checks=(
        check(
            "SGD: loss / 64 with lr 0.01 against loss with lr 0.01/64",
            Kind.EXACT,
            division_equals_smaller_lr("sgd", LEARNING_RATE / BATCH_SIZE),
        ),
        beyond_conditions(
            "Adam: loss / 64 with lr 0.01 against loss with lr 0.01/64",
            Kind.EXACT,
            division_equals_smaller_lr("adam", LEARNING_RATE / BATCH_SIZE),
        ),
        negative_control(
            "SGD against lr 0.01/64^2",
            Kind.EXACT,
            division_equals_smaller_lr("sgd", LEARNING_RATE / BATCH_SIZE**2),
            slip=Slip("lr/B^2 where lr/B belongs", SlipKind.EXPONENT),
        ),
        effect(
            "Adam: distance moved, loss / 64 against lr / 64, minus one (exact)",
            Kind.EXACT,
            adam_step_ratio_effect,
        ),
    ),
)

# --- 003-dropout-inference-scaling ---------------------------------------------------------------

P_DROP = 0.5


def dropout_at_inference(expected_factor: float):
    """torch.nn.Dropout(0.5) in eval mode against ``expected_factor`` times its input."""

    def run(ctx: Context) -> Finding:
        x = torch.randn(1000, generator=ctx.cpu_generator(), dtype=torch.float64)
        layer = nn.Dropout(P_DROP).eval()
        return exact_comparison(
            layer(x), expected_factor * x, method="eval-mode output against a scaled input"
        )

    return run


def dropout_scales_in_training(ctx: Context) -> Finding:
    """MC through torch's own nn.Dropout(0.5) in training mode: E[output] = input, because the
    kept units are scaled by 1/(1 - p) while training, leaving nothing to scale at inference."""
    x = torch.linspace(-2, 2, 8, dtype=torch.float64, device=ctx.device)
    layer = nn.Dropout(P_DROP).train()

    def sampler(n: int, gen: torch.Generator) -> torch.Tensor:
        # nn.Dropout draws from torch's global generator: seed it from this check's stream
        torch.manual_seed(int(torch.randint(2**62, (1,), generator=gen, device=gen.device)))
        return layer(x.expand(n, 8))

    return ctx.mean_test(sampler, x.cpu(), resolution=0.02)


class _CartPoleNetwork(nn.Module):
    """003's CartPole PolicyNetwork (block 0): 4-128-2, dropout between layer1 and its ReLU."""

    def __init__(self) -> None:
        super().__init__()
        self.layer1, self.layer2 = nn.Linear(4, 128), nn.Linear(128, 2)
        self.dropout = nn.Dropout(P_DROP)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer2(torch.relu(self.dropout(self.layer1(x))))


def _cartpole_network(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return _CartPoleNetwork().double()


def _cartpole_states(ctx: Context, n: int = 256) -> torch.Tensor:
    """CartPole-like observations: position, velocity, angle, angular velocity."""
    scale = torch.tensor([1.0, 1.0, 0.1, 1.0], dtype=torch.float64)
    return scale * torch.randn(n, 4, generator=ctx.cpu_generator(), dtype=torch.float64)


def dropout_scaling_effect(ctx: Context) -> Finding:
    """Following the text with torch's inverted dropout (scale the first layer's weights by
    1 - p at inference): |logits changed| / |logits| on 003's network."""
    net = _cartpole_network(ctx.seed % 2**31).eval()
    x = _cartpole_states(ctx)
    with torch.no_grad():
        right = net(x)
        net.layer1.weight.mul_(1 - P_DROP)
        net.layer1.bias.mul_(1 - P_DROP)
        scaled = net(x)
    return effect_size(
        float((scaled - right).norm() / right.norm()),
        measure="|logits (weights scaled by 1 - p) - logits| / |logits|",
        setting="003's CartPole network at initialisation, dropout 0.5, 256 CartPole-like states",
    )


DROPOUT_INFERENCE = Claim(
    id="003-dropout-inference-scaling",
    title="At inference dropout is turned off and the weights are scaled",
    statement=r"\text{eval: } y = (1-p)\,W x \text{ (weights scaled)},\quad \text{train: } y = W (m \odot x)",
    sources=(
        Source(
            "003",
            "The Policy Network",
            "At inference (test time), dropout is turned off, and weights are scaled to reflect full capacity.",
        ),
    ),
    conditions="PyTorch's nn.Dropout, which the document's network uses.",
    expected=Verdict.REFUTED,
    severity=Severity.WRONG,
    reading="That is the original (Srivastava et al.) convention. PyTorch uses inverted dropout: "
    "kept units are scaled by 1/(1 - p) during training and nothing is scaled at inference. The "
    "expected activations agree either way. Note also that 003's program acts with dropout on "
    "(policy.train() in forward_pass), so the 'inference' network is never the acting one.",
    checks=(
        check(
            "eval mode scales by 1 - p = 0.5 (exact)", Kind.EXACT, dropout_at_inference(1 - P_DROP)
        ),
        check(
            "corrected: eval mode is the identity (exact)", Kind.EXACT, dropout_at_inference(1.0)
        ),
        check(
            "corrected: training mode keeps E[output] = input (MC)",
            Kind.MONTE_CARLO,
            dropout_scales_in_training,
        ),
        negative_control(
            "eval mode doubles its input (exact)",
            Kind.EXACT,
            dropout_at_inference(2.0),
            slip=Slip("scaling at evaluation where torch scales in training", SlipKind.WRONG_TERM),
        ),
        effect(
            "003's network: logits with weights scaled at inference (exact)",
            Kind.EXACT,
            dropout_scaling_effect,
        ),
    ),
)

# --- 003-log-softmax-alt-pong --------------------------------------------------------------------


def pong_log_prob_alternative(two_logits: bool):
    """The printed alternative: log_softmax over the model's outputs, gathered at the action,
    for 003's Pong network (one sigmoid output, P(UP)), against the Bernoulli log-probability.
    ``two_logits`` (the fix): feed log_softmax the two logits [0, logit(p)] instead."""

    def run(ctx: Context) -> Finding:
        gen = ctx.cpu_generator()
        model_preds = (
            torch.rand(32, 1, generator=gen, dtype=torch.float64) * 0.98 + 0.01
        )  # sigmoid outputs
        targets = (torch.rand(32, generator=gen) < 0.5).long()
        if two_logits:
            p = model_preds.squeeze(1)
            model_preds = torch.stack([torch.zeros_like(p), torch.log(p) - torch.log1p(-p)], 1)
            bernoulli = torch.distributions.Bernoulli(probs=p).log_prob(targets.double())
        else:
            bernoulli = torch.distributions.Bernoulli(probs=model_preds.squeeze(1)).log_prob(
                targets.double()
            )
            targets = torch.zeros_like(targets)  # gather needs an index < 1 on a width-1 output
        log_probs = torch.log_softmax(model_preds, dim=-1)
        log_prob_actions = log_probs.gather(1, targets.unsqueeze(1)).squeeze(1)
        return exact_comparison(
            log_prob_actions,
            bernoulli,
            method="printed alternative against Bernoulli(p).log_prob(a)",
        )

    return run


LOG_SOFTMAX_ALT_PONG = Claim(
    id="003-log-softmax-alt-pong",
    title="For the Pong network, log_softmax + gather is an alternative to BCE",
    statement=r"\texttt{log\_softmax(model\_preds, -1).gather(1, a)} = \log \pi(a|s) \text{ for the sigmoid Pong network}",
    sources=(
        Source(
            "003",
            "Calculating loss and backpropagation. That is the core learning step.",
            "We could also do as in Cartpole:",
        ),
    ),
    conditions="003's Pong network, which outputs one sigmoid probability per observation.",
    expected=Verdict.REFUTED,
    severity=Severity.WRONG,
    reading="log_softmax over a width-1 output is identically 0, so every log-probability is 0 "
    "and the gradient vanishes; gathering action 1 is out of range, and float targets (as the "
    "Pong code builds them) are rejected by gather. It works with two logits [0, logit(p)].",
    checks=(
        check(
            "printed alternative on the one-output network (exact)",
            Kind.EXACT,
            pong_log_prob_alternative(False),
        ),
        check(
            "corrected: two logits [0, logit(p)] (exact)",
            Kind.EXACT,
            pong_log_prob_alternative(True),
        ),
        negative_control(
            "Bernoulli log-probability of the other action (exact)",
            Kind.EXACT,
            lambda ctx: _other_action(ctx),
            slip=Slip("the Bernoulli log-probability of the other action", SlipKind.WRONG_TERM),
        ),
        effect(
            "gradient lost on 003's Pong network (exact)",
            Kind.EXACT,
            lambda ctx: pong_gradient_effect(ctx),
        ),
    ),
)


def pong_gradient_effect(ctx: Context) -> Finding:
    """|grad of the printed alternative loss - grad of the BCE loss| / |grad of BCE| on 003's
    Pong network (6400-200-1, sigmoid), a batch of sparse difference frames, action 0."""
    gen = ctx.cpu_generator()
    torch.manual_seed(ctx.seed % 2**31)
    net = nn.Sequential(
        nn.Linear(6400, 200, bias=False),
        nn.LeakyReLU(),
        nn.Linear(200, 1, bias=False),
        nn.Sigmoid(),
    )
    frames = torch.randint(-1, 2, (16, 6400), generator=gen).float() * (
        torch.rand(16, 6400, generator=gen) < 0.02
    )
    returns = torch.randn(16, generator=gen)
    targets = torch.zeros(16, dtype=torch.long)  # the only index gather accepts on one output

    def gradient(loss: torch.Tensor) -> torch.Tensor:
        params = list(net.parameters())
        grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
        return torch.cat(
            [
                (torch.zeros_like(p) if g is None else g).flatten()
                for p, g in zip(params, grads, strict=True)
            ]
        )

    preds = net(frames)
    log_probs = torch.log_softmax(preds, dim=-1).gather(1, targets.unsqueeze(1)).squeeze(1)
    printed = gradient(-(returns * log_probs).sum())
    bce = nn.BCELoss(reduction="none")(preds.squeeze(-1), targets.float())
    right = gradient((bce * returns).sum())
    return effect_size(
        float((printed - right).norm() / right.norm()),
        measure="|grad (printed alternative) - grad (BCE)| / |grad (BCE)|",
        setting="003's Pong network (6400-200-1) at initialisation, 16 sparse difference frames",
    )


def _other_action(ctx: Context) -> Finding:
    gen = ctx.cpu_generator()
    p = torch.rand(32, generator=gen, dtype=torch.float64) * 0.98 + 0.01
    a = (torch.rand(32, generator=gen) < 0.5).double()
    bernoulli = torch.distributions.Bernoulli(probs=p)
    return exact_comparison(bernoulli.log_prob(1 - a), bernoulli.log_prob(a))


# --- 003-reinforce-cartpole-solves (slow: many runs of the program) -----------------------------

#: The design, fixed before any run: 60 runs, false alarm 0.01 (two-sided Clopper-Pearson),
#: and the smallest success probability the check must tell from 1/2 is 0.75.
PROGRAM_SEEDS, PROGRAM_FALSE_ALARM, PROGRAM_DETECTS = 60, 0.01, 0.75


def _run_seeds(seeds: range, sign_slip: bool) -> list:
    """The faithful program on every seed in parallel processes, or with the loss's sign
    flipped (the program's ``return_sign`` knob, which exists for this control)."""
    from pgtheory.algos.reinforce_003 import run_program_003_seeds

    return run_program_003_seeds(seeds, return_sign=-1.0 if sign_slip else 1.0)


def program_success(sign_slip: bool):
    """Run 003's CartPole program (pgtheory.algos.reinforce_003, faithful to the printed code)
    on 60 seeds in parallel processes; a run succeeds when the mean of its last 25 episode
    returns reaches 475 within 500 episodes. Decide whether the success probability exceeds
    1/2. The control runs the same program with the loss's sign flipped."""

    def run(ctx: Context) -> Finding:
        from pgtheory.stats import proportion_test
        from pgtheory.stats import proportion_test_power

        first = ctx.seed % 10_000
        runs = _run_seeds(range(first, first + PROGRAM_SEEDS), sign_slip)
        solved = sorted(r.solved_at_episode for r in runs if r.solved_at_episode is not None)
        finding = proportion_test(len(solved), len(runs), 0.5, false_alarm=PROGRAM_FALSE_ALARM)
        power = proportion_test_power(
            PROGRAM_SEEDS, 0.5, PROGRAM_DETECTS, false_alarm=PROGRAM_FALSE_ALARM
        )
        median = f"; median episodes to solve {solved[len(solved) // 2]}" if solved else ""
        finding.note = (
            f"{len(solved)} of {len(runs)} runs reached the threshold within 500 episodes"
            f"{median} (power {power:.2f} at a success probability of {PROGRAM_DETECTS})"
        )
        return finding

    return run


CARTPOLE_SOLVES = Claim(
    id="003-reinforce-cartpole-solves",
    title="003's program reaches a 25-episode mean of 475 on CartPole-v1 within 500 episodes",
    statement=r"\Pr\big[\text{mean of the last 25 returns} \ge 475 \text{ within 500 episodes}\big] > 1/2",
    sources=(
        Source(
            "003",
            "Training Loop",
            "When the mean return for episodes is good enough, you can consider the agent trained.",
        ),
    ),
    conditions="The printed program and hyperparameters; 'reaches' read as: in most runs.",
    expected=Verdict.CONFIRMED,
    reading="Measured over 60 seeds of the faithful program (dropout active while acting).",
    checks=(
        # 60 program runs: about 15 minutes on 2 cores, so a budget well above the default
        check(
            "success in most of 60 runs (experiment)",
            Kind.EXPERIMENT,
            program_success(sign_slip=False),
            timeout=3 * 3600,
        ),
        negative_control(
            "the program with the loss's sign flipped (experiment)",
            Kind.EXPERIMENT,
            program_success(sign_slip=True),
            timeout=3 * 3600,
            slip=Slip("update_policy's loss without its minus sign (descent on J)", SlipKind.SIGN),
        ),
    ),
    slow=True,
)

# --- 003-code-runs-as-printed ---------------------------------------------------------------------

CODE = json.loads(
    (Path(__file__).parent / "data" / "003_code_blocks.json").read_text(encoding="utf-8")
)
BLOCKS = [b["code"] for b in CODE["blocks"]]
#: The CartPole program, block by block in the document's order (the Pong blocks redefine
#: PolicyNetwork and are a separate program).
CARTPOLE_PROGRAM = [0, 3, 4, 5, 9, 13, 15, 16]
PRELUDE = """
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
import torch.distributions as distributions
import gymnasium as gym
env = gym.make("CartPole-v1")
"""


def run_blocks(blocks: list[str], namespace: dict, probe: str | None = None) -> list[str]:
    """Execute each block in one namespace (like cells of a notebook); return the failures as
    'block i, line n: ErrorType: message'. ``probe`` runs after the blocks (e.g. a forward pass)."""
    failures = []
    warnings.simplefilter("ignore")  # the document's code triggers torch's copy-construct warning
    for index, code in [*blocks, ("probe", probe)] if probe else blocks:
        try:
            exec(compile(code, f"<003 block {index}>", "exec"), namespace)
        except Exception as exc:
            line = getattr(exc, "lineno", None) or (
                exc.__traceback__.tb_next.tb_lineno
                if exc.__traceback__ and exc.__traceback__.tb_next
                else "?"
            )
            failures.append(f"block {index}, line {line}: {type(exc).__name__}: {exc}")
    return failures


def program_runs(
    blocks: list[tuple], probe: str | None = None, patch: dict[int, tuple[str, str]] | None = None
):
    """Run ``blocks`` (pairs of (index, code)) as printed; supports if nothing raises.
    ``patch`` maps a block index to (old, new) text replacements (for the corrected program)."""

    def run(ctx: Context) -> Finding:
        torch.manual_seed(ctx.seed % 2**31)
        namespace: dict = {}
        exec(PRELUDE, namespace)
        program = []
        for index, code in blocks:
            if patch and index in patch:
                code = code.replace(*patch[index])
            program.append((index, code))
        failures = run_blocks(program, namespace, probe)
        return exact_properties(
            failures,
            method="blocks executed in order in one namespace",
            checked=f"all {len(program)} block(s) ran",
            n=len(program),
        )

    return run


def blocks_of(indices: list[int]) -> list[tuple]:
    return [(i, BLOCKS[i]) for i in indices]


#: What the surrounding Pong code would have built before the batching block.
PONG_BATCH_INPUTS = "observations = [torch.zeros(4)]; rewards = [1.0]; gt_labels = [1.0]; discount_factor = 0.99; device = 'cpu'"
#: 003's loop with MAX_EPOCHS shortened to 3 episodes so that a run takes seconds.
SHORT_RUN = (13, ("MAX_EPOCHS = 500", "MAX_EPOCHS = 3"))
FIXED_INDENT = (16, ("         print(f'Reached", "        print(f'Reached"))

#: What the surrounding Pong program would have defined before blocks 6, 7 and 11 (003 prints
#: only fragments): a stand-in preprocessing, a stand-in model and an environment whose step
#: ends the episode, so that every line of the blocks is reached.
PONG_CONTEXT = {
    6: "D = 6400; device = 'cpu'; prev_observation = None; observation = np.zeros((210, 160, 3))\n"
    "def image_preprocess(obs, device=None):\n    return torch.zeros(D)",
    7: "class _PongStub:\n    def step(self, action):\n        return np.zeros((210, 160, 3)), 1.0, True, False, {}\n"
    "env = _PongStub(); model = lambda x: torch.sigmoid(x.sum(-1, keepdim=True))\n"
    "input_observation = torch.zeros(6400); observations, gt_labels, rewards = [], [], []\n"
    "cumulative_return, episode_number, batch_mean_reward = 0.0, 0, []",
    11: "model = nn.Sequential(nn.Linear(6400, 1), nn.Sigmoid()); batch_size = 64\n"
    "inputs = torch.zeros(8, 6400); targets = torch.ones(8); stepwise_returns = torch.randn(8)",
}
#: The names the fragments use but never define, replaced by the ones they define.
PONG_NAME_FIXES = {
    6: ("cur_observation", "current_observation"),
    7: ("reward_sum", "cumulative_return"),
    11: ("weighted_loss.backward()", "loss.backward()"),
}


def pong_fragment(index: int) -> list[tuple]:
    return [(f"context of {index}", PONG_CONTEXT[index]), (index, BLOCKS[index])]


PRINTED_PROGRAMS = {
    "CartPole program": (blocks_of(CARTPOLE_PROGRAM), None, dict([SHORT_RUN])),
    "Pong network": (blocks_of([1]), "PolicyNetwork()(torch.zeros(1, 6400))", None),
    "Pong batching": ([(3, BLOCKS[3]), ("setup", PONG_BATCH_INPUTS), (8, BLOCKS[8])], None, None),
    **{f"Pong block {i}": (pong_fragment(i), None, None) for i in (6, 7, 11)},
}


def failing_blocks_effect(ctx: Context) -> Finding:
    """Share of 003's executed code blocks that raise when run as printed."""
    tested, failing = set(), set()
    for blocks, probe, patch in PRINTED_PROGRAMS.values():
        namespace: dict = {}
        exec(PRELUDE, namespace)
        program = [(i, c.replace(*patch[i]) if patch and i in patch else c) for i, c in blocks]
        tested |= {i for i, _ in program if isinstance(i, int)}
        for failure in run_blocks(program, namespace, probe):
            index = failure.split(",")[0].removeprefix("block ")
            failing.add(int(index) if index.isdigit() else program[-1][0])
    return effect_size(
        len(failing) / len(tested),
        measure="share of executed code blocks that raise as printed",
        setting=f"{len(tested)} of 003's code blocks (CartPole program, Pong fragments with "
        "the context they leave out)",
    )


CODE_RUNS = Claim(
    id="003-code-runs-as-printed",
    title="The code blocks of 003 run as printed",
    statement=r"\text{each code block of 003, pasted in order, executes}",
    sources=(
        Source(
            "003",
            "PyTorch Implementation of REINFORCE for Cartpole and Pong",
            "PyTorch Implementation of REINFORCE",
        ),
    ),
    conditions="The blocks as printed, with the imports they use; the CartPole program's blocks run "
    "in the document's order in one namespace; the Pong blocks with the CartPole helpers defined, "
    "and the Pong fragments (blocks 6, 7, 11) with stand-ins for the context 003 does not print.",
    expected=Verdict.REFUTED,
    severity=Severity.ERRATUM,
    reading="The CartPole training loop does not parse: its print line is indented one space "
    "more than the break that follows (IndentationError). The Pong network defines layer1 and "
    "layer2 but calls self.linear1 (AttributeError). The Pong batching calls "
    "calculate_stepwise_returns(..., device=device), a keyword the printed function does not "
    "take (TypeError). The Pong fragments use names they never define: block 6 assigns "
    "current_observation and reads cur_observation, block 7 appends reward_sum where it "
    "accumulates cumulative_return, block 11 builds loss and calls weighted_loss.backward() "
    "(NameError). With the indentation fixed the CartPole program runs, and with those names "
    "replaced the Pong fragments run.",
    checks=(
        check(
            "CartPole program, blocks in order (exec)",
            Kind.EXACT,
            program_runs(blocks_of(CARTPOLE_PROGRAM), patch=dict([SHORT_RUN])),
        ),
        check(
            "Pong network: construct and forward one frame (exec)",
            Kind.EXACT,
            program_runs(blocks_of([1]), probe="PolicyNetwork()(torch.zeros(1, 6400))"),
        ),
        check(
            "Pong batching with the CartPole returns helper (exec)",
            Kind.EXACT,
            program_runs([(3, BLOCKS[3]), ("setup", PONG_BATCH_INPUTS), (8, BLOCKS[8])]),
        ),
        *(
            check(
                f"Pong block {i} with the context it leaves out (exec)",
                Kind.EXACT,
                program_runs(pong_fragment(i)),
            )
            for i in (6, 7, 11)
        ),
        check(
            "corrected: Pong blocks 6, 7 and 11 with their undefined names replaced (exec)",
            Kind.EXACT,
            program_runs(
                [item for i in (6, 7, 11) for item in pong_fragment(i)], patch=PONG_NAME_FIXES
            ),
        ),
        check(
            "corrected: CartPole program with the print line re-indented (exec)",
            Kind.EXACT,
            program_runs(blocks_of(CARTPOLE_PROGRAM), patch=dict([SHORT_RUN, FIXED_INDENT])),
        ),
        negative_control(
            "corrected program with an undefined name injected (exec)",
            Kind.EXACT,
            program_runs(
                [*blocks_of(CARTPOLE_PROGRAM), ("broken", "undefined_name_in_control")],
                patch=dict([SHORT_RUN, FIXED_INDENT]),
            ),
            slip=Slip("an undefined name in the corrected program", SlipKind.CODE),
        ),
        effect("share of executed blocks that raise (exec)", Kind.EXACT, failing_blocks_effect),
    ),
)

# --- 003-recomputed-logprobs-match ----------------------------------------------------------------


def recomputed_log_probs(train_mode: bool, after_update: bool = False):
    """003's CartPole network acts on CartPole-like states (log pi(a|s) stored, as forward_pass
    does); the log-probabilities are then recomputed from the same states and actions. In
    train mode (policy.train(), as forward_pass leaves it) dropout draws a new mask;
    ``after_update`` recomputes after one Adam step (the slip of recomputing too late)."""

    def run(ctx: Context) -> Finding:
        net = _cartpole_network(ctx.seed % 2**31).train(train_mode)
        states = _cartpole_states(ctx, 64)
        acting = torch.distributions.Categorical(logits=net(states))
        actions = acting.sample()
        stored = acting.log_prob(actions)
        if after_update:
            optimiser = torch.optim.Adam(net.parameters(), lr=LEARNING_RATE)
            (-stored.sum()).backward()
            optimiser.step()
        recomputed = torch.distributions.Categorical(logits=net(states)).log_prob(actions)
        return exact_comparison(
            recomputed.detach(),
            stored.detach(),
            method="recomputed log pi(a|s) against the acting one (float64)",
        )

    return run


def recomputed_ratio_effect(ctx: Context) -> Finding:
    """Mean |pi_recomputed(a|s) / pi_acting(a|s) - 1| in train mode, 003's network."""
    net = _cartpole_network(ctx.seed % 2**31).train()
    states = _cartpole_states(ctx)
    with torch.no_grad():
        acting = torch.distributions.Categorical(logits=net(states))
        actions = acting.sample()
        ratio = (net(states).log_softmax(-1).gather(1, actions[:, None]).squeeze(1)).sub(
            acting.log_prob(actions)
        )
    return effect_size(
        float((ratio.exp() - 1).abs().mean()),
        measure="mean |recomputed / acting probability of the taken action - 1|",
        setting="003's CartPole network at initialisation, dropout 0.5 in train mode, "
        "256 CartPole-like states",
    )


RECOMPUTED_LOGPROBS = Claim(
    id="003-recomputed-logprobs-match",
    title="Log-probabilities recomputed at training time are the acting policy's",
    statement=r"\log\pi_\theta(a_t|s_t)\big|_{\text{recomputed}} = \log\pi_\theta(a_t|s_t)\big|_{\text{acting}}",
    sources=(
        Source(
            "003",
            "Calculating loss and backpropagation. That is the core learning step.",
            "You often recompute log-probs at training time for stability",
        ),
    ),
    conditions="Where 003 gives the advice, its Pong code: a network that is a fixed function "
    "of the state (no dropout, or eval mode), recomputed before the update. Left out: a network "
    "with dropout in train mode, as 003's own CartPole network runs (policy.train()).",
    expected=Verdict.CONDITIONAL,
    severity=Severity.MISSING_CONDITION,
    reading="Recomputing is sound when the network is a fixed function of the state, as in "
    "003's Pong code, where the advice stands. 003's CartPole network has dropout and its "
    "program runs in policy.train(), where every forward pass draws a new mask: recomputed "
    "there, the log-probability would be that of another, randomly thinned network, not of the "
    "policy that chose the action. 003 does not recompute with that network, but the advice "
    "does not say that it needs a deterministic forward pass.",
    checks=(
        beyond_conditions(
            "train mode: recomputed = acting, 64 states (exact)",
            Kind.EXACT,
            recomputed_log_probs(True),
        ),
        check(
            "a fixed function of the state (eval mode): recomputed = acting (exact)",
            Kind.EXACT,
            recomputed_log_probs(False),
            key="corrected: eval mode, recomputed = acting (exact)",
        ),
        negative_control(
            "eval mode, recomputed after the optimiser step (exact)",
            Kind.EXACT,
            recomputed_log_probs(False, after_update=True),
            slip=Slip("log-probs recomputed after the update instead of before", SlipKind.ORDER),
        ),
        effect(
            "train mode: mean |probability ratio - 1| (exact)",
            Kind.EXACT,
            recomputed_ratio_effect,
        ),
    ),
)
