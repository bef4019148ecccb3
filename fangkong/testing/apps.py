from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TestingConfig(AppConfig):
    name = "fangkong.testing"
    label = "testing"
    verbose_name = _("核酸检测")

    def ready(self):
        from fangkong.policy.services import register_status_source, register_test_recency

        from .status import tested_negative_since, testing_status

        register_status_source(testing_status)
        register_test_recency(tested_negative_since)
