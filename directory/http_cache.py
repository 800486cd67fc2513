"""Public data that changes with the weekly rebuild (or never): cacheable answers with an ETag.

Browsers and proxies keep the answer for `max_age` seconds, then revalidate with If-None-Match and
get a bodiless 304 when nothing changed. flask-compress suffixes the tag with the encoding
(`"…:br"`) and evaluates the conditional request again after compressing, so both paths answer 304.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Response, request

PUBLIC_MAX_AGE = 300


def cacheable_json(payload: Any, *, max_age: int = PUBLIC_MAX_AGE, mimetype: str = "application/json",
                   public: bool = True) -> Response:
    """`payload` as compact JSON with a strong ETag and Cache-Control; 304 when the client has it."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    response = Response(body, mimetype=mimetype)
    if public:
        response.cache_control.public = True
    else:
        response.cache_control.private = True
    response.cache_control.max_age = max_age
    response.add_etag()
    return response.make_conditional(request)
