"""The public declaration form and the guards in front of it (size, floods).

The fields only carry what the phone typed and show it again; every rule
lives in ``services.clean_submission``, whose errors (``stops.2.place_code``,
``companions.0.name`` …) are put back next to the field they name. Travel
stops and companions are formsets so that rows can be added and removed.
"""

from datetime import timedelta

from django import forms
from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.http.request import RawPostDataException
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fangkong.areas.choices import AreaLevel
from fangkong.areas.models import Area
from fangkong.core.ratelimit import over_limit
from fangkong.people.choices import DocumentType
from fangkong.people.models import document_index
from fangkong.policy.choices import Stage

from . import services
from .choices import Symptom, Transport
from .models import Declaration
from .services import MAX_COMPANIONS, MAX_STOPS, normalize_receipt

PAYLOAD_TOO_LARGE = gettext_lazy("提交的内容过大，请删减后重试。")
TOO_MANY = gettext_lazy("提交过于频繁，请稍后再试。")
TOO_MANY_FOR_ID = gettext_lazy("该身份证号提交次数过多，请一小时后再试。")
NOT_FOUND = gettext_lazy("回执码或手机号后四位不正确，请核对后重试。")


# Guards ------------------------------------------------------------------------------------------
def too_large(request) -> bool:
    """Larger than FANGKONG_DECLARE_MAX_BYTES, judged by the header before the body is read."""
    limit = settings.FANGKONG_DECLARE_MAX_BYTES
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return True
    if length > limit:
        return True
    try:
        return len(request.body) > limit
    except RawPostDataException:  # a form post already parsed (by the CSRF check): the header said enough
        return False


def address_flooding(request, scope: str = "declare") -> bool:
    return over_limit(scope, request, settings.FANGKONG_DECLARE_RATE_PER_MINUTE, 60)


class _PerDocument:
    """over_limit counts per client address; this stands in for a client so that it counts per ID number."""

    def __init__(self, number: str):
        # The blind index, not the number: the cache never holds an ID number.
        key = document_index(DocumentType.RESIDENT_ID, (number or "").strip().upper()[:40])
        self.META = {"REMOTE_ADDR": key}


def document_flooding(number) -> bool:
    if not number or not isinstance(number, str):
        return False
    return over_limit("declare-id", _PerDocument(number), settings.FANGKONG_DECLARE_RATE_PER_ID_PER_HOUR, 3600)


# What the page offers ----------------------------------------------------------------------------
def shown(declaration: Declaration) -> dict:
    """services.public_view with each stage named and every label a plain string, for the pages and the API."""
    view = services.public_view(declaration)
    view["status_label"] = str(view["status_label"])
    view["measure_label"] = str(view["measure_label"])
    view["stages"] = [{**stage, "label": str(Stage(stage["stage"]).label) if stage.get("stage") in Stage.values
                       else ""} for stage in view["stages"]]
    return view


def destination_choices() -> list:
    """Villages (communities) grouped by township, names only, for the destination select."""
    rows = Area.objects.filter(level__in=[AreaLevel.TOWNSHIP, AreaLevel.VILLAGE]).order_by("code")
    townships: dict[str, tuple[str, list]] = {}
    villages = []
    for code, name, level, parent in rows.values_list("code", "name", "level", "parent_id"):
        if level == AreaLevel.TOWNSHIP:
            townships[code] = (name, [])
        else:
            villages.append((code, name, parent))
    for code, name, parent in villages:
        if parent in townships:
            townships[parent][1].append((code, name))
    return [(name, options) for name, options in townships.values() if options]


def grid_choices() -> list:
    """Grids as "village · grid", in code order: a grid's code starts with its village's code."""
    rows = Area.objects.filter(level=AreaLevel.GRID).select_related("parent").order_by("code")
    return [(grid.code, f"{grid.parent.name if grid.parent else ''} · {grid.name}") for grid in rows]


def county_name() -> str:
    county = Area.objects.filter(level=AreaLevel.COUNTY).order_by("code").values_list("name", flat=True).first()
    return county or _("本县")


def _text(label, maxlength, *, required=False, **attrs):
    attrs = {"class": "form-control", "maxlength": maxlength, **attrs}
    if required:
        attrs["aria-required"] = "true"
    field = forms.CharField(label=label, required=False, strip=True, widget=forms.TextInput(attrs=attrs))
    field.shown_required = required
    return field


def _select(label, choices, *, required=False):
    attrs = {"class": "form-select"}
    if required:
        attrs["aria-required"] = "true"
    field = forms.CharField(label=label, required=False, widget=forms.Select(choices=choices, attrs=attrs))
    field.shown_required = required
    return field


def _place(label, *, required=False):
    field = forms.CharField(label=label, required=False,
                            widget=forms.HiddenInput(attrs={"data-place-picker": "1"}))
    field.shown_required = required
    return field


