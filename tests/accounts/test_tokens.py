from datetime import timedelta

from django.utils import timezone

from fangkong.accounts.models import ApiToken, hash_token
from fangkong.accounts.services import issue_api_token, user_for_token
from tests.base import WorldTestCase


class ApiTokenTest(WorldTestCase):
    def test_issued_token_finds_its_user_and_only_its_hash_is_stored(self):
        key = issue_api_token(self.w.grid_a_worker)
        self.assertEqual(user_for_token(key), self.w.grid_a_worker)
        token = ApiToken.objects.get(user=self.w.grid_a_worker)
        self.assertEqual(token.key_hash, hash_token(key))
        self.assertNotIn(key, token.key_hash)
        self.assertIsNotNone(token.last_used_at)

    def test_unknown_token_finds_nobody(self):
        self.assertIsNone(user_for_token("not-a-token"))

    def test_expired_token_finds_nobody(self):
        key = issue_api_token(self.w.grid_a_worker)
        ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
        self.assertIsNone(user_for_token(key))

    def test_token_of_inactive_user_finds_nobody(self):
        key = issue_api_token(self.w.grid_a_worker)
        type(self.w.grid_a_worker).objects.filter(pk=self.w.grid_a_worker.pk).update(is_active=False)
        self.assertIsNone(user_for_token(key))
