from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class QuarantineConfig(AppConfig):
    name = "fangkong.quarantine"
    label = "quarantine"
    verbose_name = _("隔离管控")

    def ready(self):
        from fangkong.testing.signals import single_positive

        single_positive.connect(_positive_at_site, dispatch_uid="quarantine.positive_at_site")


def _positive_at_site(sender, person_ids, day, user=None, **kwargs):
    from .orders import on_positive

    on_positive(person_ids, day, user)
