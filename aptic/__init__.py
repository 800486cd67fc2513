"""The APTIC platform shell: the app factory wiring the domain packages together."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Flask

from aptic import config, web
from aptic.database import Database
from aptic.schema import DOMAIN_PACKAGES, optional_module


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(config.load(instance))
    app.config.update(overrides or {})
    logging.basicConfig(level=app.config["LOG_LEVEL"], format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    Database(
        app.config["DATABASE_URL"], pool_size=app.config["DATABASE_POOL_SIZE"], pool_timeout=app.config["DATABASE_POOL_TIMEOUT"]
    ).init_app(app)
    web.init_app(app)
    for package in DOMAIN_PACKAGES:
        module = optional_module(f"{package}.web")
        if module is not None:
            app.register_blueprint(module.bp)
    web.init_rest_api(app)
    return app
