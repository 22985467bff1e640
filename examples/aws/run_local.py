"""Run the AWS example end to end against a local emulator (moto), no AWS account needed.

Starts moto on loopback, lands sample CSV files in s3://lake/landing/sales/, then runs
``routine.json`` with the ordinary ``lakeroutine run`` command line and prints where the
report is; a run that does not succeed ends with the routine's error and its exit code.
``python examples/aws/run_local.py [--files N] [--report FILE] [--var K=V]...``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from land_files import land  # noqa: E402
from local_emulator import local_aws, redshift_data  # noqa: E402

log = logging.getLogger("run_local")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=3, help="CSV files to land (default 3)")
    parser.add_argument("--report", type=Path, help="where to write the JSON run report")
    parser.add_argument(
        "--var", action="append", default=[], metavar="K=V", help="set a routine ${var}"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("botocore").setLevel(logging.WARNING)

    from lakeroutine import cli

    with tempfile.TemporaryDirectory(prefix="lakeroutine-aws-") as work:
        report = args.report or Path(work) / "report.json"
        os.environ["LAKEROUTINE_STATE_DIR"] = str(Path(work) / "state")  # a fresh lake each run
        with local_aws() as endpoint, redshift_data():
            log.info("local AWS (moto) at %s", endpoint)
            land("lake", args.files)
            code = cli.main(
                [
                    "run",
                    str(HERE / "routine.json"),
                    "--var",
                    "poll_s=0.05",
                    "--report",
                    str(report),
                    *(item for var in args.var for item in ("--var", var)),
                ]
            )
        if not report.exists():  # refused before it ran (the CLI said why): no report
            log.error("the routine did not run (exit %d): its error is above", code)
            return code
        log.info("exit code %d; report: %s", code, report)
        if args.report is None:
            sys.stdout.write(report.read_text())
    return code


if __name__ == "__main__":
    sys.exit(main())
