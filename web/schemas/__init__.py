"""marshmallow schemas of the REST API (/api/v1): what goes in and what comes out, documented."""
