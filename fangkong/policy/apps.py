from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PolicyConfig(AppConfig):
    name = "fangkong.policy"
    label = "policy"
    verbose_name = _("防控策略")

    def ready(self):
        from django.db.models.signals import post_save

        from .models import PolicyPack
        from .services import forget_venue_test_rule

        # A pack saved in this process (activated, its rules edited) is read afresh by the next scan.
        post_save.connect(forget_venue_test_rule, sender=PolicyPack, dispatch_uid="policy.forget_venue_test_rule")
