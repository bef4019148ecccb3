from datetime import timedelta

from django.conf import settings
from django.contrib.auth import authenticate
from django.test import Client
from django.utils import timezone

from fangkong.accounts.models import User
from fangkong.accounts.services import is_locked, login_for_token
from tests.base import WorldTestCase
from tests.factories import PASSWORD


def fail(username, times):
    for _ in range(times):
        assert authenticate(request=None, username=username, password="wrong-password") is None


class LoginLockoutTest(WorldTestCase):
    def user(self):
        return User.objects.get(username="grid_a")

    def test_right_password_logs_in(self):
        self.assertEqual(authenticate(request=None, username="grid_a", password=PASSWORD), self.w.grid_a_worker)

    def test_failures_are_counted(self):
        fail("grid_a", 2)
        self.assertEqual(self.user().failed_logins, 2)
        self.assertFalse(self.user().is_locked)

    def test_account_locks_after_the_maximum_failures(self):
        fail("grid_a", settings.FANGKONG_LOGIN_MAX_FAILURES)
        user = self.user()
        self.assertTrue(user.is_locked)
        self.assertTrue(is_locked("grid_a"))
        lock = user.locked_until - timezone.now()
        self.assertAlmostEqual(lock.total_seconds(), settings.FANGKONG_LOGIN_LOCK_MINUTES * 60, delta=60)
        self.assertIsNone(authenticate(request=None, username="grid_a", password=PASSWORD))

    def test_lock_ends_when_locked_until_passes(self):
        fail("grid_a", settings.FANGKONG_LOGIN_MAX_FAILURES)
        User.objects.filter(username="grid_a").update(locked_until=timezone.now() - timedelta(seconds=1))
        self.assertEqual(authenticate(request=None, username="grid_a", password=PASSWORD), self.w.grid_a_worker)

    def test_successful_page_login_resets_the_counter(self):
        fail("grid_a", settings.FANGKONG_LOGIN_MAX_FAILURES - 1)
        Client().force_login(self.user())  # django.contrib.auth.login, as the login page does
        self.assertEqual(self.user().failed_logins, 0)
        fail("grid_a", settings.FANGKONG_LOGIN_MAX_FAILURES - 1)
        self.assertFalse(self.user().is_locked)

    def test_successful_token_login_resets_the_counter(self):
        fail("grid_a", settings.FANGKONG_LOGIN_MAX_FAILURES - 1)
        self.assertEqual(login_for_token(None, "grid_a", PASSWORD), self.w.grid_a_worker)
        self.assertEqual(self.user().failed_logins, 0)

    def test_token_login_respects_the_lock(self):
        fail("grid_a", settings.FANGKONG_LOGIN_MAX_FAILURES)
        self.assertIsNone(login_for_token(None, "grid_a", PASSWORD))

    def test_failures_for_one_user_do_not_lock_another(self):
        fail("grid_a", settings.FANGKONG_LOGIN_MAX_FAILURES)
        self.assertFalse(User.objects.get(username="grid_b").is_locked)

    def test_inactive_user_cannot_log_in(self):
        User.objects.filter(username="grid_a").update(is_active=False)
        self.assertIsNone(authenticate(request=None, username="grid_a", password=PASSWORD))

    def test_unknown_username_fails_quietly(self):
        fail("nobody", 1)
        self.assertFalse(is_locked("nobody"))
