import re

from django.contrib.staticfiles import finders

from .base import API, ApiTestCase

CONTRACT = {
    "/api/v1/auth/token": {"post"},
    "/api/v1/areas": {"get"},
    "/api/v1/areas/{code}": {"get"},
    "/api/v1/people": {"get", "post"},
    "/api/v1/people/{id}": {"get", "patch"},
    "/api/v1/people/{id}/reveal": {"post"},
    "/api/v1/tasks": {"get"},
    "/api/v1/tasks/{id}/start": {"post"},
    "/api/v1/tasks/{id}/complete": {"post"},
    "/api/v1/jobs/{id}": {"get"},
    "/api/v1/audit": {"get"},
}


class OpenApiTest(ApiTestCase):
    def test_openapi_is_public_and_lists_the_contract(self):
        response = self.client.get(f"{API}/openapi.json")
        self.assertEqual(response.status_code, 200)
        schema = response.json()
        for path, methods in CONTRACT.items():
            self.assertIn(path, schema["paths"])
            self.assertEqual(set(schema["paths"][path]), methods, path)
        self.assertEqual(
            set(schema["components"]["securitySchemes"]), {"BearerTokenAuth", "SessionAuth"}
        )
        self.assertNotIn("security", schema["paths"]["/api/v1/auth/token"]["post"])

    def test_docs_page_is_public_and_loads_nothing_from_the_internet(self):
        response = self.client.get(f"{API}/docs")
        self.assertEqual(response.status_code, 200)
        html = response.content.decode()
        assets = re.findall(r"<(?:script|link)\b[^>]*?(?:src|href)=\"([^\"]+)\"", html)
        self.assertTrue(any(a.endswith(".js") for a in assets), html)
        for asset in assets:
            self.assertNotRegex(asset, r"^(https?:)?//", asset)
            self.assertTrue(asset.startswith("/static/"), asset)
            self.assertIsNotNone(finders.find(asset.removeprefix("/static/")), asset)
        self.assertNotRegex(html, r"(src|href)=\"(https?:)?//")
        self.assertIn('"validatorUrl": null', html)

    def test_unknown_api_path_is_json_404(self):
        response = self.client.get(f"{API}/no-such-thing")
        self.assertError(response, 404, "not_found", "接口不存在")
