"""One blueprint per feature; each view reads input, calls one service and renders."""
from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from web.blueprints import auth, inbox, instances, quarterly, schedule, scores, start, task
    for module in (auth, inbox, task, instances, start, scores, schedule, quarterly):
        app.register_blueprint(module.bp)
