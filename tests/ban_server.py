"""A real local HTTP server that answers like the national address API (BAN / addok).

    server = BanServer()
    server.add("20 avenue de Ségur 75007 Paris", lon=2.3085, lat=48.8508, score=0.95, citycode="75107")
    with server:                      # starts a thread on 127.0.0.1, random port
        geocode(server.url, …)
    server.requests                   # [("search", "20 avenue…"), ("csv", 120), …]

`/search/?q=…&citycode=…` answers a GeoJSON FeatureCollection; `/search/csv/` takes the
multipart upload (`data`, `columns`, `citycode`, `result_columns`) and answers the CSV with the
result columns appended, as the real service does. A query matches a known address when its
normalised text contains the known one; `citycode` filters as on the real service.
"""

from __future__ import annotations

import csv
import io
import json
import re
import threading
import unicodedata
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

RESULT_COLUMNS = ["latitude", "longitude", "result_label", "result_score", "result_type", "result_citycode", "result_status"]

DEFAULT_ADDRESSES = [
    # address, lon, lat, score, citycode
    ("20 avenue de Ségur 75007 Paris", 2.308541, 48.850898, 0.96, "75107"),
    ("1 place de la Comédie 34000 Montpellier", 3.879809, 43.608518, 0.93, "34172"),
    ("1 place Bellecour 69002 Lyon", 4.832077, 45.757814, 0.94, "69382"),
    ("Place du Capitole 31000 Toulouse", 1.443987, 43.604316, 0.91, "31555"),
    ("14 rue Sainte-Catherine 33000 Bordeaux", -0.573393, 44.840915, 0.89, "33063"),
]


def _normalise(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    ascii_only = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[^a-z0-9]+", " ", ascii_only.lower()).split())


class BanServer:
    def __init__(self, addresses: list[tuple[str, float, float, float, str]] | None = None) -> None:
        self.known: list[dict[str, Any]] = []
        self.requests: list[tuple[str, Any]] = []
        self.fail_with: int | None = None  # answer every request with this HTTP status
        for address, lon, lat, score, citycode in DEFAULT_ADDRESSES if addresses is None else addresses:
            self.add(address, lon=lon, lat=lat, score=score, citycode=citycode)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def add(self, address: str, *, lon: float, lat: float, score: float, citycode: str, label: str | None = None) -> None:
        self.known.append({
            "key": _normalise(address), "lon": lon, "lat": lat, "score": score,
            "citycode": citycode, "label": label or address,
        })

    def match(self, query: str, citycode: str | None = None) -> dict[str, Any] | None:
        text = _normalise(query)
        for entry in self.known:
            if entry["key"] and entry["key"] in text and (not citycode or citycode == entry["citycode"]):
                return entry
        return None

    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> BanServer:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> BanServer:
        return self.start()

    def __exit__(self, *_exc: Any) -> None:
        self.stop()


def _feature(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [entry["lon"], entry["lat"]]},
        "properties": {
            "label": entry["label"], "score": entry["score"], "citycode": entry["citycode"],
            "type": "housenumber", "x": 0, "y": 0,
        },
    }


def _handler_for(server: BanServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: Any) -> None:  # keep test output clean
            pass

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            parsed = urlparse(self.path)
            if server.fail_with:
                return self._send(server.fail_with, b'{"message":"error"}', "application/json")
            if parsed.path.rstrip("/") != "/search":
                return self._send(404, b'{"message":"not found"}', "application/json")
            params = {k: v[0] for k, v in parse_qs(parsed.query).items()}
            query = params.get("q", "")
            server.requests.append(("search", query))
            if len(query.strip()) < 3:
                return self._send(400, b'{"code":400,"message":"q must contain at least 3 chars"}', "application/json")
            if params.get("autocomplete") == "1":  # addok: known addresses starting with the typed text
                typed = _normalise(query)
                entries = [e for e in server.known if e["key"].startswith(typed) or (e["key"] and e["key"] in typed)]
                entries = entries[: int(params.get("limit") or 5)]
            else:
                entry = server.match(query, params.get("citycode"))
                entries = [entry] if entry else []
            payload = {"type": "FeatureCollection", "version": "draft", "query": query,
                       "features": [_feature(entry) for entry in entries]}
            self._send(200, json.dumps(payload).encode(), "application/json; charset=utf-8")

        def do_POST(self) -> None:
            if server.fail_with:
                return self._send(server.fail_with, b'{"message":"error"}', "application/json")
            if urlparse(self.path).path.rstrip("/") != "/search/csv":
                return self._send(404, b'{"message":"not found"}', "application/json")
            length = int(self.headers.get("Content-Length", 0))
            raw = self.rfile.read(length)
            message = BytesParser(policy=HTTP).parsebytes(
                f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode() + raw
            )
            fields: dict[str, list[Any]] = {}
            for part in message.iter_parts():
                fields.setdefault(part.get_param("name", header="content-disposition"), []).append(
                    part.get_payload(decode=True)
                )
            rows = list(csv.DictReader(io.StringIO(fields["data"][0].decode("utf-8-sig"))))
            columns = [c.decode() for c in fields.get("columns", [])]
            citycode_column = fields.get("citycode", [b""])[0].decode()
            server.requests.append(("csv", len(rows)))
            out = io.StringIO()
            header = list(rows[0].keys()) if rows else []
            writer = csv.DictWriter(out, fieldnames=header + RESULT_COLUMNS)
            writer.writeheader()
            for row in rows:
                query = " ".join(row.get(c, "") for c in columns) if columns else " ".join(row.values())
                entry = server.match(query, row.get(citycode_column) or None if citycode_column else None)
                result = dict.fromkeys(RESULT_COLUMNS, "")
                if entry:
                    result.update(latitude=entry["lat"], longitude=entry["lon"], result_label=entry["label"],
                                  result_score=entry["score"], result_type="housenumber",
                                  result_citycode=entry["citycode"], result_status="ok")
                else:
                    result["result_status"] = "not-found"
                writer.writerow({**row, **result})
            self._send(200, out.getvalue().encode("utf-8"), "text/csv; charset=utf-8")

    return Handler
