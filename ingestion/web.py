"""The open-data page /donnees/ and the files of the last publication (ingestion.publication)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template, send_from_directory

from ingestion.dates import PUBLICATION_METADATA
from ingestion.publication import FILES, LICENCE, publication_dir, read_metadata

bp = Blueprint("ingestion", __name__, template_folder="templates")
SERVED = (*FILES, PUBLICATION_METADATA)


@bp.get("/donnees/")
def publication_page() -> str:
    metadata = read_metadata(publication_dir())
    return render_template("ingestion/donnees.html", metadata=metadata, files=FILES, licence=LICENCE)


@bp.get("/donnees/<name>")
def publication_file(name: str) -> Any:
    if name not in SERVED or not (publication_dir() / name).is_file():
        abort(404)
    mimetype = {"csv": "text/csv", "geojson": "application/geo+json"}.get(name.rsplit(".", 1)[-1], "application/json")
    response = send_from_directory(publication_dir(), name, mimetype=mimetype, max_age=3600)
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response
