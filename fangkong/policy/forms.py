import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangkong.core.forms import style_fields

from .choices import STAGE_ORDER, RiskLevel
from .models import PolicyPack, PolicyRule

DAY_LIST_SPLIT = re.compile(r"[\s,，、;；]+")


def attach_errors(form, exc: ValidationError) -> None:
    """Show a service's ValidationError on FORM: by field where the form has it, else on top."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def parse_day_list(text: str) -> list[int]:
    """'1,4,7,14' (or 1、4、7、14 / spaces) -> [1, 4, 7, 14]."""
    parts = [p for p in DAY_LIST_SPLIT.split(text or "") if p]
    try:
        return [int(p) for p in parts]
    except ValueError:
        raise ValidationError(_("请填写以逗号分隔的整数，如 1,4,7,14。")) from None


def format_day_list(days) -> str:
    return ",".join(str(d) for d in days or [])


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")


class RiskAreaForm(forms.Form):
    place_code = forms.CharField(
        label=_("地区编码"), max_length=6,
        help_text=_("6位行政区划代码：可用上方选择框逐级选取，选到省、市或县（区）均可。"),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off", "class": "fk-mono"}),
    )
    township = forms.CharField(label=_("乡镇（街道）"), max_length=60, required=False,
                               help_text=_("只列某个乡镇（街道）时填写，地区须选到县（区）。"))
    level = forms.ChoiceField(label=_("风险等级"), choices=RiskLevel.choices)
    effective_from = forms.DateField(label=_("生效日期"), widget=DateInput())
    effective_to = forms.DateField(label=_("解除日期"), required=False, widget=DateInput(),
                                   help_text=_("尚未解除请留空。"))
    note = forms.CharField(label=_("备注"), max_length=200, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        style_fields(self)

    @classmethod
    def initial_for(cls, area) -> dict:
        return {"place_code": area.place_code, "township": area.township, "level": area.level,
                "effective_from": area.effective_from, "effective_to": area.effective_to, "note": area.note}


class LiftForm(forms.Form):
    effective_to = forms.DateField(label=_("解除日期"), widget=DateInput(),
                                   help_text=_("该地区在风险名单上的最后一天。"))

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {"effective_to": timezone.localdate()})
        super().__init__(*args, **kwargs)
        style_fields(self)


class ImportForm(forms.Form):
    file = forms.FileField(label=_("名单文件"), help_text=_("Excel 工作簿（.xlsx）或 CSV，表头见模板。"),
                           widget=forms.ClearableFileInput(attrs={"accept": ".xlsx,.xlsm,.ods,.csv"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        style_fields(self)


class CopyPackForm(forms.Form):
    name = forms.CharField(label=_("新策略名称"), max_length=100)
    code = forms.SlugField(label=_("新策略代码"), max_length=40,
                           help_text=_("英文字母、数字和连字符，如 sd-2022-05。"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        style_fields(self)


class RuleForm(forms.Form):
    """One rule of an editable pack: the three stages (days + test days), 落地检, 时限, 点对点, 告知."""

    arrival_test_days = forms.CharField(label=_("落地检检测日"), required=False,
                                        help_text=_("不需隔离、只做落地检时填写，如 1,3 即“3天2检”。"))
    followup_hours = forms.IntegerField(label=_("落实时限（小时）"), min_value=1, max_value=168)
    pickup_required = forms.BooleanField(label=_("须点对点接返"), required=False)
    instructions = forms.CharField(label=_("告知内容"), required=False, max_length=1000,
                                   widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        stage_fields = {}
        for stage in STAGE_ORDER:
            stage_fields[f"{stage}_days"] = forms.IntegerField(
                label=_("%(stage)s天数") % {"stage": stage.label}, min_value=0, max_value=60, required=False)
            stage_fields[f"{stage}_tests"] = forms.CharField(
                label=_("%(stage)s检测日") % {"stage": stage.label}, required=False,
                help_text=_("第几天检测，如 1,4,7,14。"))
        self.fields = {**stage_fields, **self.fields}
        style_fields(self)

    @property
    def stage_rows(self):
        return [(stage.label, self[f"{stage}_days"], self[f"{stage}_tests"]) for stage in STAGE_ORDER]

    @classmethod
    def initial_for(cls, rule: PolicyRule) -> dict:
        initial = {"arrival_test_days": format_day_list(rule.arrival_test_days),
                   "followup_hours": rule.followup_hours, "pickup_required": rule.pickup_required,
                   "instructions": rule.instructions}
        for stage in rule.stages:
            initial[f"{stage['stage']}_days"] = stage["days"]
            initial[f"{stage['stage']}_tests"] = format_day_list(stage.get("test_days"))
        return initial

    def clean(self):
        cleaned = super().clean()
        for name in [f"{stage}_tests" for stage in STAGE_ORDER] + ["arrival_test_days"]:
            if name in cleaned:
                try:
                    cleaned[name] = parse_day_list(cleaned[name])
                except ValidationError as exc:
                    self.add_error(name, exc)
        for stage in STAGE_ORDER:
            if cleaned.get(f"{stage}_tests") and not cleaned.get(f"{stage}_days"):
                self.add_error(f"{stage}_days", _("填写了检测日，请同时填写天数。"))
        return cleaned

    def service_data(self) -> dict:
        """The dict services.update_rule takes: stages in serving order, those with days only."""
        data = self.cleaned_data
        stages = [{"stage": str(stage), "days": data.get(f"{stage}_days") or 0,
                   "test_days": data.get(f"{stage}_tests") or []}
                  for stage in STAGE_ORDER if data.get(f"{stage}_days")]
        return {"stages": stages, "arrival_test_days": data["arrival_test_days"],
                "followup_hours": data["followup_hours"], "pickup_required": data["pickup_required"],
                "instructions": data["instructions"]}



def _level_label(level: str) -> str:
    return str(RiskLevel(level).label) if level in RiskLevel.values else str(level)


class TracingRulesForm(forms.Form):
    """How an editable pack traces: the window, the contact rule per venue type, the zone lift rules.

    A venue type without a rule of its own follows the default: its row
    starts with the default's values, and only a row HQ changes (or one that
    had a rule already) is sent as its own rule. The service then keeps only
    the rules that differ from the default. Field names are the keys of the
    service's errors: ``contact_<code>_close_minutes``, ``zone_<level>_then`` ….
    """

    contact_window_days = forms.IntegerField(
        label=_("密接追溯天数（发病前）"), min_value=1, max_value=14,
        help_text=_("从病例发病（无症状感染者为采样）前几天起追溯其接触者，1 到 14 天。"))

    def __init__(self, *args, pack: PolicyPack, venue_types, **kwargs):
        self.pack = pack
        self.venue_types = list(venue_types)
        rules = pack.contact_rules or {}
        self.explicit = {code for code in rules if code != "default"}
        self.levels = list((pack.zone_rules or {}).get("levels") or [])
        kwargs.setdefault("initial", self.initial_for(pack, self.venue_types))
        super().__init__(*args, **kwargs)
        for code, name in [("default", _("其他场所（默认）")), *((t.code, t.name) for t in self.venue_types)]:
            self.fields[f"contact_{code}_close_minutes"] = forms.IntegerField(
                label=_("%(name)s：重叠满多少分钟为密接") % {"name": name}, min_value=1, max_value=600,
                required=False, widget=forms.NumberInput(attrs={"placeholder": _("不判密接")}))
            self.fields[f"contact_{code}_companion"] = forms.BooleanField(
                label=_("%(name)s：判定时空伴随者") % {"name": name}, required=False)
        for index, level in enumerate(self.levels):
            label = _level_label(level)
            self.fields[f"zone_{level}_lift_days"] = forms.IntegerField(
                label=_("%(level)s：连续无新增感染者多少天解除") % {"level": label}, min_value=1, max_value=60,
                required=False, widget=forms.NumberInput(attrs={"placeholder": _("不按天数")}))
            self.fields[f"zone_{level}_test_within_days"] = forms.IntegerField(
                label=_("%(level)s：解除前多少天内全员核酸阴性") % {"level": label}, min_value=1, max_value=14,
                required=False, widget=forms.NumberInput(attrs={"placeholder": _("不要求")}))
            self.fields[f"zone_{level}_then"] = forms.ChoiceField(
                label=_("%(level)s：解除后转为") % {"level": label}, required=False,
                choices=[("", _("—（不转为其他等级）")), *((lower, _level_label(lower))
                                                      for lower in self.levels[index + 1:])])
        style_fields(self)

    @staticmethod
    def initial_for(pack: PolicyPack, venue_types) -> dict:
        rules = pack.contact_rules or {}
        default = rules.get("default") or {"close_minutes": None, "companion": True}
        initial = {"contact_window_days": pack.contact_window_days}
        for code in ["default", *(t.code for t in venue_types)]:
            rule = rules.get(code) or default
            initial[f"contact_{code}_close_minutes"] = rule.get("close_minutes")
            initial[f"contact_{code}_companion"] = bool(rule.get("companion", True))
        zones = pack.zone_rules or {}
        for level in zones.get("levels") or []:
            rule = zones.get(level) or {}
            initial[f"zone_{level}_lift_days"] = rule.get("lift_days")
            initial[f"zone_{level}_test_within_days"] = rule.get("test_within_days")
            initial[f"zone_{level}_then"] = rule.get("then") or ""
        return initial

    @property
    def contact_rows(self) -> list[dict]:
        rows = [{"code": "default", "name": _("其他场所（默认）"), "dwell": None, "default": True}]
        rows += [{"code": t.code, "name": t.name, "dwell": t.dwell_minutes, "explicit": t.code in self.explicit}
                 for t in self.venue_types]
        for row in rows:
            row["close"] = self[f"contact_{row['code']}_close_minutes"]
            row["companion"] = self[f"contact_{row['code']}_companion"]
        return rows

    @property
    def zone_rows(self) -> list[dict]:
        return [{"level": level, "label": _level_label(level),
                 "fields": [self[f"zone_{level}_{name}"] for name in ("lift_days", "test_within_days", "then")]}
                for level in self.levels]

    def _contact_rule(self, code: str) -> dict:
        data = self.cleaned_data
        return {"close_minutes": data.get(f"contact_{code}_close_minutes"),
                "companion": bool(data.get(f"contact_{code}_companion"))}

    def service_data(self) -> dict:
        """The dict services.update_tracing_rules takes."""
        from fangkong.venues.models import VenueType

        changed = set(self.changed_data)
        contact = {"default": self._contact_rule("default")}
        for venue_type in self.venue_types:
            code = venue_type.code
            if code in self.explicit or {f"contact_{code}_close_minutes", f"contact_{code}_companion"} & changed:
                contact[code] = self._contact_rule(code)
        # Rules of venue types not on the form (no longer in use) are kept as they are.
        hidden = self.explicit - {t.code for t in self.venue_types}
        for code in VenueType.objects.filter(code__in=hidden).values_list("code", flat=True):
            contact[code] = self.pack.contact_rules[code]
        zones = {"levels": self.levels}
        for level in self.levels:
            zones[level] = {"lift_days": self.cleaned_data.get(f"zone_{level}_lift_days"),
                            "test_within_days": self.cleaned_data.get(f"zone_{level}_test_within_days"),
                            "then": self.cleaned_data.get(f"zone_{level}_then") or ""}
        return {"contact_window_days": self.cleaned_data["contact_window_days"], "contact_rules": contact,
                "zone_rules": zones}

class ActivateForm(forms.Form):
    reason = forms.CharField(label=_("启用事由"), min_length=2, max_length=500,
                             widget=forms.Textarea(attrs={"rows": 2}),
                             help_text=_("如：按省指挥部某月某日通知执行第九版方案。记入审计。"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        style_fields(self)


class ScanRulesForm(forms.Form):
    """The door rule of an editable pack: hours of a negative test required per venue type, and the colour.

    Field names are the keys of services.update_scan_rules's errors: ``colour``, ``hours_<code>``.
    """

    colour = forms.ChoiceField(
        label=_("未持核酸阴性结果时显示"), choices=[("yellow", _("黄色（限制）")), ("red", _("红色（禁止）"))],
        help_text=_("本人因管控措施已是红色的，仍显示红色。"))

    def __init__(self, *args, pack: PolicyPack, venue_types, **kwargs):
        from .services import status_rules

        self.venue_types = list(venue_types)
        rule = status_rules(pack)["venue_test"]
        hours = rule.get("hours") or {}
        kwargs.setdefault("initial", {"colour": rule.get("colour") or "yellow",
                                      **{f"hours_{code}": value for code, value in hours.items()}})
        super().__init__(*args, **kwargs)
        for code, name in self.rows_spec():
            self.fields[f"hours_{code}"] = forms.IntegerField(
                label=_("%(name)s：须持多少小时内核酸阴性结果") % {"name": name}, min_value=1, max_value=24 * 14,
                required=False, widget=forms.NumberInput(attrs={"placeholder": _("不要求")}))
        style_fields(self)

    def rows_spec(self) -> list[tuple[str, str]]:
        return [("default", _("其他场所（默认）")), *((t.code, t.name) for t in self.venue_types)]

    @property
    def rows(self) -> list[dict]:
        return [{"code": code, "name": name, "field": self[f"hours_{code}"]} for code, name in self.rows_spec()]

    def service_data(self) -> dict:
        """The dict services.update_scan_rules takes."""
        return {"colour": self.cleaned_data["colour"],
                "hours": {code: self.cleaned_data.get(f"hours_{code}") for code, _name in self.rows_spec()}}
