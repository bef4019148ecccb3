"""Test set-up shared by the whole suite.

Tests run against a real database (SQLite in memory by default, PostgreSQL
when DATABASE_URL points at one), with a fixed data key and background jobs
run inline.
"""

import base64

import pytest

TEST_DATA_KEY = base64.urlsafe_b64encode(b"fangkong-test-key-32-bytes-long!").decode()


def pytest_configure(config):
    from django.conf import settings

    settings.FANGKONG_DATA_KEY = TEST_DATA_KEY
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    # Off by default: the suite logs in far more often than a person would;
    # tests/accounts/test_ratelimit.py turns it on.
    settings.FANGKONG_LOGIN_RATE_PER_MINUTE = 0
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _fresh_process_caches():
    """What a process keeps beside the database: a test's rolled-back rows must not live on in them."""
    from fangkong.core import crypto
    from fangkong.policy.services import forget_venue_test_rule

    crypto.clear_key_cache()
    forget_venue_test_rule()
    yield
