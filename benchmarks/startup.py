"""How long the ``lakeroutine`` command takes to start, beside its import floor.

Two pairs, each run side by side in fresh processes, order alternating, paired medians:

- ``lakeroutine validate`` of the quickstart (its files landed in a temporary folder) against
  ``python -c "import pydantic, pluggy"``: target within 1.5x;
- ``lakeroutine --help`` against ``python -c "import lakeroutine"``: target within 1.2x.

Beside validate, pydantic's own floor is measured too: ``from pydantic import BaseModel``
after ``import pluggy`` (the anchor's ``import pydantic`` is lazy and imports none of
``BaseModel``), and one model built (``class M(BaseModel): x: int``), which imports
pydantic's schema machinery and ``importlib.metadata`` and scans the installed entry points
for pydantic plugins. Any validation through pydantic models (the plugins' params are
pydantic models) pays both; here each is already above 1.5x the anchor.

Wall-clock seconds depend on the machine's load; CPU seconds (user + system of the child)
much less, so both are printed and the ratio of each. Bytecode is compiled first for the
sources (as a pip install leaves it), whatever PYTHONDONTWRITEBYTECODE says. Exits 1 if a
ratio of medians misses its target on both clocks.
Run from the repository root: ``.venv/bin/python benchmarks/startup.py [--repeat 21]``.
"""

from __future__ import annotations

import argparse
import compileall
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUICKSTART = ROOT / "examples" / "quickstart"
# what any validation with pydantic pays first: ``BaseModel`` imported (``import pydantic`` is
# lazy: the anchor imports none of it), then one model built (pydantic's schema machinery, and
# importlib.metadata with the scan for pydantic plugins that a first model makes)
_BASE_MODEL = "import pluggy\nfrom pydantic import BaseModel"
FLOORS = {
    "BaseModel imported": _BASE_MODEL,
    "one model built": f"{_BASE_MODEL}\nclass M(BaseModel):\n    x: int",
}


def timed(command: list[str], cwd: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``command`` (which must exit 0)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _pid, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    error = process.stderr.read().decode() if process.stderr else ""
    if process.stderr:
        process.stderr.close()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {process.returncode}: {error}")
    return wall, usage.ru_utime + usage.ru_stime


def paired(commands: dict[str, list[str]], cwd: Path, repeat: int) -> dict[str, list[float]]:
    """Each command ``repeat`` times a round, the order reversed every other round."""
    runs: dict[str, list[float]] = {}
    for name in commands:
        runs[f"{name}_wall"], runs[f"{name}_cpu"] = [], []
    for round_ in range(repeat + 1):
        order = list(commands.items())
        if round_ % 2:
            order.reverse()
        for name, command in order:
            wall, cpu = timed(command, cwd)
            if round_:  # the first round warms the page cache
                runs[f"{name}_wall"].append(wall)
                runs[f"{name}_cpu"].append(cpu)
    return runs


def report(title: str, runs: dict[str, list[float]], target: float) -> bool:
    """Print medians and ratios; True if the target is met on either clock."""
    print(f"\n{title} (target: within {target}x)")
    met = False
    for clock in ("wall", "cpu"):
        ours = statistics.median(runs[f"ours_{clock}"])
        anchor = statistics.median(runs[f"anchor_{clock}"])
        pairs = zip(runs[f"ours_{clock}"], runs[f"anchor_{clock}"], strict=True)
        ratio = ours / anchor
        met = met or ratio <= target
        print(
            f"  {clock:4}: ours {ours * 1000:6.1f} ms, anchor {anchor * 1000:6.1f} ms, "
            f"ratio of medians {ratio:.2f}x (median of paired ratios "
            f"{statistics.median(o / a for o, a in pairs):.2f}x)"
        )
        for name in FLOORS:
            if f"{name}_{clock}" in runs:
                floor = statistics.median(runs[f"{name}_{clock}"])
                print(
                    f"        pydantic's floor ({name}) {floor * 1000:6.1f} ms, "
                    f"{floor / anchor:.2f}x the anchor; ours {ours / floor:.2f}x it"
                )
    return met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument("--only", choices=("validate", "help"), help="measure one pair only")
    args = parser.parse_args()
    python = sys.executable
    command = shutil.which("lakeroutine", path=str(Path(python).parent)) or "lakeroutine"
    for folder in (ROOT / "core", ROOT / "plugins", Path(python).parent.parent / "lib"):
        compileall.compile_dir(folder, quiet=1)
    print(
        f"Python {platform.python_version()}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f}, {args.repeat} pairs each"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name in ("routine.json", "land_files.py"):
            shutil.copy(QUICKSTART / name, folder / name)
        subprocess.run([python, "land_files.py"], cwd=folder, check=True, capture_output=True)
        ok = True
        if args.only in (None, "validate"):
            ok &= report(
                "lakeroutine validate (quickstart) vs python -c 'import pydantic, pluggy'",
                paired(
                    {
                        "ours": [command, "validate", "routine.json"],
                        "anchor": [python, "-c", "import pydantic, pluggy"],
                        **{name: [python, "-c", code] for name, code in FLOORS.items()},
                    },
                    folder,
                    args.repeat,
                ),
                1.5,
            )
        if args.only in (None, "help"):
            ok &= report(
                "lakeroutine --help vs python -c 'import lakeroutine'",
                paired(
                    {"ours": [command, "--help"], "anchor": [python, "-c", "import lakeroutine"]},
                    folder,
                    args.repeat,
                ),
                1.2,
            )
    print(f"\nload average after: {os.getloadavg()[0]:.1f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
