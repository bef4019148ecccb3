"""Organisations, users with a role and an area, and API tokens."""

import hashlib
import secrets

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangkong.areas.models import Area

from .choices import OrganizationKind, Role


class Organization(models.Model):
    """A department or unit (部门/单位) whose staff use the platform."""

    name = models.CharField(_("名称"), max_length=100)
    kind = models.CharField(_("类别"), max_length=30, choices=OrganizationKind.choices)
    area = models.ForeignKey(Area, verbose_name=_("所属区划"), on_delete=models.PROTECT, related_name="organizations")
    parent = models.ForeignKey(
        "self", verbose_name=_("上级单位"), null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )

    class Meta:
        verbose_name = _("单位")
        verbose_name_plural = _("单位")
        ordering = ["area_id", "kind", "name"]
        constraints = [models.UniqueConstraint(fields=["area", "name"], name="organization_unique_name_in_area")]

    def __str__(self):
        return self.name


class User(AbstractUser):
    """A platform user: a role (what they may do) and an area (where)."""

    role = models.CharField(_("角色"), max_length=30, choices=Role.choices, default=Role.GRID_WORKER)
    area = models.ForeignKey(
        Area, verbose_name=_("负责区划"), null=True, blank=True, on_delete=models.PROTECT, related_name="users"
    )
    organization = models.ForeignKey(
        Organization, verbose_name=_("单位"), null=True, blank=True, on_delete=models.SET_NULL, related_name="users"
    )
    display_name = models.CharField(_("姓名"), max_length=50, blank=True)
    failed_logins = models.PositiveSmallIntegerField(_("连续登录失败次数"), default=0)
    locked_until = models.DateTimeField(_("锁定至"), null=True, blank=True)

    class Meta:
        verbose_name = _("用户")
        verbose_name_plural = _("用户")
        ordering = ["username"]

    def __str__(self):
        return self.display_name or self.username

    @property
    def scope_prefix(self) -> str | None:
        """The area-code prefix of the user's jurisdiction; None means everything.

        Only a superuser without an area sees everything; any other user
        without an area sees nothing (an impossible prefix).
        """
        if self.area_id:
            return self.area.prefix
        if self.is_superuser:
            return None
        return "-"

    @property
    def is_locked(self) -> bool:
        return bool(self.locked_until and self.locked_until > timezone.now())


def hash_token(key: str) -> str:
    return hashlib.sha256(key.encode("ascii")).hexdigest()


class ApiToken(models.Model):
    """A bearer token for the API; only its hash is stored."""

    user = models.ForeignKey(User, verbose_name=_("用户"), on_delete=models.CASCADE, related_name="api_tokens")
    key_hash = models.CharField(_("令牌摘要"), max_length=64, unique=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    expires_at = models.DateTimeField(_("过期时间"))
    last_used_at = models.DateTimeField(_("最近使用"), null=True, blank=True)

    class Meta:
        verbose_name = _("API 令牌")
        verbose_name_plural = _("API 令牌")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.user} {self.created_at:%Y-%m-%d}"

    @staticmethod
    def new_key() -> str:
        return secrets.token_urlsafe(32)
