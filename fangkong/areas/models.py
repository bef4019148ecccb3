"""The jurisdiction tree: county, townships, villages, grids; buildings and households."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from fangkong.core.models import TimeStampedModel
from fangkong.core.querysets import RestrictedManager
from fangkong.core.scope import prefix_for, prefix_q

from .choices import AreaLevel


class Area(models.Model):
    """An area of the tree, keyed by its statistical division code (grids extend it).

    ``prefix`` is the significant part of the code: everything below the area
    has a code starting with it, so a subtree is one range scan.
    ``population`` is kept by people services and recounted after bulk loads.
    """

    scope_field = "code"

    code = models.CharField(_("区划代码"), max_length=20, primary_key=True)
    name = models.CharField(_("名称"), max_length=100)
    level = models.CharField(_("层级"), max_length=10, choices=AreaLevel.choices)
    parent = models.ForeignKey(
        "self", verbose_name=_("上级"), null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    prefix = models.CharField(_("代码前缀"), max_length=20, unique=True)
    population = models.PositiveIntegerField(_("人口数"), default=0)

    objects = RestrictedManager()

    class Meta:
        verbose_name = _("区划")
        verbose_name_plural = _("区划")
        ordering = ["code"]
        indexes = [models.Index(fields=["parent", "code"], name="area_parent_code_idx")]
        constraints = [
            models.CheckConstraint(condition=models.Q(code__regex=r"^[0-9]{6,20}$"), name="area_code_digits"),
        ]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        self.prefix = prefix_for(self.code, self.level)
        super().save(*args, **kwargs)

    def ancestors(self):
        """From the root down to the parent, in order (a few primary-key reads)."""
        chain = []
        node = self.parent
        while node is not None:
            chain.append(node)
            node = node.parent
        return list(reversed(chain))

    def township(self) -> "Area":
        """The township (乡镇) holding this area; itself for a township or the county."""
        node = self
        while node is not None and node.level not in (AreaLevel.TOWNSHIP, AreaLevel.COUNTY):
            node = node.parent
        return node or self

    def subtree_q(self, field="code"):
        return prefix_q(field, self.prefix)

    @property
    def local_name(self):
        """The name with its parent's in front (第1网格 → 佳苑社区第1网格) unless it has it; select parent with it."""
        parent = self.parent
        if parent is None or parent.level == AreaLevel.COUNTY or self.name.startswith(parent.name):
            return self.name
        return parent.name + self.name

    @property
    def full_name(self):
        return "".join(a.name for a in self.ancestors()[1:]) + self.name


class AreaOutline(models.Model):
    """An area's outline as a GeoJSON geometry (Polygon or MultiPolygon, WGS 84).

    The warning board draws the county from it offline, and the space-time
    scan takes neighbours from the centroids. A table of its own: an imported
    outline can be megabytes, and areas are read everywhere (every user's,
    every signal's), which should not carry it.
    """

    area = models.OneToOneField(Area, verbose_name=_("区划"), on_delete=models.CASCADE, primary_key=True,
                                related_name="outline")
    geometry = models.JSONField(_("边界"))

    class Meta:
        verbose_name = _("区划边界")
        verbose_name_plural = _("区划边界")

    def __str__(self):
        return str(self.area_id)


class Building(TimeStampedModel):
    """A residential building (楼栋) in a grid, or a rural courtyard cluster."""

    scope_field = "area_id"

    area = models.ForeignKey(Area, verbose_name=_("网格"), on_delete=models.PROTECT, related_name="buildings")
    name = models.CharField(_("楼栋"), max_length=100)
    units = models.PositiveSmallIntegerField(_("单元数"), default=1)
    address = models.CharField(_("地址"), max_length=200, blank=True)

    objects = RestrictedManager()

    class Meta:
        verbose_name = _("楼栋")
        verbose_name_plural = _("楼栋")
        ordering = ["area_id", "name", "id"]
        constraints = [models.UniqueConstraint(fields=["area", "name"], name="building_unique_name_in_area")]

    def __str__(self):
        return self.name


class Household(TimeStampedModel):
    """A household (户): the people living at one door."""

    scope_field = "area_id"

    area = models.ForeignKey(Area, verbose_name=_("网格"), on_delete=models.PROTECT, related_name="households")
    building = models.ForeignKey(
        Building, verbose_name=_("楼栋"), null=True, blank=True, on_delete=models.PROTECT, related_name="households"
    )
    unit = models.CharField(_("单元"), max_length=20, blank=True)
    door = models.CharField(_("门牌号"), max_length=50, blank=True)
    address = models.CharField(_("地址"), max_length=200, blank=True)
    is_rental = models.BooleanField(_("出租房"), default=False)

    objects = RestrictedManager()

    class Meta:
        verbose_name = _("户")
        verbose_name_plural = _("户")
        ordering = ["area_id", "building_id", "unit", "door", "id"]
        indexes = [models.Index(fields=["building", "unit", "door"], name="household_building_idx")]

    def __str__(self):
        parts = [str(self.building) if self.building_id else "", f"{self.unit}单元" if self.unit else "", self.door]
        return "".join(p for p in parts if p) or self.address or f"#{self.pk}"
