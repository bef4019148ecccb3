"""Sentinels in township A (a pharmacy, a village clinic, a fever clinic, a school) and one in township B."""

from fangkong.accounts.choices import Role
from fangkong.sentinels import services
from tests.base import WorldTestCase
from tests.factories import make_user


def sale(client_key="k1", **overrides) -> dict:
    data = {"client_key": client_key, "buyer_name": "王小明", "document_number": "", "phone": "13800001111",
            "address": "甲村1组", "symptoms": ["fever"], "for_someone_else": False,
            "items": [{"product": "ibuprofen-sr-caps", "quantity": 2}]}
    data.update(overrides)
    return data


class SentinelTestCase(WorldTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        w = cls.w
        cls.reporter = make_user("clinic_a", Role.SENTINEL_REPORTER, w.village_a)
        reg = services.register_sentinel
        cls.pharmacy = reg(w.hq, {"kind": "pharmacy", "name": "甲村大药房", "area": w.village_a}, [cls.reporter])
        cls.clinic = reg(w.hq, {"kind": "village_clinic", "name": "甲村卫生室", "area": w.village_a}, [cls.reporter])
        cls.fever_clinic = reg(w.hq, {"kind": "fever_clinic", "name": "甲镇卫生院发热门诊", "area": w.township_a})
        cls.school = reg(w.hq, {"kind": "school", "name": "甲镇中心小学", "area": w.township_a})
        cls.pharmacy_b = reg(w.hq, {"kind": "pharmacy", "name": "乙村药店", "area": w.village_b}, [w.outsider])
