"""The admin site keeps reference data (users, organisations, key groups) for the county HQ admin only."""

from tests.base import WorldTestCase


class AdminSiteTests(WorldTestCase):
    def test_hq_admin_with_staff_flag_edits_users_and_key_groups(self):
        self.w.hq.is_staff = True
        self.w.hq.save()
        self.client.force_login(self.w.hq)
        for url in ("/admin/", "/admin/accounts/user/", "/admin/people/keygroup/", "/admin/accounts/organization/",
                    f"/admin/accounts/user/{self.w.grid_a_worker.pk}/change/"):
            self.assertEqual(self.client.get(url).status_code, 200, url)

    def test_people_are_not_in_the_admin(self):
        self.w.hq.is_staff = True
        self.w.hq.save()
        self.client.force_login(self.w.hq)
        self.assertEqual(self.client.get("/admin/people/person/").status_code, 404)

    def test_others_are_refused(self):
        for user in (self.w.grid_a_worker, self.w.auditor, self.w.township_a_officer):
            user.is_staff = True
            user.save()
            self.client.force_login(user)
            response = self.client.get("/admin/accounts/user/")
            self.assertIn(response.status_code, (302, 403), user)
