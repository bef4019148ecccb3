"""Signals: every event that may mean spread, written by the app that saw it.

Fixed-threshold rules and statistical detectors (the early-warning issue)
read them; here they are only recorded, scoped by area like everything else.
"""

from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangkong.areas.models import Area
from fangkong.core.querysets import RestrictedManager

from .choices import Severity


class Signal(models.Model):
    scope_field = "area_id"

    kind = models.CharField(_("类型"), max_length=40)
    severity = models.PositiveSmallIntegerField(_("级别"), choices=Severity.choices, default=Severity.WARNING)
    title = models.CharField(_("摘要"), max_length=200)
    area = models.ForeignKey(Area, verbose_name=_("区划"), on_delete=models.PROTECT, related_name="+")
    person = models.ForeignKey("people.Person", verbose_name=_("人员"), null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="signals")
    subject_type = models.ForeignKey(ContentType, verbose_name=_("来源类型"), null=True, blank=True,
                                     on_delete=models.PROTECT)
    subject_id = models.CharField(_("来源编号"), max_length=64, blank=True)
    subject = GenericForeignKey("subject_type", "subject_id")
    details = models.JSONField(_("详情"), default=dict, blank=True)
    occurred_at = models.DateTimeField(_("发生时间"), default=timezone.now)
    created_at = models.DateTimeField(_("记录时间"), auto_now_add=True)

    objects = RestrictedManager()

    class Meta:
        verbose_name = _("预警信号")
        verbose_name_plural = _("预警信号")
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["area", "-occurred_at"], name="signal_area_idx"),
            models.Index(fields=["kind", "-occurred_at"], name="signal_kind_idx"),
            models.Index(fields=["person", "-occurred_at"], name="signal_person_idx"),
        ]

    def __str__(self):
        return self.title
