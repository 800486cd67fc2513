"""Web plumbing of the shell: extensions, error pages and answers, template filters (the public home is in maps)."""

from __future__ import annotations

import logging
from flask import Blueprint, Flask, abort, current_app, jsonify, make_response, render_template, request, send_from_directory
from flask_compress import Compress
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from werkzeug.exceptions import HTTPException

from aptic import info_pages, security
from aptic.schema import DOMAIN_PACKAGES, optional_module
from directory import basemap, french, params
from directory.errors import DomainError
from directory.web import csrf, limiter, login_manager

log = logging.getLogger(__name__)

bp = Blueprint("aptic", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static/aptic")

# Compressed answers (brotli or gzip, whichever the browser accepts; streamed answers too). The
# density page and the coverage pages are mostly HTML tables and GeoJSON, which shrink tenfold.
COMPRESSED_TYPES = [
    "text/html", "text/css", "text/plain", "text/csv", "text/javascript", "application/javascript",
    "application/json", "application/geo+json", "application/problem+json", "image/svg+xml",
]
compress = Compress()

HTTP_ERRORS = {
    400: ("bad_request", "La requête est mal formée."),
    401: ("unauthenticated", "Connectez-vous pour accéder à cette page."),
    403: ("forbidden", "Vous n'avez pas les droits nécessaires."),
    404: ("not_found", "Cette page n'existe pas."),
    405: ("method_not_allowed", "Cette méthode n'est pas acceptée ici."),
    413: ("payload_too_large", "Le fichier envoyé est trop volumineux."),
    429: ("rate_limited", "Trop de tentatives : réessayez dans quelques minutes."),
}


@bp.get("/healthz")
def healthz() -> tuple[dict[str, str], int]:
    return {"status": "ok"}, 200


@bp.get("/static/vendor/<package>/<path:filename>")
def vendor(package: str, filename: str):
    """Leaflet, MarkerCluster and d3 from their installed packages: no page depends on another host."""
    directory = basemap.vendor_directory(package)
    if directory is None:
        abort(404)
    return send_from_directory(directory, filename, max_age=7 * 24 * 3600)


@bp.get("/api/v1/openapi.json")
def openapi() -> dict:
    """The OpenAPI description of the public API, generated from the endpoints' declarations."""
    return openapi_document()


def openapi_document() -> dict:
    document = current_app.extensions["aptic.rest_api"].spec.to_dict()
    document["servers"] = [{"url": current_app.config["PUBLIC_URL"].rstrip("/") or "/"}]
    document["paths"] = dict(sorted(document["paths"].items()))
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method != "parameters":
                _list_edge_errors(path, method, operation)
    return document


def _error_response(description: str) -> dict:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{params.ERROR_SCHEMA_NAME}"}}}}


def _list_edge_errors(path: str, method: str, operation: dict) -> None:
    """The answers the shell itself may give on any operation, listed one by one instead of `default`."""
    responses = operation.setdefault("responses", {})
    responses.pop("default", None)
    edge = {
        "400": "Paramètre invalide (codes : `control_character`, `invalid_parameter`)",
        "500": "Erreur interne (code : `internal_error`)",
        "503": "Service momentanément indisponible (code : `database_busy`)",
    }
    if "{" in path:
        edge["404"] = "Introuvable (code : `not_found`, dont un identifiant hors limites)"
    if method in ("post", "put", "patch"):
        edge["413"] = "Corps de requête trop volumineux (code : `payload_too_large`)"
    for status, description in edge.items():
        responses.setdefault(status, _error_response(description))


def init_rest_api(app: Flask) -> None:
    """The generated API document; each package's `web.api_bp` (a `directory.params.ApiBlueprint`) joins it."""
    rest_api = params.init_rest_api(
        app,
        title="API de la plateforme APTIC",
        description="Lieux de médiation numérique qualifiés APTIC et pass numérique.",
        security_schemes={"venueApiKey": {"type": "http", "scheme": "bearer",
                                          "description": "Clé d'API d'un lieu (aptic_…)"},
                          "organisationApiKey": {"type": "http", "scheme": "bearer",
                                                 "description": "Clé d'API d'une organisation (aptic_…), "
                                                                "ici celle du commanditaire de la commande"}},
    )
    app.extensions["aptic.rest_api"] = rest_api
    for package in DOMAIN_PACKAGES:
        module = optional_module(f"{package}.web")
        if module is not None and hasattr(module, "api_bp"):
            rest_api.register_blueprint(module.api_bp)


def wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def error_response(status: int, payload: dict):
    if wants_json():
        return jsonify({"error": payload}), status
    return render_template("aptic/error.html", status=status, error=payload), status


def handle_domain_error(error: DomainError):
    return error_response(error.status, error.to_dict())


def handle_csrf_error(error: CSRFError):
    return error_response(
        400,
        {"code": "csrf_failed", "message": "Le formulaire a expiré ou n'est pas valide : rechargez la page et recommencez."},
    )


def handle_http_error(error: HTTPException):
    status = error.code or 500
    code, message = HTTP_ERRORS.get(status, ("http_error", error.description or "Erreur."))
    if status == 413 and current_app.config.get("MAX_CONTENT_LENGTH"):
        limit = french.number(current_app.config["MAX_CONTENT_LENGTH"] / (1024 * 1024), 0)
        message = f"L'envoi dépasse la taille maximale acceptée ({limit} Mo) : choisissez un fichier plus léger."
    response = make_response(error_response(status, {"code": code, "message": message}))
    if "Allow" in (headers := dict(error.get_headers())):
        response.headers["Allow"] = headers["Allow"]
    return response


def handle_database_busy(error: SQLAlchemyTimeoutError):
    log.warning("no database connection free for %s %s: %s", request.method, request.path, error)
    response = make_response(error_response(
        503, {"code": "database_busy", "message": "Le service est momentanément saturé : réessayez dans quelques secondes."}
    ))
    response.headers["Retry-After"] = "5"
    return response


def handle_unexpected_error(error: Exception):
    log.exception("unexpected error on %s %s", request.method, request.path)
    return error_response(
        500, {"code": "internal_error", "message": "Une erreur interne est survenue ; l'équipe APTIC est prévenue."}
    )


def init_app(app: Flask) -> None:
    app.config.setdefault("COMPRESS_MIMETYPES", COMPRESSED_TYPES)
    app.config.setdefault("COMPRESS_ALGORITHM", ["br", "gzip"])
    app.config.setdefault("COMPRESS_ALGORITHM_STREAMING", ["br", "gzip"])
    # Static files are streamed: let them still answer conditional requests after compression.
    app.config.setdefault("COMPRESS_STREAMING_ENDPOINT_CONDITIONAL", ["aptic.vendor", "aptic.static", "maps.static"])
    compress.init_app(app)
    security.init_app(app)
    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    app.register_blueprint(bp)
    app.register_blueprint(info_pages.bp)
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(SQLAlchemyTimeoutError, handle_database_busy)
    app.register_error_handler(Exception, handle_unexpected_error)
    app.jinja_env.filters.update(
        paris=french.paris_time,
        euros=french.euros,
        number=french.number,
        percent=french.percent,
        plural=french.plural,
        count=french.count,
        long_date=french.long_date,
        short_date=french.short_date,
        month_year=french.month_year,
    )
