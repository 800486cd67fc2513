"""Weight and time of the density page and the coverage pages, before and after, in one run.

    .venv/bin/python bench/page_weights.py [--base /tmp/base] [--venues 3000]

`--base` is a checkout of the commit to compare with (e.g. `git worktree add /tmp/base 994fa26`, or
`git archive 994fa26 | tar -x -C /tmp/base`).
For each tree (the base, then this one) a child process builds the demo data set (`aptic demo`'s,
real territories) in a throwaway SpatiaLite file, serves that tree's app on a local port and opens
each page in Chromium to list everything the page loads from the platform (HTML, scripts, styles,
images, and the GeoJSON its map fetches). Each of those is then fetched again with
`Accept-Encoding: gzip, br` and its bytes on the wire summed. Time is the HTML answer's, median of 3.
Prints one line per page and tree. Goals (issue 13): density page under 500 KB, coverage pages under 300 KB.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

PAGES = [
    ("densité (EPCI)", "/qualification/densite"),
    ("couverture France", "/couverture/france/FR"),
    ("couverture région Occitanie", "/couverture/region/76"),
    ("couverture département Gironde", "/couverture/departement/33"),
    ("couverture EPCI Bordeaux Métropole", "/couverture/epci/243300316"),
]
STAFF = "equipe@aptic.demo"
HERE = Path(__file__).resolve().parent


def measure(venues: int) -> list[dict]:
    """In the current tree (PYTHONPATH): demo data, served app, page weights."""
    import requests
    from playwright.sync_api import sync_playwright
    from sqlalchemy.orm import Session
    from werkzeug.serving import make_server

    from aptic import create_app, schema
    from aptic.demo import build_demo
    from directory.db import make_engine
    from directory.demo import DEMO_PASSWORD
    from maps import api as maps_api

    folder = tempfile.mkdtemp(prefix="aptic-weights-")
    url = f"sqlite:///{folder}/bench.db"
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "TILE_URL": "https://tuiles.invalid/{z}/{x}/{y}.png",
                      "RATELIMIT_ENABLED": False, "QUALIFICATION_UPLOAD_DIR": f"{folder}/uploads"})
    engine = make_engine(url)
    with engine.begin() as connection:
        schema.upgrade(connection=connection)
    with app.app_context(), Session(engine) as session:
        build_demo(session, venues, echo=lambda *a, **k: None)
        maps_api.refresh_coverage(session)
        session.commit()
    engine.dispose()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"

    client = requests.Session()
    form = client.get(base + "/connexion").text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
    client.post(base + "/connexion", data={"csrf_token": token, "email": STAFF, "password": DEMO_PASSWORD})
    results = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.add_cookies([{"name": c.name, "value": c.value, "url": base} for c in client.cookies])
        page = context.new_page()
        loaded: list[str] = []
        page.on("request", lambda request: loaded.append(request.url) if request.url.startswith(base) else None)
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(base) else route.abort())
        for label, path in PAGES:
            loaded.clear()
            page.goto(base + path, timeout=180_000, wait_until="load")
            # The map's own requests (GeoJSON per zoom) follow the load: give them time to start and end.
            try:
                page.wait_for_load_state("networkidle", timeout=20_000)
            except Exception:  # noqa: BLE001 - a page that keeps asking is measured as it is
                print(f"{path}: network not idle after 20 s", file=sys.stderr)
            urls = list(dict.fromkeys(loaded))
            transferred, raw = 0, 0
            for address in urls:
                answer = client.get(address, headers={"Accept-Encoding": "gzip, br"}, stream=True)
                body = answer.raw.read(decode_content=False)
                transferred += len(body)
                raw += len(answer.content) if not body else len(_decoded(body, answer.headers.get("Content-Encoding")))
            html = client.get(base + path, headers={"Accept-Encoding": "gzip, br"}, stream=True)
            html_bytes = len(html.raw.read(decode_content=False))
            timings = []
            for _ in range(3):
                started = time.perf_counter()
                client.get(base + path, headers={"Accept-Encoding": "gzip, br"}).content  # noqa: B018
                timings.append(time.perf_counter() - started)
            results.append({"page": label, "path": path, "status": html.status_code, "requests": len(urls),
                            "transferred": transferred, "uncompressed": raw, "html": html_bytes,
                            "seconds": statistics.median(timings)})
        browser.close()
    server.shutdown()
    shutil.rmtree(folder, ignore_errors=True)
    return results


def _decoded(body: bytes, encoding: str | None) -> bytes:
    if encoding == "gzip":
        import gzip
        return gzip.decompress(body)
    if encoding == "br":
        import brotli
        return brotli.decompress(body)
    return body


def _run_tree(tree: Path, venues: int) -> list[dict]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run([sys.executable, str(HERE / "page_weights.py"), "--measure", "--venues", str(venues)],
                          cwd=tree, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"measure failed in {tree}:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", type=Path, help="checkout of the commit to compare with")
    parser.add_argument("--venues", type=int, default=3_000)
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.measure:
        print(json.dumps(measure(options.venues)))
        return
    trees = ([("avant", options.base)] if options.base else []) + [("après", HERE.parent)]
    print(f"Demo data ({options.venues} venues, real territories), SpatiaLite, Accept-Encoding: gzip, br")
    print(f"{'':7} {'page':36} {'req.':>4} {'transferred':>12} {'uncompressed':>13} {'HTML':>10} {'time':>7}")
    for name, tree in trees:
        for row in _run_tree(tree, options.venues):
            print(f"{name:7} {row['page']:36} {row['requests']:>4} {row['transferred'] / 1000:>9.1f} KB "
                  f"{row['uncompressed'] / 1000:>10.1f} KB {row['html'] / 1000:>7.1f} KB {row['seconds']:>6.2f}s"
                  + ("" if row["status"] == 200 else f"  (HTTP {row['status']})"))


if __name__ == "__main__":
    main()
