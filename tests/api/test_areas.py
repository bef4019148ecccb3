from .base import ApiTestCase


class AreasTest(ApiTestCase):
    def codes(self, user, **params):
        response = self.get(user, "/areas", **params)
        self.assertEqual(response.status_code, 200, response.content)
        return [item["code"] for item in response.json()["items"]]

    def test_grid_worker_sees_only_their_grid(self):
        self.assertEqual(self.codes(self.w.grid_a_worker), [self.w.grid_a.code])

    def test_township_officer_sees_their_subtree(self):
        w = self.w
        self.assertEqual(
            self.codes(w.township_a_officer),
            [w.township_a.code, w.village_a.code, w.grid_a.code, w.grid_a2.code],
        )

    def test_county_sees_all_and_filters_by_parent_and_level(self):
        w = self.w
        self.assertEqual(len(self.codes(w.hq)), 8)
        self.assertEqual(
            self.codes(w.hq, parent=w.county.code), [w.township_a.code, w.township_b.code]
        )
        self.assertEqual(
            self.codes(w.hq, level="grid"), [w.grid_a.code, w.grid_a2.code, w.grid_b.code]
        )

    def test_list_items(self):
        body = self.get(self.w.hq, "/areas", parent=self.w.county.code, page_size=1).json()
        self.assertEqual(body["count"], 2)
        self.assertEqual(
            body["items"],
            [
                {
                    "code": self.w.township_a.code,
                    "name": "甲镇",
                    "level": "township",
                    "level_label": "乡镇（街道）",
                    "parent": self.w.county.code,
                    "population": 1,
                }
            ],
        )

    def test_detail_lists_children(self):
        body = self.get(self.w.township_a_officer, f"/areas/{self.w.village_a.code}").json()
        self.assertEqual(body["name"], "甲村")
        self.assertEqual(body["children_count"], 2)
        self.assertEqual(
            [c["code"] for c in body["children"]], [self.w.grid_a.code, self.w.grid_a2.code]
        )

    def test_out_of_scope_and_missing_area_give_the_same_404(self):
        forbidden = self.get(self.w.grid_a_worker, f"/areas/{self.w.grid_b.code}")
        missing = self.get(self.w.hq, "/areas/999999999999")
        self.assertError(forbidden, 404, "not_found", "未找到该区划或无权查看")
        self.assertEqual(forbidden.json(), missing.json())
