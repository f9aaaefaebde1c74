"""One blueprint per feature; each view reads input, calls one service and renders."""
from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from web.blueprints import admin
    from web.blueprints import auth, inbox, instances, quarterly, schedule, scores, start, task
    for module in (auth, inbox, task, instances, start, scores, schedule, quarterly):
        app.register_blueprint(module.bp)
    app.register_blueprint(admin.bp)
    from web.blueprints import admin_tokens
    app.register_blueprint(admin_tokens.bp)
    from web.blueprints import results
    app.register_blueprint(results.bp)
    from web.blueprints import tracker
    app.register_blueprint(tracker.bp)
    from web.blueprints import editor
    app.register_blueprint(editor.bp)
    from web.blueprints import jobs
    app.register_blueprint(jobs.bp)
