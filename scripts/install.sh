#!/usr/bin/env bash
# Install pgtheory with its dev extras into the current Python environment.
# Where torch is missing and a local CPU wheel of torch 2.13.0 is on this machine's
# pip find-links (the project's build machines), install that wheel first: an unpinned
# torch would otherwise pull a multi-GB CUDA build. Everywhere else pip resolves torch
# the ordinary way from pyproject.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! "$PY" -c "import torch" 2>/dev/null; then
    probe=$(mktemp -d)
    if "$PY" -m pip download --quiet --no-index --no-deps torch==2.13.0 -d "$probe" 2>/dev/null; then
        "$PY" -m pip install --quiet torch==2.13.0
    fi
    rm -rf "$probe"
fi
"$PY" -m pip install --quiet -e ".[dev]"
