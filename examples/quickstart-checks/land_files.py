"""Land a day of sales CSV files for the checked quickstart (lake/landing/sales/): good rows,
a few refunds with a negative amount (quarantined by the check) and, with ``--drift``, one
file whose partner renamed a column (refused by the staging schema check)."""

import csv
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
JOBS = ["engineer", "analyst", "manager", "designer"]
NAMES = ["ana", "bruno", "carla", "davi", "elisa", "fabio", "gabi", "hugo"]


def land(files: int = 3, rows: int = 50, refunds: int = 2, drift: bool = False,
         seed: int | None = None) -> list[Path]:  # fmt: skip
    """``files`` CSV files of ``rows`` rows, ``refunds`` of them negative per file."""
    rng = random.Random(seed)
    landing = HERE / "lake" / "landing" / "sales"
    landing.mkdir(parents=True, exist_ok=True)
    written = []
    for number in range(files + (1 if drift else 0)):
        path = landing / f"sales_{rng.randrange(10**9):09d}_{number}.csv"
        header = ["column1", "column2", "column3", "column4"]
        if number == files:  # the drifting file
            header[3] = "total"
        with path.open("w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(header)
            for row in range(rows):
                amount = round(rng.uniform(10, 500), 2) * (-1 if row < refunds else 1)
                writer.writerow([rng.choice(NAMES), rng.randint(20, 65), rng.choice(JOBS), amount])
        written.append(path)
    return written


if __name__ == "__main__":
    for path in land(drift="--drift" in sys.argv):
        print(f"landed {path.relative_to(HERE)}")
