"""Endpoint inputs declared once: marshmallow fields with French messages, parsed and documented.

A view declares its query string or JSON body as a `marshmallow.Schema` built from the fields
below and decorates itself with `@api_bp.arguments(Schema, location=...)` (flask-smorest): the
same declaration validates the request and generates the OpenAPI document. A bad value becomes
an `InvalidInput` (HTTP 400, code `invalid_parameter`) naming the parameter in French, so the API
and the pages answer bad input the same way. Pages that read the same inputs call `parse`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

import flask_smorest
import marshmallow
from flask import Flask, request
from marshmallow import ValidationError, fields
from webargs.flaskparser import FlaskParser

from directory.db import PARIS_TZ
from directory.errors import InvalidInput

TRUE_VALUES = frozenset({"1", "true", "oui", "on", "yes"})
FALSE_VALUES = frozenset({"0", "false", "non", "off", "no", ""})
ERROR_SCHEMA_NAME = "Error"


class _Parameter(fields.Field):
    """A query-string value: blank means absent; errors name the parameter in French."""

    def __init__(self, *, description: str = "", **kwargs: Any) -> None:
        kwargs.setdefault("load_default", None)
        metadata = dict(kwargs.pop("metadata", {}) or {})
        if description:
            metadata["description"] = description
        super().__init__(metadata=metadata, **kwargs)

    @property
    def parameter(self) -> str:
        return self.data_key or self.name or "?"

    def fail(self, message: str) -> ValidationError:
        return ValidationError(message.replace("{name}", self.parameter))

    def deserialize(self, value: Any, attr: str | None = None, data: Mapping[str, Any] | None = None, **kwargs: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            value = marshmallow.missing
        return super().deserialize(value, attr, data, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> Any:
        return value.strip() if isinstance(value, str) else value


class Text(_Parameter):
    """A free text (stripped)."""


class Number(_Parameter):
    """A finite decimal number; a comma is accepted as the decimal separator."""

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> float:
        raw = str(value).strip()
        try:
            number = float(raw.replace(",", "."))
        except ValueError:
            raise self.fail(f"Le paramètre « {{name}} » doit être un nombre (reçu « {raw} »).") from None
        if not math.isfinite(number):
            raise self.fail(f"Le paramètre « {{name}} » doit être un nombre fini (reçu « {raw} »).")
        return number


class Integer(_Parameter):
    """A whole number."""

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> int:
        raw = str(value).strip()
        try:
            return int(raw)
        except ValueError:
            raise self.fail(f"Le paramètre « {{name}} » doit être un nombre entier (reçu « {raw} »).") from None


class Flag(_Parameter):
    """true/false (also oui/non, 1/0, on/off); absent or blank means false."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("load_default", False)
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> bool:
        if isinstance(value, bool):
            return value
        raw = str(value).strip().lower()
        if raw in TRUE_VALUES:
            return True
        if raw in FALSE_VALUES:
            return False
        raise self.fail(f"Le paramètre « {{name}} » vaut « true » ou « false » (reçu « {raw} »).")


class LocalDateTime(_Parameter):
    """An ISO 8601 date and time; without an offset it is read as a time in France (metropolitan)."""

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> datetime:
        raw = str(value).strip()
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            raise self.fail(
                f"Le paramètre « {{name}} » doit être une date et heure ISO 8601, ex. 2026-11-23T14:30 (reçu « {raw} »)."
            ) from None
        return moment if moment.tzinfo else moment.replace(tzinfo=PARIS_TZ)


