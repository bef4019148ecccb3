"""Demo sentinels, as the demo county generates them."""

from datetime import timedelta

import pytest
from django.utils import timezone

from fangkong.accounts.models import User
from fangkong.demo.generator import generate_county
from fangkong.sentinels import services
from fangkong.sentinels.models import DrugPurchase, Sentinel, SentinelReport
from fangkong.tasks.models import Task
from fangkong.tasks.services import inbox
from fangkong.warning.models import Signal


@pytest.mark.django_db
def test_demo_sentinels():
    generate_county(people=600, seed=2026, townships=3, villages=6, grids=12, tasks=5, checkin_days=1)
    clinic = User.objects.get(username="clinic")
    mine = services.sentinels_for(clinic)
    assert {s.kind for s in mine} == {"village_clinic", "pharmacy"}
    assert Sentinel.objects.filter(kind="fever_clinic").count() == 1
    assert Sentinel.objects.filter(kind="pharmacy").count() == 3
    assert Sentinel.objects.filter(kind="school").count() == 3
    assert SentinelReport.objects.count() > 1000
    today = timezone.localdate()
    rows = services.daily_counts(today - timedelta(days=119), today)
    assert {r[1] for r in rows} == {"fever_clinic_visits", "clinic_fever_patients", "drug_sales", "school_absences"}
    assert DrugPurchase.objects.filter(buyer_verified=False).count() == 1
    assert Signal.objects.filter(kind="drug_buyer_untested").exists()
    grid1 = User.objects.get(username="grid1")
    assert any(t.kind == "drug_buyer_test" for t in inbox(grid1))
    assert Task.objects.filter(kind="drug_buyer_verify").count() == 1
    assert services.missing_reports(today).exists()
