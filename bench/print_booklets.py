"""Printing an order's booklets: time and peak memory, before (main's code) and after (this tree), in one run.

    .venv/bin/python bench/print_booklets.py [--sizes 3350,10000] [--backend spatialite|postgis]
        [--before-tree /work/main]

Creates a throwaway database, issues one order per size (10 cheques a booklet), then prints each
order in a fresh child process, once with `PYTHONPATH` on the before tree (main's code by default)
and once on this tree. Each child reports the wall time of the print to a file, its peak resident
memory (VmHWM) and how much it grew during the print (peak minus the memory after imports and
loading the order), the file size and the page count.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy.orm import Session
from support import machine_load, prepare_database, throwaway_database

from directory import api as directory_api
from directory.db import make_engine
from redemption import api
from tests.builders import aptic_staff

ROOT = Path(__file__).resolve().parent.parent
ACTOR = directory_api.Actor.system("bench")
BASE_URL = "https://carte.aptic.fr"
STAFF_EMAIL = "equipe@aptic-exemple.fr"


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


def child(url: str, order_id: int, out: str, mode: str) -> None:
    """Runs in its own process with the tree to measure on PYTHONPATH, so that its peak memory is the print's alone.

    mode "file": `print_order` to a file; "http": staff download the PDF through the web view (Flask test
    client, response read piece by piece as a WSGI server would send it).
    """
    from redemption import printing
    from redemption.models import Order

    if mode == "http":
        from aptic import create_app
        from tests.builders import sign_in

        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "SERVER_NAME": "aptic.bench",
                          "PUBLIC_URL": BASE_URL})
        client = app.test_client()
        signed = sign_in(client, STAFF_EMAIL)
        assert signed.status_code == 302, "staff sign-in refused"
    engine = make_engine(url)
    with Session(engine) as session:
        order = session.get(Order, order_id)
        order.sponsor  # noqa: B018 - loaded before the baseline
        pages = printing.page_count(order)
        session.commit()  # no read transaction left open while the web view reads (SQLite)
        baseline = _current_rss_mb()
        started = time.perf_counter()
        if mode == "http":
            response = client.get(f"/pass/commandes/{order_id}/carnets.pdf", buffered=False)
            assert response.status_code == 200 and response.is_streamed, (response.status_code, response.headers)
            with open(out, "wb") as file:
                for piece in response.response:
                    file.write(piece)
            response.close()
        else:
            printing.print_order(session, order, Path(out), BASE_URL)
        seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "peak_mb": _rss_mb(), "growth_mb": _rss_mb() - baseline, "pages": pages,
                      "file_mb": Path(out).stat().st_size / 2**20}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="3350,10000")
    parser.add_argument("--backend", default="spatialite", choices=("spatialite", "postgis"))
    parser.add_argument("--before-tree", default="/work/main")
    parser.add_argument("--http", action="store_true", help="Also download each order through the web view (this tree).")
    parser.add_argument("--child", nargs=4, metavar=("URL", "ORDER", "OUT", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), args.child[2], args.child[3])
        return
    trees = {"before": str(Path(args.before_tree).resolve()), "after": str(ROOT)}
    runs = [("before", trees["before"], "file"), ("after", trees["after"], "file")]
    if args.http:
        runs.append(("after", trees["after"], "http"))
    sizes = [int(size) for size in args.sizes.split(",")]
    with throwaway_database(args.backend) as url, tempfile.TemporaryDirectory() as workdir:
        engine = prepare_database(url)
        orders = {}
        with Session(engine) as session:
            if args.http:
                aptic_staff(session, STAFF_EMAIL)
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
        print(f"backend {args.backend}; before = {trees['before']}, after = {trees['after']}; {machine_load()}")
        print(f"{'booklets':>8} {'variant':>7} {'to':>4} {'pages':>6} {'seconds':>8} {'peak RSS MB':>11} "
              f"{'growth MB':>9} {'file MB':>7}")
        for size in sizes:
            for variant, tree, mode in runs:
                out = str(Path(workdir) / f"{variant}-{mode}-{size}.pdf")
                done = subprocess.run([sys.executable, __file__, "--child", url, str(orders[size]), out, mode],
                                      cwd=tree, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": tree})
                if done.returncode:
                    print(done.stderr, file=sys.stderr)
                    raise SystemExit(done.returncode)
                r = json.loads(done.stdout.strip().splitlines()[-1])
                print(f"{size:>8} {variant:>7} {mode:>4} {r['pages']:>6} {r['seconds']:>8.1f} {r['peak_mb']:>11.0f} "
                      f"{r['growth_mb']:>9.0f} {r['file_mb']:>7.1f}", flush=True)


if __name__ == "__main__":
    main()