class TextList(_Parameter):
    """Several values: the parameter repeated, or values separated by commas; `values` documents the allowed ones."""

    is_multiple = True

    def __init__(self, *, values: Iterable[str] | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("load_default", list)
        super().__init__(**kwargs)
        self.values = tuple(values) if values is not None else None

    def deserialize(self, value: Any, attr: str | None = None, data: Mapping[str, Any] | None = None, **kwargs: Any) -> Any:
        return fields.Field.deserialize(self, value, attr, data, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> list[str]:
        values = value if isinstance(value, list | tuple) else [value]
        return [part.strip() for item in values for part in str(item).split(",") if part.strip()]


# How apispec documents each field (it cannot guess the type of a custom field).
FIELD_TYPES: dict[type[fields.Field], tuple[str, str | None]] = {
    Text: ("string", None),
    Number: ("number", None),
    Integer: ("integer", None),
    Flag: ("boolean", None),
    LocalDateTime: ("string", "date-time"),
}


class FrenchParser(FlaskParser):
    """webargs' Flask parser that turns the first invalid parameter into an `InvalidInput`.

    A JSON body reaches its schema as sent (None when it is not JSON at all), so that `JsonBody`
    answers every body that is not a JSON object the same way, in French.
    """

    def load_json(self, req: Any, schema: marshmallow.Schema) -> Any:
        return req.get_json(silent=True)

    def handle_error(self, error: ValidationError, req: Any, schema: Any, *, error_status_code: Any,
                     error_headers: Any) -> None:
        parameter, message = next(iter(_flatten(error.normalized_messages())), ("?", ""))
        raise InvalidInput(message, field=parameter, code="invalid_parameter", status=400)


def _flatten(messages: Any, prefix: str = "") -> Iterable[tuple[str, str]]:
    """(parameter, first message) pairs, in the order the schema declares its fields."""
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            if key in ("query", "json", "form", "view_args"):
                yield from _flatten(value, prefix)
            else:
                yield from _flatten(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(messages, list | tuple):
        for value in messages:
            if isinstance(value, str):
                yield prefix, _french(value, prefix)
                return
            yield from _flatten(value, prefix)
    elif isinstance(messages, str):
        yield prefix, _french(messages, prefix)


# marshmallow's own messages, for the fields this module does not define (JSON bodies).
_FRENCH_MESSAGES = {
    "Unknown field.": "Le champ « {name} » n'est pas attendu.",
    "Missing data for required field.": "Le champ « {name} » est obligatoire.",
    "Field may not be null.": "Le champ « {name} » ne peut pas être vide.",
    "Not a valid string.": "Le champ « {name} » doit être un texte.",
    "Not a valid integer.": "Le champ « {name} » doit être un nombre entier.",
    "Not a valid number.": "Le champ « {name} » doit être un nombre.",
    "Not a valid boolean.": "Le champ « {name} » vaut true ou false.",
    "Not a valid list.": "Le champ « {name} » doit être une liste.",
    "Invalid input type.": "Le corps de la requête doit être un objet JSON.",
}


def _french(message: str, name: str) -> str:
    return _FRENCH_MESSAGES.get(message, message).replace("{name}", name)


parser = FrenchParser()


def parse(schema: type[marshmallow.Schema], location: str = "query") -> dict[str, Any]:
    """Parse the current request with a declared schema, as the API would (for pages)."""
    return parser.parse(_instance(schema), request, location=location, unknown=marshmallow.EXCLUDE)


@functools.cache
def _instance(schema: type[marshmallow.Schema]) -> marshmallow.Schema:
    """Schemas hold no request state: one instance each, as flask-smorest keeps for the API."""
    return schema()


class Schema(marshmallow.Schema):
    """Base of declared inputs: unknown query parameters are ignored, as browsers add their own."""

    class Meta:
        unknown = marshmallow.EXCLUDE


class JsonBody(Schema):
    """Base of declared JSON bodies: anything but a JSON object is refused with `invalid_json` (422)."""

    @marshmallow.pre_load
    def require_an_object(self, body: Any, **kwargs: Any) -> Any:
        if not isinstance(body, dict):
            raise InvalidInput("Le corps de la requête doit être un objet JSON.", field="body", code="invalid_json")
        return body


class ApiBlueprint(flask_smorest.Blueprint):
    """A blueprint whose routes are documented in `/api/v1/openapi.json` and parsed by `FrenchParser`."""

    ARGUMENTS_PARSER = parser

    def arguments(self, schema: Any, *, error_status_code: int = 400, **kwargs: Any) -> Callable:
        return super().arguments(schema, error_status_code=error_status_code, **kwargs)

    def errors(self, *statuses: int, codes: Mapping[int, Iterable[str]] | None = None) -> Callable:
        """Document the error answers of an operation: `{"error": {"code", "message", "field"}}`."""
        codes = codes or {}

        def decorator(view: Callable) -> Callable:
            for status in statuses:
                listed = ", ".join(f"`{code}`" for code in codes.get(status, ()))
                description = ERROR_DESCRIPTIONS.get(status, "Erreur")
                if listed:
                    description = f"{description} (codes : {listed})"
                view = self.alt_response(status, schema=ERROR_SCHEMA_NAME, description=description)(view)
            return view

        return decorator


ERROR_DESCRIPTIONS = {
    400: "Paramètre invalide",
    401: "Authentification requise",
    403: "Action refusée",
    404: "Introuvable",
    409: "Conflit avec l'état actuel",
    410: "N'est plus valable",
    422: "Valeur refusée",
    429: "Trop de tentatives",
    503: "Service momentanément indisponible",
}


class ErrorDetail(marshmallow.Schema):
    code = fields.String(required=True, metadata={"description": "Code stable, lisible par une machine"})
    message = fields.String(required=True, metadata={"description": "Message en français"})
    field = fields.String(allow_none=True, metadata={"description": "Champ ou paramètre en cause"})
    details = fields.Dict(metadata={"description": "Précisions propres au code"})


class ErrorSchema(marshmallow.Schema):
    error = fields.Nested(ErrorDetail, required=True)


class RestApi(flask_smorest.Api):
    """flask-smorest's document builder, without its error pages (the shell answers errors itself)."""

    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self) -> None:
        return None


def _document_custom_field(converter: Any, field: fields.Field, ret: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    if not isinstance(field, _Parameter):
        return {}
    if ret.get("default", marshmallow.missing) is None:
        del ret["default"]  # "absent" is not a value a client could send
    if isinstance(field, TextList):
        items: dict[str, Any] = {"type": "string"}
        if field.values is not None:
            items["enum"] = list(field.values)
        return {"type": "array", "items": items}
    for kind, (type_name, format_name) in FIELD_TYPES.items():
        if isinstance(field, kind):
            return {"type": type_name, **({"format": format_name} if format_name else {})}
    return {}


def init_rest_api(app: Flask, *, title: str, description: str, security_schemes: Mapping[str, Any]) -> RestApi:
    app.config.setdefault("API_TITLE", title)
    app.config.setdefault("API_VERSION", "1")
    app.config.setdefault("OPENAPI_VERSION", "3.1.0")
    rest_api = RestApi(app, spec_kwargs={"info": {"description": description}})
    rest_api.ma_plugin.converter.add_attribute_function(_document_custom_field)
    default_error = rest_api.spec.components.responses_lazy[rest_api.DEFAULT_ERROR_RESPONSE_NAME]
    default_error["description"] = "Autre erreur, au même format (500 `internal_error`, 503 `database_busy`)"
    for name, scheme in security_schemes.items():
        rest_api.spec.components.security_scheme(name, dict(scheme))
    return rest_api
