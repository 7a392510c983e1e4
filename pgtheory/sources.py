"""The seed documents: their registry, where to find them, and their fenced code blocks."""

from __future__ import annotations

import ast
import json
import math
import os
import re
import warnings
from pathlib import Path
from typing import Any

#: The five seed documents by number: a claim cites one as ``Source("000", section, quote)``.
SEED_DOCUMENTS = {
    "000": "000_6d22ed7e183469a6.txt",
    "001": "001_dfff2308e2bb0704.txt",
    "002": "002_1b7ba2deb061a988.txt",
    "003": "003_406e58457e86a039.txt",
    "004": "004_2cb30ec7095a07ef.txt",
}


def document_file(name: str) -> str:
    """The file of a seed document given by its number ("000"); any other name as it is."""
    return SEED_DOCUMENTS.get(name, name)


def document_title(file: str) -> str:
    """The title of a seed document (its front matter's ``title:``, else its first line), read
    at run time; the file name where the document is not here."""
    seeds = seeds_directory()
    path = seeds / file if seeds else None
    if path is None or not path.is_file():
        return file
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    if lines and lines[0].strip() == "---":
        for line in lines[1:]:
            if line.strip() == "---":
                break
            if line.startswith("title:"):
                return line.removeprefix("title:").strip().strip('"')
    return next((line.strip() for line in lines if line.strip()), file)


#: 000's figures as the document shows them, in its companion folder (figures/), by number.
FIGURE_FILES_000 = {
    1: "R1_True-Learning-Rate-Comparison.png",
    2: "R1_True-Baseline-Comparison.png",
    3: "R1_True-Stepsize-Schedule-Comparison.png",
    4: "R1_True-Batch-Gradient-Estimator-Comparison.png",
    5: "R2_Randomized-Learning-Rate-Comparison.png",
    6: "R2_Randomized-Baseline-Comparison.png",
    7: "R2_Randomized-Stepsize-Schedule-Comparison.png",
    8: "R2_Randomized-Batch-Gradient-Estimator-Comparison.png",
    9: "R3_Proxy-Batch-Size-Comparison.png",
    10: "R4_DiscreteSparse-Single-Run.png",
}


def companion_000() -> Path | None:
    """000's companion folder (its notebook, figures and cited post), where present."""
    seeds = seeds_directory()
    folder = seeds / "000-companion" if seeds else None
    return folder if folder is not None and folder.is_dir() else None


#: 000's notebook in its companion folder: the code that produced its figures, with its output.
NOTEBOOK_000 = "policy-gradient-for-optimization.ipynb"
#: The line the notebook prints at the end of each run.
PRINTED_FINAL_000 = re.compile(r"Finished: (\S+)\. Final mu=([-\d.]+), sigma=([-\d.]+)")


def notebook_000_path() -> Path | None:
    """000's notebook, where the companion folder is here."""
    folder = companion_000()
    path = folder / NOTEBOOK_000 if folder else None
    return path if path is not None and path.is_file() else None


def notebook_000_source_and_output() -> tuple[str, str]:
    """000's notebook: its code cell and its printed output, read (never executed)."""
    path = notebook_000_path()
    if path is None:
        raise FileNotFoundError(f"000's notebook {NOTEBOOK_000} is not here")
    cell = json.loads(path.read_text(encoding="utf-8"))["cells"][0]
    output = "".join("".join(o.get("text", "")) for o in cell.get("outputs", []))
    return "".join(cell["source"]), output


def notebook_000_printed_finals() -> dict[str, tuple[float, float]]:
    """Each run's printed final (mu, sigma) in 000's notebook, by the notebook's run id."""
    _, output = notebook_000_source_and_output()
    return {run: (float(mu), float(sigma)) for run, mu, sigma in PRINTED_FINAL_000.findall(output)}


_BINARY = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
}
_CALLS = {"int": int, "float": float, "np.log": math.log, "np.exp": math.exp}


def constant_expression(node: ast.AST, env: dict[str, Any]) -> Any:
    """The value of a constant expression of source code (numbers, names already bound in
    ``env``, + - * /, tuples, dicts, subscripts, int/float/np.log/np.exp), so that a
    document's code can be read without executing it; anything else raises ValueError."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float | str):
        return node.value
    if isinstance(node, ast.Name) and node.id in env:
        return env[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -constant_expression(node.operand, env)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = constant_expression(node.left, env), constant_expression(node.right, env)
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, ast.Tuple):
        return tuple(constant_expression(e, env) for e in node.elts)
    if isinstance(node, ast.Dict) and None not in node.keys:
        return {
            constant_expression(k, env): constant_expression(v, env)
            for k, v in zip(node.keys, node.values, strict=True)
        }
    if isinstance(node, ast.Subscript):
        return constant_expression(node.value, env)[constant_expression(node.slice, env)]
    if isinstance(node, ast.Call) and not node.keywords and ast.unparse(node.func) in _CALLS:
        return _CALLS[ast.unparse(node.func)](*(constant_expression(a, env) for a in node.args))
    raise ValueError(f"not a constant expression: {ast.unparse(node)}")


def module_constants(source: str) -> dict[str, Any]:
    """The module-level constants of Python ``source``: each ``NAME = constant expression``
    in order (see :func:`constant_expression`); other statements are passed over."""
    env: dict[str, Any] = {}
    with warnings.catch_warnings():  # the source's own invalid escapes are not ours to report
        warnings.simplefilter("ignore", (DeprecationWarning, SyntaxWarning))
        tree = ast.parse(source)
    for node in tree.body:
        if isinstance(node, ast.Assign) and [type(t) for t in node.targets] == [ast.Name]:
            try:
                env[node.targets[0].id] = constant_expression(node.value, env)
            except (ValueError, KeyError, TypeError, ZeroDivisionError):
                continue
    return env


def notebook_000_constants() -> dict[str, Any]:
    """000's notebook's module-level constants (TRUE_W_STAR, PSI_MIN_MAX, LRS_SET_A_STD, ...),
    parsed from its source, never executed."""
    source, _ = notebook_000_source_and_output()
    return module_constants(source)


def published_figure_000(number: int) -> Path | None:
    """The PNG of 000's figure ``number`` as published, where the companion folder is here."""
    folder = companion_000()
    path = folder / "figures" / FIGURE_FILES_000.get(number, "") if folder else None
    return path if path is not None and path.is_file() else None


def seeds_directory() -> Path | None:
    """$PGTHEORY_SEEDS, else shared/seeds beside the repository (the project's layout)."""
    candidates = [
        os.environ.get("PGTHEORY_SEEDS"),
        Path(__file__).resolve().parents[2] / "shared" / "seeds",
    ]
    return next((Path(c) for c in candidates if c and Path(c).is_dir()), None)


def fenced_code_blocks(text: str) -> list[dict[str, str]]:
    """Every ``` fenced block of a markdown text, in order: its language tag and its code.
    One-line spans such as ```x = 1``` are inline code, not blocks."""
    blocks: list[dict[str, str]] = []
    language, lines = None, []
    for line in text.split("\n"):
        stripped = line.strip()
        if not stripped.startswith("```"):
            if language is not None:
                lines.append(line)
            continue
        if language is None:
            rest = stripped[3:]
            if rest.endswith("```") and len(rest) > 3:
                continue
            language, lines = rest.strip(), []
        else:
            blocks.append({"language": language, "code": "\n".join(lines)})
            language = None
    return blocks
