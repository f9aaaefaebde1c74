"""/api/v1/tokens: administrators issue and revoke the tokens integrations call with."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from engine.services import api_tokens
from web.api.auth import api_actor
from web.auth_user import runtime
from web.schemas.common import MessageSchema
from web.schemas.tokens import CreatedTokenSchema, NewTokenArgs, TokenListSchema

blp = Blueprint("api_tokens", __name__, url_prefix="/tokens", description="接口令牌 / API tokens (administrators)")


@blp.route("")
class Tokens(MethodView):
    @blp.response(200, TokenListSchema)
    def get(self):
        """Every token issued, active ones first; never the secrets."""
        return {"items": api_tokens.list_tokens(runtime(), api_actor())}

    @blp.arguments(NewTokenArgs)
    @blp.response(201, CreatedTokenSchema)
    def post(self, args):
        """Issue a token; the answer holds the secret, which is not stored and cannot be shown again."""
        return api_tokens.create(runtime(), api_actor(), **args)


@blp.route("/<int:token_id>/revoke")
class TokenRevoke(MethodView):
    @blp.response(200, MessageSchema)
    def post(self, token_id: int):
        """Revoke a token: every later call with it gets 401."""
        api_tokens.revoke(runtime(), api_actor(), token_id)
        return {"status": "revoked"}
