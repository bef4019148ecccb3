"""The sentinel pages: scope, the phone sale form, reports."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from fangkong.sentinels.models import DrugPurchase, Sentinel, SentinelReport

from .base import SentinelTestCase


class SentinelPageTests(SentinelTestCase):
    def test_reporter_sees_only_their_sentinels(self):
        self.client.force_login(self.reporter)
        body = self.client.get(reverse("sentinels:index")).content.decode()
        self.assertIn("甲村大药房", body)
        self.assertIn("甲村卫生室", body)
        self.assertNotIn("甲镇中心小学", body)
        self.assertNotIn("乙村药店", body)

    def test_index_lists_the_sentinels_not_reported_today(self):
        self.client.force_login(self.w.township_a_officer)
        response = self.client.get(reverse("sentinels:index"))
        self.assertContains(response, 'data-testid="missing-reports"')
        missing = [s.pk for s in response.context["missing"]]
        self.assertIn(self.school.pk, missing)
        self.assertNotIn(self.pharmacy_b.pk, missing)  # township B is not theirs

    def test_other_township_is_404(self):
        self.client.force_login(self.w.township_a_officer)
        for name in ("detail", "sale", "fever"):
            url = reverse(f"sentinels:{name}", args=[self.pharmacy_b.pk])
            self.assertEqual(self.client.get(url).status_code, 404, url)
        self.client.force_login(self.w.outsider)
        self.assertEqual(self.client.get(reverse("sentinels:detail", args=[self.pharmacy.pk])).status_code, 404)
        self.assertEqual(self.client.post(reverse("sentinels:zero", args=[self.clinic.pk])).status_code, 404)

    def test_filter_by_kind(self):
        self.client.force_login(self.w.hq)
        response = self.client.get(reverse("sentinels:index"), {"kind": "school"})
        self.assertEqual([s.pk for s in response.context["page"]], [self.school.pk])

    def test_zero_report_button(self):
        self.client.force_login(self.reporter)
        response = self.client.post(reverse("sentinels:zero", args=[self.clinic.pk]))
        self.assertRedirects(response, reverse("sentinels:detail", args=[self.clinic.pk]))
        self.assertTrue(SentinelReport.objects.filter(sentinel=self.clinic, kind="zero_report").exists())

    def test_officer_registers_a_sentinel(self):
        self.client.force_login(self.w.township_a_officer)
        response = self.client.post(reverse("sentinels:new"), {
            "kind": "tcm_clinic", "name": "甲村中医诊所", "area": self.w.village_a.code,
            "reporters": [self.reporter.pk]})
        sentinel = Sentinel.objects.get(name="甲村中医诊所")
        self.assertRedirects(response, reverse("sentinels:detail", args=[sentinel.pk]))
        self.assertEqual(list(sentinel.reporters.all()), [self.reporter])
        response = self.client.post(reverse("sentinels:new"), {
            "kind": "tcm_clinic", "name": "乙村诊所", "area": self.w.village_b.code})
        self.assertEqual(response.status_code, 200)
        self.assertFalse(Sentinel.objects.filter(name="乙村诊所").exists())


class SaleFormTests(SentinelTestCase):
    def post_sale(self, key="web-1", headers=None, **extra):
        data = {"client_key": key, "buyer_name": "张三", "document_number": self.w.person_a.document_number,
                "phone": "13800001111", "address": "甲村", "symptoms": ["fever", "cough"],
                "product": ["ibuprofen-sr-caps", "compound-liquorice-tab", ""], "quantity": ["2", "1", "1"]}
        data.update(extra)
        return self.client.post(reverse("sentinels:sale", args=[self.pharmacy.pk]), data, headers=headers)

    def test_sale_form_has_stable_fields(self):
        self.client.force_login(self.reporter)
        response = self.client.get(reverse("sentinels:sale", args=[self.pharmacy.pk]))
        self.assertContains(response, 'data-testid="sale-form"')
        for name in ("client_key", "buyer_name", "document_number", "phone", "address", "symptoms", "product",
                     "quantity", "for_someone_else"):
            self.assertContains(response, f'name="{name}"')
        self.assertContains(response, "连花清瘟胶囊")

    def test_sale_is_registered_once_even_if_sent_twice(self):
        self.client.force_login(self.reporter)
        self.assertRedirects(self.post_sale(), reverse("sentinels:sale", args=[self.pharmacy.pk]))
        self.post_sale()
        purchase = DrugPurchase.objects.get()
        self.assertEqual(purchase.symptoms, ["cough", "fever"])
        self.assertEqual([i["quantity"] for i in purchase.items], [2, 1])
        self.assertEqual(purchase.person, self.w.person_a)

    def test_offline_resend_answers_json(self):
        self.client.force_login(self.reporter)
        first = self.post_sale("queued", headers={"X-Requested-With": "fetch"})
        again = self.post_sale("queued", headers={"X-Requested-With": "fetch"})
        self.assertEqual(first.status_code, 201)
        self.assertEqual(again.status_code, 200)
        self.assertTrue(again.json()["duplicate"])

    def test_sale_without_drugs_shows_the_error(self):
        self.client.force_login(self.reporter)
        response = self.post_sale(product=[""], quantity=["1"])
        self.assertContains(response, "请至少选择一种药品")
        self.assertFalse(DrugPurchase.objects.exists())

    def test_clinic_has_no_sale_form(self):
        self.client.force_login(self.reporter)
        self.assertEqual(self.client.get(reverse("sentinels:sale", args=[self.clinic.pk])).status_code, 403)

    def test_grid_worker_sees_the_buyer_in_their_grid(self):
        self.client.force_login(self.reporter)
        self.post_sale()
        purchase = DrugPurchase.objects.get()
        self.client.force_login(self.w.grid_a_worker)
        self.assertEqual(self.client.get(reverse("sentinels:purchase", args=[purchase.pk])).status_code, 200)
        self.client.force_login(self.w.grid_b_worker)
        self.assertEqual(self.client.get(reverse("sentinels:purchase", args=[purchase.pk])).status_code, 404)


class ReportFormTests(SentinelTestCase):
    def test_fever_patient_form(self):
        self.client.force_login(self.reporter)
        url = reverse("sentinels:fever", args=[self.clinic.pk])
        self.assertContains(self.client.get(url), 'data-testid="fever-clock"')
        response = self.client.post(url, {"name": "张三", "document_number": self.w.person_a.document_number,
                                          "temperature": "38.5", "referred_to": "县医院发热门诊"})
        self.assertRedirects(response, reverse("sentinels:detail", args=[self.clinic.pk]))
        detail = self.client.get(reverse("sentinels:detail", args=[self.clinic.pk]))
        self.assertContains(detail, 'data-testid="report-clock"')
        self.assertNotContains(detail, "张三")

    def test_counts_form_refuses_a_future_day(self):
        self.client.force_login(self.w.hq)
        url = reverse("sentinels:counts", args=[self.fever_clinic.pk])
        tomorrow = timezone.localdate() + timedelta(days=1)
        response = self.client.post(url, {"day": tomorrow.isoformat(), "visits": "3"})
        self.assertContains(response, "报告日期不能晚于今天")
        self.assertFalse(SentinelReport.objects.exists())

    def test_absence_form(self):
        self.client.force_login(self.w.hq)
        url = reverse("sentinels:absences", args=[self.school.pk])
        response = self.client.post(url, {"day": timezone.localdate().isoformat(), "class_name": "三(2)班",
                                          "absent_ill": "4"})
        self.assertRedirects(response, reverse("sentinels:detail", args=[self.school.pk]))
        self.assertEqual(SentinelReport.objects.get().absent_ill, 4)


class TownshipFilterTests(SentinelTestCase):
    def test_filter_by_township(self):
        self.client.force_login(self.w.hq)
        response = self.client.get(reverse("sentinels:index"), {"township": self.w.township_b.code})
        self.assertEqual([s.pk for s in response.context["page"]], [self.pharmacy_b.pk])


class PurchaseListTests(SentinelTestCase):
    def test_officer_lists_overdue_buyers(self):
        from fangkong.sentinels import services

        from .base import sale

        purchase, _ = services.record_purchase(self.reporter, self.pharmacy, sale("list-1"))
        DrugPurchase.objects.filter(pk=purchase.pk).update(test_due_at=timezone.now() - timedelta(hours=1))
        self.client.force_login(self.w.township_a_officer)
        response = self.client.get(reverse("sentinels:purchases"), {"status": "overdue"})
        self.assertEqual([p.pk for p in response.context["page"]], [purchase.pk])
        self.assertContains(response, "逾期未检")
        self.assertNotContains(response, "王小明")
        detail = self.client.get(reverse("sentinels:detail", args=[self.pharmacy.pk]))
        self.assertContains(detail, 'data-testid="recent-purchases"')
