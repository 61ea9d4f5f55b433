"""What the benchmarks share: the lattice landscape's .sem text and a cold-JIT child.

Every script runs as ``python bench/NAME.py``, so this directory is on ``sys.path``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile


def sem_text(L: int, r0: float = 1.0, beta: float = 2.0, law: str = "arrhenius") -> str:
    """An L x L lattice with ``F ~ normal(0, 1)``, ``rate LAW(r0, beta)``, started at the centre."""
    c = L // 2
    return (f"graph site = lattice({L}, {L}) {{ F ~ normal(0, 1) }}\n"
            f"rate {law}({r0:g}, {beta:g})\n"
            f"init site[{c}, {c}]\n")


def n_transitions(L: int) -> int:
    """Directed transitions of an L x L lattice (both directions of its 2 L (L - 1) edges)."""
    return 4 * L * (L - 1)


def run_jit_child(script: str, prefix: str) -> dict:
    """Run ``script --_jit-child`` in a fresh process with an empty numba cache; the
    child prints one JSON line of timings, which is returned."""
    d = tempfile.mkdtemp(prefix=prefix)
    try:
        env = dict(os.environ, NUMBA_CACHE_DIR=d)
        out = subprocess.run([sys.executable, os.path.abspath(script), "--_jit-child"],
                             capture_output=True, text=True, env=env)
        if out.returncode != 0:
            raise RuntimeError(f"JIT child failed:\n{out.stderr}")
        return json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(d, ignore_errors=True)