def _date(label, *, required=False):
    return _text(label, 10, required=required, type="date")


class StopForm(forms.Form):
    place_code = _place(gettext_lazy("地区"), required=True)
    township = _text(gettext_lazy("乡镇（街道）"), 60, placeholder=gettext_lazy("选填"))
    date_from = _date(gettext_lazy("起始日期"), required=True)
    date_to = _date(gettext_lazy("结束日期"), required=True)

    keys = ("place_code", "township", "date_from", "date_to")


class CompanionForm(forms.Form):
    name = _text(gettext_lazy("姓名"), 50, required=True, autocomplete="off")
    relation = _text(gettext_lazy("关系"), 20, placeholder=gettext_lazy("如：配偶、子女"))
    document_number = _text(gettext_lazy("身份证号"), 18, autocomplete="off", placeholder=gettext_lazy("选填"))

    keys = ("name", "relation", "document_number")


StopFormSet = forms.formset_factory(StopForm, extra=1, max_num=MAX_STOPS, absolute_max=MAX_STOPS)
# A correction starts from the rows already declared, without a blank one below them.
KeptStopFormSet = forms.formset_factory(StopForm, extra=0, max_num=MAX_STOPS, absolute_max=MAX_STOPS)
CompanionFormSet = forms.formset_factory(CompanionForm, extra=0, max_num=MAX_COMPANIONS,
                                         absolute_max=MAX_COMPANIONS)


class DeclarationForm(forms.Form):
    """The returnee's declaration; with DECLARATION, the correction of it (ID re-typed, phone kept if blank)."""

    name = _text(gettext_lazy("姓名"), 50, required=True, autocomplete="name")
    document_number = _text(gettext_lazy("身份证号"), 18, required=True, autocomplete="off",
                            autocapitalize="characters", spellcheck="false")
    phone = _text(gettext_lazy("手机号码"), 20, required=True, type="tel", inputmode="numeric", autocomplete="tel")
    origin_code = _place(gettext_lazy("出发地（省、市、区县）"), required=True)
    origin_detail = _text(gettext_lazy("出发地详细地址"), 200, placeholder=gettext_lazy("选填，如街道、小区"))
    transport = _select(gettext_lazy("交通方式"), [("", gettext_lazy("请选择"))] + list(Transport.choices),
                        required=True)
    transport_number = _text(gettext_lazy("车次/航班号"), 30, autocapitalize="characters",
                             placeholder=gettext_lazy("乘火车、飞机必填"))
    plate = _text(gettext_lazy("车牌号"), 12, autocapitalize="characters", placeholder=gettext_lazy("自驾必填"))
    planned_arrival = _text(gettext_lazy("计划到达时间"), 16, required=True, type="datetime-local")
    area = _select(gettext_lazy("目的地村（社区）"), [], required=True)
    grid = _select(gettext_lazy("所在网格（知道的请选）"), [])
    address = _text(gettext_lazy("目的地详细地址"), 200, required=True,
                    placeholder=gettext_lazy("如：3组12号、5号楼2单元301"))
    symptoms = forms.MultipleChoiceField(label=gettext_lazy("近14天是否有以下症状（没有则不选）"), required=False,
                                         choices=Symptom.choices, widget=forms.CheckboxSelectMultiple)
    vaccine_doses = _select(gettext_lazy("新冠疫苗接种剂次"), [(str(n), str(n)) for n in range(6)], required=True)

    def __init__(self, data=None, *, declaration: Declaration | None = None):
        self.declaration = declaration
        initial = _initial(declaration) if declaration else {"vaccine_doses": "0"}
        super().__init__(data, initial=initial)
        self.fields["area"].widget.choices = [("", _("请选择村（社区）"))] + destination_choices()
        self.fields["grid"].widget.choices = [("", _("不清楚，由村（社区）分派"))] + grid_choices()
        self.fields["grid"].help_text = _("选了网格，网格员会直接收到跟进任务。")
        today = timezone.localdate()
        self.days_ahead = settings.FANGKONG_DECLARE_DAYS_AHEAD
        self.fields["planned_arrival"].widget.attrs.update({
            "min": f"{today.isoformat()}T00:00",
            "max": f"{(today + timedelta(days=settings.FANGKONG_DECLARE_DAYS_AHEAD)).isoformat()}T23:59",
        })
        if declaration is not None:
            # Neither number is ever shown in full: the ID is re-typed to prove it, the phone kept unless changed.
            self.fields["document_number"].widget.attrs["placeholder"] = declaration.doc_masked
            self.fields["document_number"].help_text = _("身份证号不能修改，请重新输入完整号码以确认本人。")
            self.fields["phone"].widget.attrs["placeholder"] = declaration.phone_masked
            self.fields["phone"].help_text = _("不修改请留空。")
            self.fields["phone"].shown_required = False
        stops = [{k: str(v) for k, v in stop.items() if k in StopForm.keys}
                 for stop in declaration.stops.values()] if declaration else []
        companions = [{"name": c.get("name", ""), "relation": c.get("relation", "")}
                      for c in declaration.companions] if declaration else []
        self.stops = (KeptStopFormSet if stops else StopFormSet)(data, prefix="stops", initial=stops or None)
        self.companions = CompanionFormSet(data, prefix="companions", initial=companions or None)
        masks = [c.get("doc_masked", "") for c in declaration.companions] if declaration else []
        for form, mask in zip(self.companions.forms, masks, strict=False):
            if mask:
                form.fields["document_number"].widget.attrs["placeholder"] = mask
        self.group_errors: dict[str, list[str]] = {}
        self._row_index: dict[str, list[int]] = {}

    def submission(self) -> dict:
        """What was typed, as the dict services.clean_submission takes; blank rows are dropped."""
        self.is_valid()
        data = {name: self.cleaned_data.get(name, "") for name in self.fields}
        # A grid inside the chosen village is the destination; one elsewhere is ignored.
        grid = data.pop("grid", "")
        if grid and data.get("area") and grid.startswith(data["area"]):
            data["area"] = grid
        data["symptoms"] = self.cleaned_data.get("symptoms") or []
        data["stops"] = self._rows(self.stops, StopForm.keys, "stops")
        data["companions"] = self._rows(self.companions, CompanionForm.keys, "companions")
        return data

    def _rows(self, formset, keys, group) -> list[dict]:
        # Every field is optional here, so only a tampered management form or too many rows fail.
        if not formset.is_valid():
            self.group_errors.setdefault(group, []).extend(formset.non_form_errors())
        rows, self._row_index[group] = [], []
        for index, form in enumerate(formset.forms):
            cleaned = getattr(form, "cleaned_data", {})
            values = {key: cleaned.get(key) or "" for key in keys}
            if any(values.values()):
                rows.append(values)
                self._row_index[group].append(index)
        return rows

    def add_service_errors(self, exc: ValidationError) -> None:
        """Put each error of clean_submission / correct_declaration next to the field it names."""
        fields = exc.message_dict if hasattr(exc, "error_dict") else {NON_FIELD_ERRORS: exc.messages}
        for key, messages in fields.items():
            for message in messages:
                self._add(key, message)

    def _add(self, key: str, message: str) -> None:
        group, _dot, rest = key.partition(".")
        if group in ("stops", "companions"):
            formset = self.stops if group == "stops" else self.companions
            index, _dot, field = rest.partition(".")
            rows = self._row_index.get(group, [])
            if index.isdigit() and int(index) < len(rows):
                form = formset.forms[rows[int(index)]]
                form.add_error(field if field in form.fields else None, message)
                return
            self.group_errors.setdefault(group, []).append(message)
            return
        self.add_error(key if key in self.fields else None, message)

    def has_any_errors(self) -> bool:
        return bool(self.errors or self.group_errors or any(f.errors for f in self.stops.forms)
                    or any(f.errors for f in self.companions.forms))


