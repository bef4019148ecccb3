from django.conf import settings
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client

from fangkong.audit.models import AuditEvent

from ..factories import PASSWORD
from .base import API, ApiTestCase


class TokenTest(ApiTestCase):
    def token(self, username, password):
        return self.client.post(
            f"{API}/auth/token",
            {"username": username, "password": password},
            content_type="application/json",
        )

    def test_good_credentials_give_a_token_that_authenticates(self):
        response = self.token("grid_a", PASSWORD)
        self.assertEqual(response.status_code, 200)
        token = response.json()["token"]
        areas = self.client.get(f"{API}/areas", HTTP_AUTHORIZATION=f"Bearer {token}")
        self.assertEqual(areas.status_code, 200)
        self.assertEqual([a["code"] for a in areas.json()["items"]], [self.w.grid_a.code])

    def test_wrong_password_is_401_in_chinese_and_counted(self):
        response = self.token("grid_a", "not-the-password")
        self.assertEqual(response.status_code, 401)
        self.assertEqual(response.json(), {"code": "invalid_credentials", "message": "用户名或密码错误"})
        self.w.grid_a_worker.refresh_from_db()
        self.assertEqual(self.w.grid_a_worker.failed_logins, 1)
        self.assertTrue(
            AuditEvent.objects.filter(action="login_failed", object_repr="grid_a").exists()
        )

    def test_unknown_user_is_401(self):
        self.assertError(self.token("nobody", PASSWORD), 401, "invalid_credentials")

    def test_account_locks_after_max_failures_even_for_the_right_password(self):
        limit = settings.FANGKONG_LOGIN_MAX_FAILURES
        for _ in range(limit - 1):
            self.assertEqual(self.token("grid_a", "wrong-password").status_code, 401)
        self.assertError(self.token("grid_a", "wrong-password"), 403, "account_locked", "已锁定")
        self.assertError(self.token("grid_a", PASSWORD), 403, "account_locked", "已锁定")

    def test_missing_fields_are_invalid(self):
        response = self.client.post(
            f"{API}/auth/token", {"username": "grid_a"}, content_type="application/json"
        )
        body = self.assertError(response, 422, "invalid", "password：此项必填")
        self.assertEqual(body["errors"], {"password": ["此项必填。"]})

    def test_unparseable_body_is_invalid(self):
        response = self.client.post(
            f"{API}/auth/token", "{not json", content_type="application/json"
        )
        self.assertError(response, 400, "invalid")


class AuthenticationTest(ApiTestCase):
    def test_no_credentials_is_401_in_chinese(self):
        response = self.client.get(f"{API}/people")
        self.assertEqual(response.status_code, 401)
        self.assertEqual(response.json(), {"code": "unauthorized", "message": "请先登录"})

    def test_unknown_bearer_token_is_401(self):
        response = self.client.get(f"{API}/people", HTTP_AUTHORIZATION="Bearer not-a-token")
        self.assertError(response, 401, "unauthorized")

    def test_garbled_bearer_token_is_401(self):
        for header in ("Bearer 令牌", "Bearer ", "Token abc"):
            response = self.client.get(f"{API}/people", HTTP_AUTHORIZATION=header)
            self.assertError(response, 401, "unauthorized")

    def test_bearer_token_authenticates(self):
        response = self.get(self.w.grid_a_worker, "/people")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json()["count"], 1)

    def test_session_authenticates(self):
        self.client.force_login(self.w.hq)
        response = self.client.get(f"{API}/people")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json()["count"], 2)

    def test_session_post_needs_the_csrf_token(self):
        client = Client(enforce_csrf_checks=True)
        client.force_login(self.w.grid_a_worker)
        path = f"{API}/people/{self.w.person_a.pk}/reveal"
        refused = client.post(path, {"reason": "核实身份"}, content_type="application/json")
        self.assertError(refused, 403, "csrf_failed")
        secret = _get_new_csrf_string()
        client.cookies[settings.CSRF_COOKIE_NAME] = secret
        allowed = client.post(
            path, {"reason": "核实身份"}, content_type="application/json", HTTP_X_CSRFTOKEN=secret
        )
        self.assertEqual(allowed.status_code, 200, allowed.content)

    def test_bearer_post_needs_no_csrf_token(self):
        client = Client(enforce_csrf_checks=True)
        response = client.post(
            f"{API}/people/{self.w.person_a.pk}/reveal",
            {"reason": "核实身份"},
            content_type="application/json",
            **self.auth(self.w.grid_a_worker),
        )
        self.assertEqual(response.status_code, 200)

    def test_wrong_method_is_json_405(self):
        response = self.client.put(
            f"{API}/people", {}, content_type="application/json", **self.auth(self.w.hq)
        )
        self.assertError(response, 405, "method_not_allowed")
        self.assertIn("GET", response["Allow"])
