"""Issuing orders of booklets: time and peak memory, before (main's code) and after (this tree), in one run.

    .venv/bin/python bench/issue_booklets.py [--sizes 3350,10000] [--backend spatialite|postgis]
        [--before-tree /work/main]

Creates a throwaway database and, per size, two paid orders of 10 cheques of 10 € a booklet. Each
order is issued in a fresh child process, one with `PYTHONPATH` on the before tree (main's code by
default) and one on this tree, so that each child's peak resident memory (VmHWM) is the issue's alone.
Each child prints the wall time of `issue_order` and its commit, its peak RSS and how much it grew
during the issue (peak minus the memory after imports and loading the order), and checks the rows
written (booklets, cheques, distinct codes).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from support import machine_load, prepare_database, throwaway_database

ROOT = Path(__file__).resolve().parent.parent


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: ru_maxrss would carry the parent's peak across exec)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def current_rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def child(url: str, order_id: int) -> None:
    """Runs in its own process with the tree to measure on PYTHONPATH."""
    from directory import api as directory_api
    from directory.db import make_engine
    from redemption import api
    from redemption.models import Booklet, Cheque, Order

    engine = make_engine(url)
    with Session(engine) as session:
        order = session.get(Order, order_id)
        baseline = current_rss_mb()
        started = time.perf_counter()
        api.issue_order(session, directory_api.Actor.system("bench"), order)
        session.commit()
        seconds = time.perf_counter() - started
        peak = peak_rss_mb()
        booklets = session.scalar(select(func.count()).select_from(Booklet).where(Booklet.order_id == order_id))
        cheques, codes = session.execute(select(func.count(), func.count(Cheque.code.distinct()))
                                         .where(Cheque.order_id == order_id)).one()
    print(json.dumps({"seconds": seconds, "peak_mb": peak, "growth_mb": peak - baseline, "booklets": booklets,
                      "cheques": cheques, "codes": codes}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="3350,10000")
    parser.add_argument("--backend", default="spatialite", choices=("spatialite", "postgis"))
    parser.add_argument("--before-tree", default="/work/main")
    parser.add_argument("--child", nargs=2, metavar=("URL", "ORDER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return
    from directory import api as directory_api
    from redemption import api

    actor = directory_api.Actor.system("bench")
    sizes = [int(size) for size in args.sizes.split(",")]
    trees = {"before": str(Path(args.before_tree).resolve()), "after": str(ROOT)}
    with throwaway_database(args.backend) as url:
        engine = prepare_database(url)
        orders = {}
        with Session(engine) as session:
            sponsor = api.create_sponsor(session, actor, name="Département de la Gironde", legal_form="collectivite",
                                         siret="22330001300016", code_insee="33063")
            for size in sizes:
                for variant in trees:
                    order = api.create_order(session, actor, sponsor, booklets=size, territories=["departement:33"],
                                             expires_on=date.today() + timedelta(days=300),
                                             minimum_exception="banc d'essai")
                    api.confirm_order(session, actor, order)
                    api.pay_order(session, actor, order)
                    orders[size, variant] = order.id
            session.commit()
        engine.dispose()
        print(f"backend {args.backend}; before = {trees['before']}, after = {trees['after']}; {machine_load()}")
        print(f"{'booklets':>8} {'variant':>7} {'cheques':>8} {'seconds':>8} {'peak RSS MB':>11} {'growth MB':>9}")
        for size in sizes:
            for variant, tree in trees.items():
                done = subprocess.run([sys.executable, __file__, "--child", url, str(orders[size, variant])],
                                      cwd=tree, capture_output=True, text=True,
                                      env={**os.environ, "PYTHONPATH": tree})
                if done.returncode:
                    print(done.stderr, file=sys.stderr)
                    raise SystemExit(done.returncode)
                r = json.loads(done.stdout.strip().splitlines()[-1])
                if not (r["booklets"] == size and r["cheques"] == r["codes"] == 10 * size):
                    raise SystemExit(f"wrong rows written: {r}")
                print(f"{size:>8} {variant:>7} {r['cheques']:>8} {r['seconds']:>8.1f} {r['peak_mb']:>11.0f} "
                      f"{r['growth_mb']:>9.0f}", flush=True)


if __name__ == "__main__":
    main()
