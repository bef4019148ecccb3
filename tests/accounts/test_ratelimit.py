from django.core.cache import cache
from django.test import override_settings
from django.urls import reverse

from tests.base import WorldTestCase


@override_settings(FANGKONG_LOGIN_RATE_PER_MINUTE=3)
class LoginRateLimitTest(WorldTestCase):
    def setUp(self):
        cache.clear()

    def test_one_address_trying_many_accounts_is_slowed_down(self):
        for name in ("a1", "a2", "a3"):
            response = self.client.post(reverse("login"), {"username": name, "password": "x"})
            self.assertEqual(response.status_code, 200)
        response = self.client.post(reverse("login"), {"username": "a4", "password": "x"})
        self.assertEqual(response.status_code, 429)
        self.assertContains(response, "过于频繁", status_code=429)

    def test_token_endpoint_shares_the_limit(self):
        for _ in range(3):
            self.client.post("/api/v1/auth/token", {"username": "x", "password": "y"}, content_type="application/json")
        response = self.client.post("/api/v1/auth/token", {"username": "hq", "password": "y"},
                                    content_type="application/json")
        self.assertEqual(response.status_code, 429)
        self.assertEqual(response.json()["code"], "throttled")
