"""Drop a day of sales CSV files into the quickstart's landing folder (lake/landing/sales/),
as an upstream system would. Run it again to land more files."""

import csv
import datetime as dt
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
JOBS = ["engineer", "analyst", "manager", "designer"]
NAMES = ["ana", "bruno", "carla", "davi", "elisa", "fabio", "gabi", "hugo"]


def land(files: int = 3, rows: int = 50, seed: int | None = None) -> list[Path]:
    rng = random.Random(seed)
    landing = HERE / "lake" / "landing" / "sales"
    landing.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S%f")
    written = []
    for number in range(files):
        path = landing / f"sales_{stamp}_{number}.csv"
        with path.open("w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["column1", "column2", "column3", "column4"])
            for _ in range(rows):
                writer.writerow(
                    [
                        rng.choice(NAMES),
                        rng.randint(20, 65),
                        rng.choice(JOBS),
                        round(rng.uniform(10, 500), 2),
                    ]
                )
        written.append(path)
    return written


if __name__ == "__main__":
    paths = land(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
    print(f"landed {len(paths)} files in {paths[0].parent}")
