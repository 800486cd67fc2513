"""Printing an order's booklets: time and peak memory, before (one reportlab canvas) and after (streamed chunks).

    .venv/bin/python bench/print_booklets.py [--sizes 100,1000,3350] [--backend spatialite|postgis]
        [--before-ref <git commit>]

Creates a throwaway database, issues one order per size (10 cheques a booklet), then prints each
order in a fresh child process, once with `redemption/printing.py` as it was before the covers and
the streaming (read from git: by default the parent of the commit that added redemption/covers.py)
and once with the current one, in the same run. Each child reports the wall time of the print,
its peak resident memory (VmHWM) and how much it grew during the print (peak minus the memory
after imports and loading the order), the file size and the page count. The "after" PDF has one
more page per booklet (its cover).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy.orm import Session
from support import prepare_database, throwaway_database

from directory import api as directory_api
from directory.db import make_engine
from redemption import api

ROOT = Path(__file__).resolve().parent.parent
ACTOR = directory_api.Actor.system("bench")
BASE_URL = "https://carte.aptic.fr"


def _rss_mb() -> float:
    """This process's peak resident memory (VmHWM: ru_maxrss would carry the parent's peak across exec)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _current_rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def before_ref() -> str:
    added = subprocess.run(["git", "log", "--diff-filter=A", "--format=%H", "--", "redemption/covers.py"],
                           cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    return f"{added[-1]}^" if added else "HEAD"


def child(variant: str, url: str, order_id: int, out: str, ref: str) -> None:
    """Runs in its own process, so that its peak memory is the print's alone."""
    from redemption.models import Order

    if variant == "before":
        source = subprocess.run(["git", "show", f"{ref}:redemption/printing.py"], cwd=ROOT, capture_output=True,
                                text=True, check=True).stdout
        path = Path(tempfile.mkdtemp()) / "printing_before.py"
        path.write_text(source)
        spec = importlib.util.spec_from_file_location("printing_before", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)

        def run(session: Session, order: Order) -> int:
            return module.print_order(session, order, Path(out))
    else:
        from redemption import printing

        def run(session: Session, order: Order) -> int:
            return printing.print_order(session, order, Path(out), BASE_URL)

    engine = make_engine(url)
    with Session(engine) as session:
        order = session.get(Order, order_id)
        order.sponsor  # noqa: B018 - loaded before the baseline, as both variants need it
        baseline = _current_rss_mb()
        started = time.perf_counter()
        pages = run(session, order)
        seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "peak_mb": _rss_mb(), "growth_mb": _rss_mb() - baseline, "pages": pages,
                      "file_mb": Path(out).stat().st_size / 2**20}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,3350")
    parser.add_argument("--backend", default="spatialite", choices=("spatialite", "postgis"))
    parser.add_argument("--before-ref", default=None)
    parser.add_argument("--child", nargs=5, metavar=("VARIANT", "URL", "ORDER", "OUT", "REF"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        variant, url, order_id, out, ref = args.child
        child(variant, url, int(order_id), out, ref)
        return
    ref = args.before_ref or before_ref()
    sizes = [int(size) for size in args.sizes.split(",")]
    with throwaway_database(args.backend) as url, tempfile.TemporaryDirectory() as workdir:
        engine = prepare_database(url)
        orders = {}
        with Session(engine) as session:
            sponsor = api.create_sponsor(session, ACTOR, name="Département de la Gironde", legal_form="collectivite",
                                         siret="22330001300016", code_insee="33063")
            for size in sizes:
                started = time.perf_counter()
                order = api.create_order(session, ACTOR, sponsor, booklets=size, territories=["departement:33"],
                                         expires_on=date.today() + timedelta(days=300), minimum_exception="banc d'essai")
                api.confirm_order(session, ACTOR, order)
                api.pay_order(session, ACTOR, order)
                api.issue_order(session, ACTOR, order)
                session.commit()
                orders[size] = order.id
                print(f"order of {size} booklets issued in {time.perf_counter() - started:.1f} s", flush=True)
        engine.dispose()
        print(f"before = redemption/printing.py at {ref}; after = this working tree; backend {args.backend}")
        print(f"{'booklets':>8} {'variant':>7} {'pages':>6} {'seconds':>8} {'peak RSS MB':>11} "
              f"{'growth MB':>9} {'file MB':>7}")
        for size in sizes:
            for variant in ("before", "after"):
                out = str(Path(workdir) / f"{variant}-{size}.pdf")
                done = subprocess.run(
                    [sys.executable, __file__, "--child", variant, url, str(orders[size]), out, ref],
                    cwd=ROOT, capture_output=True, text=True)
                if done.returncode:
                    print(done.stderr, file=sys.stderr)
                    raise SystemExit(done.returncode)
                r = json.loads(done.stdout.strip().splitlines()[-1])
                print(f"{size:>8} {variant:>7} {r['pages']:>6} {r['seconds']:>8.1f} {r['peak_mb']:>11.0f} "
                      f"{r['growth_mb']:>9.0f} {r['file_mb']:>7.1f}", flush=True)


if __name__ == "__main__":
    main()
