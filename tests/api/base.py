"""API test base: the World personas, each with a bearer token."""

from fangkong.accounts.services import issue_api_token

from ..base import WorldTestCase

API = "/api/v1"


class ApiTestCase(WorldTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.tokens = {}

    def auth(self, user) -> dict:
        if user.pk not in self.tokens:
            self.tokens[user.pk] = issue_api_token(user)
        return {"HTTP_AUTHORIZATION": f"Bearer {self.tokens[user.pk]}"}

    def get(self, as_user, path, **params):
        return self.client.get(API + path, params, **self.auth(as_user))

    def post(self, as_user, path, data=None):
        return self.client.post(
            API + path, data or {}, content_type="application/json", **self.auth(as_user)
        )

    def patch(self, as_user, path, data):
        return self.client.patch(
            API + path, data, content_type="application/json", **self.auth(as_user)
        )

    def assertError(self, response, status, code, message=None):
        self.assertEqual(response.status_code, status, response.content.decode())
        body = response.json()
        self.assertEqual(body["code"], code)
        if message is not None:
            self.assertIn(message, body["message"])
        return body
