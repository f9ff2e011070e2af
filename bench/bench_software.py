"""Benchmark the software inventory on a generated tree (root is not /).

Run from the repository root:

    PYTHONPATH=. python bench/bench_software.py [--packages N] [--dists N] [--runs N]

It writes, in a temporary directory, a dpkg status file with --packages
installed packages, each with a DEP-5 copyright file naming two licences
(the first four are catalogue products such as nginx and postgresql-15), and a
virtual environment's site-packages with --dists dist-info directories whose
METADATA carry a licence in one of four forms. It then times --runs full
collections of SoftwareCollector(root, paths=[that environment]) and prints
the wall times and the peak RSS of this process.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from pathlib import Path

from collectors.base import Findings
from collectors.catalogues import licences
from collectors.software import SoftwareCollector
from tests import software_trees as trees

# Catalogue products mixed into the generated packages.
PRODUCT_PACKAGES = ("nginx", "postgresql-15", "redis-server", "openjdk-17-jre-headless")
LICENCE_FORMS = (
    {"license_expression": "MIT"},
    {"license": "Apache Software License"},
    {"classifiers": ("License :: OSI Approved :: BSD License",)},
    {"license": "UNKNOWN"},
)


def build_tree(root: Path, packages: int, dists: int) -> Path:
    entries = []
    for index in range(packages):
        name = f"libgen{index}"
        if index < len(PRODUCT_PACKAGES):
            name = PRODUCT_PACKAGES[index]
        entries.append((name, f"1:{index % 9}.{index % 13}.{index % 7}-1+deb12u1"))
        trees.dep5_copyright(root, name, ["GPL-2+", "BSD-3-clause"])
    trees.dpkg_status(root, entries)
    site = trees.site_packages(root / "srv", "venv")
    for index in range(dists):
        form = LICENCE_FORMS[index % len(LICENCE_FORMS)]
        trees.dist_info(site, f"gen-dist-{index}", f"1.{index}.0", **form)
    return root / "srv"


def run_once(root: Path, paths: list[str]) -> tuple[float, int]:
    # The licence cache would make every run after the first cheaper than a
    # real scan, which reads each text once.
    licences.classify_licence.cache_clear()
    findings = Findings()
    started = time.perf_counter()
    SoftwareCollector(str(root), paths=paths, hostname="bench").collect(findings)
    elapsed = time.perf_counter() - started
    facts, _, _ = findings.snapshot()
    coverage = facts[0].details["coverage"]
    return elapsed, coverage["dpkg"]["items"] + coverage["pypi"]["items"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages", type=int, default=3000, help="dpkg packages")
    parser.add_argument("--dists", type=int, default=500, help="Python distributions")
    parser.add_argument("--runs", type=int, default=5, help="timed collections")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tca-bench-software-") as directory:
        root = Path(directory)
        started = time.perf_counter()
        environment = build_tree(root, options.packages, options.dists)
        print(f"tree written in {time.perf_counter() - started:.2f} s")
        times = []
        for run in range(options.runs):
            elapsed, items = run_once(root, [str(environment)])
            times.append(elapsed)
            print(f"run {run + 1}: {elapsed:.3f} s, {items} packages read")
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"min {min(times):.3f} s, median {statistics.median(times):.3f} s, "
        f"max {max(times):.3f} s; peak RSS {peak_mib:.1f} MiB"
    )


if __name__ == "__main__":
    main()