def _initial(declaration: Declaration) -> dict:
    return {
        "name": declaration.name,
        "origin_code": declaration.origin_code,
        "origin_detail": declaration.origin_detail,
        "transport": declaration.transport,
        "transport_number": declaration.transport_number,
        "plate": declaration.plate,
        "planned_arrival": timezone.localtime(declaration.planned_arrival).strftime("%Y-%m-%dT%H:%M"),
        "area": declaration.area.parent_id if declaration.area.level == AreaLevel.GRID else declaration.area_id,
        "grid": declaration.area_id if declaration.area.level == AreaLevel.GRID else "",
        "address": declaration.address,
        "symptoms": declaration.symptoms,
        "vaccine_doses": str(declaration.vaccine_doses),
    }


class LookupForm(forms.Form):
    receipt = forms.CharField(label=gettext_lazy("回执码"), max_length=20, widget=forms.TextInput(attrs={
        "class": "form-control form-control-lg fk-mono text-uppercase", "autocomplete": "off",
        "autocapitalize": "characters", "spellcheck": "false"}))
    phone_last4 = forms.CharField(label=gettext_lazy("申报手机号后四位"), max_length=4, min_length=4,
                                  widget=forms.TextInput(attrs={
                                      "class": "form-control form-control-lg fk-mono", "inputmode": "numeric",
                                      "autocomplete": "off", "pattern": "[0-9]{4}"}))

    def clean_receipt(self):
        return normalize_receipt(self.cleaned_data["receipt"])

    def clean_phone_last4(self):
        digits = self.cleaned_data["phone_last4"]
        if not (digits.isascii() and digits.isdigit()):
            raise ValidationError(_("请输入4位数字。"))
        return digits

