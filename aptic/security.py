"""The platform's guard at the edge: proxy awareness, security headers, id ranges, control characters.

Every request goes through `init_app`'s hooks, so each protection is declared once here rather
than in each view.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, request
from markupsafe import Markup
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from directory.db import MAX_ID
from directory.errors import InvalidInput

# C0 controls except tab, line feed and carriage return, DEL and the C1 controls.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_OPENING_TAGS = re.compile(r"<(script|style)(?=[\s>])", re.IGNORECASE)
FRAMEABLE_ENDPOINTS = frozenset({"maps.embed"})


class BoundedIntConverter(IntegerConverter):
    """`<int:…>` in every route: ids beyond what the database stores do not match (404), never reach SQL."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def csp_nonce() -> str:
    """The nonce of the current response's Content-Security-Policy (one per request)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


_VIEWPORT_META = re.compile(r"<meta\s+name=[\"']viewport[\"'][^>]*>\s*", re.IGNORECASE)


def nonced(fragment: str) -> Markup:
    """An HTML fragment (folium's output) whose <script> and <style> tags carry the request's nonce. Its own
    viewport <meta> (folium's blocks pinch-zoom with `user-scalable=no`) is dropped: the page has one."""
    fragment = _VIEWPORT_META.sub("", str(fragment))
    return Markup(_OPENING_TAGS.sub(lambda m: f'<{m.group(1)} nonce="{csp_nonce()}"', fragment))


def tile_origin(url: str) -> str | None:
    """The origin images come from for a tile URL template (`{s}.` subdomains become a wildcard)."""
    parts = urlsplit(url.replace("{s}.", "*."))
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def _image_sources(app: Flask) -> str:
    origin = tile_origin(app.config.get("TILE_URL", ""))
    return " ".join(["'self'", "data:", *([origin] if origin else [])])


def content_security_policy(frame_ancestors: str) -> str:
    nonce = csp_nonce()
    return "; ".join([
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}'",
        f"style-src 'self' 'nonce-{nonce}'",
        f"img-src {_image_sources(current_app)}",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        f"frame-ancestors {frame_ancestors}",
    ])


def add_security_headers(response: Response) -> Response:
    frameable = request.endpoint in FRAMEABLE_ENDPOINTS
    ancestors = current_app.config["EMBED_ANCESTORS"] if frameable else "'none'"
    response.headers["Content-Security-Policy"] = content_security_policy(ancestors)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    if not frameable:
        response.headers["X-Frame-Options"] = "DENY"
    if current_app.config.get("SESSION_COOKIE_SECURE"):
        response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    return response


def _texts(value: Any, name: str) -> Iterable[tuple[str, str]]:
    if isinstance(value, str):
        yield name, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _texts(key, name or str(key))
            yield from _texts(item, f"{name}.{key}" if name else str(key))
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _texts(item, name)


def refuse_control_characters() -> None:
    """NUL and other control characters in any parameter, form field, path part or JSON text → 400."""
    sources: list[tuple[str, Any]] = [(key, value) for key, value in request.args.items(multi=True)]
    sources += [(key, value) for key, value in request.form.items(multi=True)]
    sources += list((request.view_args or {}).items())
    if request.is_json:
        sources.append(("", request.get_json(silent=True)))
    for name, value in sources:
        for field, text in _texts(value, name):
            if CONTROL_CHARACTERS.search(text):
                raise InvalidInput(
                    f"Le champ « {field or 'corps'} » contient un caractère de contrôle (ex. octet nul) : retirez-le.",
                    field=field or "body", code="control_character", status=400,
                )


def init_app(app: Flask) -> None:
    """Call before any blueprint registers its routes (the id converter applies as rules are added)."""
    app.url_map.converters["int"] = BoundedIntConverter
    hops = app.config["TRUSTED_PROXIES"]
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)  # type: ignore[method-assign]
    app.before_request(refuse_control_characters)
    app.after_request(add_security_headers)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    app.jinja_env.filters["nonced"] = nonced
