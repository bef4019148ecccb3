"""The REST API at /api/v1/ (django-ninja; OpenAPI generated from the code)."""

from ninja import NinjaAPI

api = NinjaAPI(title="fangkong API", version="1", urls_namespace="api")
