"""Planning a register import: each row is new, changed, unchanged or rejected with its reasons.

The plan only reads. The dry run shows it; the commit makes it again inside
its transaction (so it matches the database at that moment) and writes it.
An empty cell never clears what is known: re-importing a file changes nothing.
"""

from collections import defaultdict
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from fangkong.areas.choices import AreaLevel
from fangkong.areas.models import Area, Building, Household
from fangkong.core import crypto
from fangkong.core.scope import in_scope, prefix_q

from .. import identity
from ..choices import DocumentType
from ..models import KeyGroup, Person, RegisterImport, document_index
from . import quirks
from .fields import FIELDS, normalize_header
from .reader import Sheet, read_register

DOC_TYPE_WORDS = {
    "居民身份证": DocumentType.RESIDENT_ID, "身份证": DocumentType.RESIDENT_ID, "": DocumentType.RESIDENT_ID,
    "护照": DocumentType.PASSPORT, "港澳通行证": DocumentType.HK_MACAO_PERMIT,
    "港澳居民来往内地通行证": DocumentType.HK_MACAO_PERMIT, "台胞证": DocumentType.TAIWAN_PERMIT,
    "台湾居民来往大陆通行证": DocumentType.TAIWAN_PERMIT,
}
DOC_TYPE_CODES = frozenset(DocumentType.values)
FLOATING_CATEGORIES = {"流动人口", "流动", "暂住", "暂住人口", "外来人口", "外来"}
RESIDENT_CATEGORIES = {"常住", "常住人口", "户籍", "户籍人口", "本地", "本地人口", "户籍人员"}
# Fields compared with the person on record, in the order a diff is shown.
COMPARED = ["name", "phone", "address", "grid", "household", "relation", "is_floating", "is_rental_tenant",
            "vulnerable_group", "lives_alone_elderly", "key_groups"]
LOOKUP_CHUNK = 500


@dataclass
class RowPlan:
    sheet: str
    row: int
    data: dict
    values: list = field(default_factory=list)
    action: str = "new"  # new | update | same
    person_id: int | None = None
    changes: dict = field(default_factory=dict)


@dataclass
class Rejected:
    sheet: str
    row: int
    values: list
    reasons: list[str]


@dataclass
class Plan:
    sheets: list[Sheet]
    accepted: list[RowPlan] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    new_buildings: set = field(default_factory=set)
    new_households: set = field(default_factory=set)

    def counts(self) -> dict:
        actions = defaultdict(int)
        for row in self.accepted:
            actions[row.action] += 1
        return {
            "rows": len(self.accepted) + len(self.rejected), "new": actions["new"], "updated": actions["update"],
            "unchanged": actions["same"], "rejected": len(self.rejected),
            "buildings_new": len(self.new_buildings), "households_new": len(self.new_households),
        }


class Grids:
    """The grids an import may place people in: the batch area's subtree, within the user's scope."""

    def __init__(self, user, area: Area):
        grids = Area.objects.restrict(user, "view").filter(prefix_q("code", area.prefix), level=AreaLevel.GRID)
        self.by_code = {g.code: g for g in grids.select_related("parent")}
        self.by_name = defaultdict(list)
        for grid in self.by_code.values():
            self.by_name[grid.name].append(grid)
            if grid.parent:
                self.by_name[grid.parent.name + grid.name].append(grid)
        self.default = area if area.level == AreaLevel.GRID else None

    def resolve(self, text: str) -> Area:
        if not text:
            if self.default is None:
                raise ValidationError(_("无法确定网格：请在“网格”列填写网格编码或名称，或上传时选择网格"))
            return self.default
        if text.isdigit():
            grid = self.by_code.get(text)
            if grid is None:
                raise ValidationError(_("网格编码 %(code)s 不存在或不在本次导入的区划内") % {"code": text})
            return grid
        found = self.by_name.get(text, [])
        if len(found) == 1:
            return found[0]
        if not found:
            raise ValidationError(_("网格“%(name)s”不在本次导入的区划内") % {"name": text})
        raise ValidationError(_("网格名称“%(name)s”不唯一，请填写网格编码") % {"name": text})


def column_fields(sheet: Sheet, mapping: dict) -> dict[int, str]:
    """Column index -> field for a sheet, from the batch's header-text mapping."""
    result = {}
    for index, header in enumerate(sheet.headers):
        code = mapping.get(normalize_header(header))
        if code in FIELDS and code not in result.values():
            result[index] = code
    return result


def _clean_row(values: dict, grids: Grids, key_groups: dict) -> tuple[dict, list[str]]:
    """The cleaned fields of one row, and the reasons it cannot be taken (if any)."""
    reasons = []

    def attempt(func, raw, *args):
        try:
            return func(raw, *args)
        except (quirks.QuirkError, ValidationError) as exc:
            reasons.append(getattr(exc, "messages", [str(exc)])[0])
            return None

    data = {"name": quirks.clean_text(values.get("name"))}
    if not data["name"]:
        reasons.append(_("缺少姓名"))
    elif len(data["name"]) > 50:
        reasons.append(_("姓名超过50个字"))
    doc_word = quirks.clean_text(values.get("doc_type"))
    doc_type = DOC_TYPE_WORDS.get(doc_word, doc_word if doc_word in DOC_TYPE_CODES else None)
    if doc_type is None:
        reasons.append(_("证件类型“%(word)s”无法识别") % {"word": doc_word})
        doc_type = DocumentType.RESIDENT_ID
    data["doc_type"] = doc_type
    number = attempt(quirks.clean_id_number, values.get("id_number"))
    if number == "":
        reasons.append(_("缺少公民身份号码"))
    elif number:
        number = attempt(identity.validate_document, doc_type, number)
    data["number"] = number or ""
    sex = attempt(quirks.clean_sex, values.get("sex"))
    birth = attempt(quirks.clean_date, values.get("birth_date"))
    if data["number"] and doc_type == DocumentType.RESIDENT_ID:
        id_birth, id_sex = identity.resident_id_facts(data["number"])
        if sex and sex != id_sex:
            reasons.append(_("性别与身份证号第17位不符"))
        if birth and birth != id_birth:
            reasons.append(_("出生日期与身份证号不符"))
        sex, birth = id_sex, id_birth
    data["sex"], data["birth_date"] = sex, birth
    phone = attempt(quirks.clean_phone, values.get("phone"))
    if phone:
        phone = attempt(identity.validate_phone, phone)
    data["phone"] = phone or ""
    grid = attempt(grids.resolve, quirks.clean_text(values.get("grid")))
    data["grid"] = grid.code if grid else None
    data["building"] = quirks.clean_text(values.get("building"))[:100]
    data["unit"] = quirks.clean_text(values.get("unit")).removesuffix("单元")[:20]
    data["door"] = quirks.clean_text(values.get("door"))[:50]
    data["address"] = quirks.clean_text(values.get("address"))[:200]
    data["workplace"] = quirks.clean_text(values.get("workplace"))[:100]
    data["relation"] = attempt(quirks.clean_choice, values.get("relation"), quirks.RELATION_WORDS) or ""
    data["vulnerable_group"] = attempt(quirks.clean_choice, values.get("vulnerable_group"), quirks.VULNERABLE_WORDS)
    data["is_floating"] = attempt(quirks.clean_bool, values.get("is_floating"))
    data["is_rental_tenant"] = attempt(quirks.clean_bool, values.get("is_rental"))
    data["lives_alone_elderly"] = attempt(quirks.clean_bool, values.get("lives_alone_elderly"))
    data["key_groups"] = []
    for word in _split(quirks.clean_text(values.get("category"))):
        if word in FLOATING_CATEGORIES:
            data["is_floating"] = True
        elif word in key_groups:
            data["key_groups"].append(key_groups[word])
        elif word not in RESIDENT_CATEGORIES:
            reasons.append(_("人员类别“%(word)s”无法识别（可填重点人群名称、流动人口、常住人口）") % {"word": word})
    return data, reasons


def _split(text: str) -> list[str]:
    for sep in ("、", "，", ",", "；", ";", "/", " "):
        text = text.replace(sep, "|")
    return [w for w in text.split("|") if w]


def _household_key(data: dict):
    if not (data["grid"] and (data["building"] or data["door"])):
        return None
    return (data["grid"], data["building"], data["unit"], data["door"])


def _existing_people(rows: list[RowPlan]) -> dict[str, Person]:
    indexes = [document_index(r.data["doc_type"], r.data["number"]) for r in rows if r.data["number"]]
    found = {}
    fields = ["id", "name", "doc_index", "phone_index", "phone_masked", "address", "area_id", "household_id",
              "relation", "is_floating", "is_rental_tenant", "vulnerable_group", "lives_alone_elderly",
              "merged_into_id"]
    for start in range(0, len(indexes), LOOKUP_CHUNK):
        chunk = indexes[start:start + LOOKUP_CHUNK]
        for person in Person.objects.filter(doc_index__in=chunk).exclude(doc_index="").only(*fields):
            found[person.doc_index] = person
    return found


def _existing_places(grid_codes) -> tuple[dict, dict]:
    buildings = {(b.area_id, b.name): b.pk for b in Building.objects.filter(area_id__in=grid_codes)}
    households = {}
    rows = Household.objects.filter(area_id__in=grid_codes).values_list("pk", "area_id", "building_id", "unit", "door")
    by_building = {pk: name for (_area, name), pk in buildings.items()}
    for pk, area_id, building_id, unit, door in rows:
        households[(area_id, by_building.get(building_id, ""), unit, door)] = pk
    return buildings, households


def _diff(person: Person, data: dict, household_id, key_groups_now: dict) -> dict:
    changes = {}

    def compare(name, old, new):
        if new not in (None, "", []) and old != new:
            changes[name] = [old, new]

    compare("name", person.name, data["name"])
    if data["phone"] and crypto.blind_index("phone", data["phone"]) != person.phone_index:
        changes["phone"] = [person.phone_masked, identity.mask_phone(data["phone"])]
    compare("address", person.address, data["address"])
    compare("grid", person.area_id, data["grid"])
    if household_id is not None:
        compare("household", person.household_id, household_id)
    elif _household_key(data):
        changes["household"] = [person.household_id, "new"]
    compare("relation", person.relation, data["relation"])
    for flag in ("is_floating", "is_rental_tenant", "lives_alone_elderly"):
        if data[flag] is not None and data[flag] != getattr(person, flag):
            changes[flag] = [getattr(person, flag), data[flag]]
    if data["vulnerable_group"] is not None and data["vulnerable_group"] != person.vulnerable_group:
        changes["vulnerable_group"] = [person.vulnerable_group, data["vulnerable_group"]]
    added = sorted(set(data["key_groups"]) - set(key_groups_now.get(person.pk, ())))
    if added:
        changes["key_groups"] = [sorted(key_groups_now.get(person.pk, ())), added]
    return changes


def make_plan(batch: RegisterImport, user, path, progress=None) -> Plan:
    """Read the batch's file and decide, row by row, what an import would do."""
    sheets = read_register(path, batch.filename)
    plan = Plan(sheets=sheets)
    grids = Grids(user, batch.area)
    key_groups = {}
    for kg in KeyGroup.objects.filter(is_active=True):
        key_groups[kg.name] = key_groups[kg.code] = kg.code
    total = sum(len(s.rows) for s in sheets)
    seen_numbers: dict[str, str] = {}
    done = 0
    for sheet in sheets:
        columns = column_fields(sheet, batch.mapping)
        if "name" not in columns.values():
            raise ValidationError(_("工作表“%(sheet)s”没有对应到“姓名”列") % {"sheet": sheet.name or "CSV"})
        for row_number, values in sheet.rows:
            named = {code: values[index] for index, code in columns.items() if index < len(values)}
            data, reasons = _clean_row(named, grids, key_groups)
            where = f"{sheet.name}第{row_number}行" if sheet.name else f"第{row_number}行"
            if data["number"]:
                first = seen_numbers.setdefault(data["number"], where)
                if first != where:
                    reasons.append(_("身份证号与%(where)s重复") % {"where": first})
            if reasons:
                plan.rejected.append(Rejected(sheet.name, row_number, list(values), reasons))
            else:
                plan.accepted.append(RowPlan(sheet.name, row_number, data, list(values)))
            done += 1
            if progress and done % 5000 == 0:
                progress(done, total * 2)
    _classify(plan, user)
    if progress:
        progress(total * 2, total * 2, accepted=len(plan.accepted), **plan.counts())
    return plan


def _classify(plan: Plan, user) -> None:
    """Match accepted rows with the people on record; move rows that may not be applied to rejected."""
    existing = _existing_people(plan.accepted)
    grid_codes = {r.data["grid"] for r in plan.accepted}
    buildings, households = _existing_places(grid_codes)
    person_ids = [p.pk for p in existing.values()]
    key_groups_now = defaultdict(list)
    through = Person.key_groups.through
    for start in range(0, len(person_ids), LOOKUP_CHUNK):
        for person_id, code in through.objects.filter(person_id__in=person_ids[start:start + LOOKUP_CHUNK]).values_list(
                "person_id", "keygroup__code"):
            key_groups_now[person_id].append(code)
    prefix = user.scope_prefix
    kept = []
    for row in plan.accepted:
        data = row.data
        person = existing.get(document_index(data["doc_type"], data["number"])) if data["number"] else None
        if person is not None and person.merged_into_id:
            plan.rejected.append(Rejected(row.sheet, row.row, row.values, [_("该身份证号对应的记录已被合并，请核实")]))
            continue
        if person is not None and not in_scope(person.area_id, prefix):
            plan.rejected.append(Rejected(row.sheet, row.row, row.values, [
                _("该身份证号已在其他辖区登记（%(area)s），请联系上级核实后迁入") % {"area": person.area_id}]))
            continue
        key = _household_key(data)
        household_id = households.get(key) if key else None
        if key and household_id is None:
            plan.new_households.add(key)
            if data["building"] and (data["grid"], data["building"]) not in buildings:
                plan.new_buildings.add((data["grid"], data["building"]))
        if person is None:
            row.action = "new"
        else:
            row.person_id = person.pk
            row.changes = _diff(person, data, household_id, key_groups_now)
            row.action = "update" if row.changes else "same"
        kept.append(row)
    plan.accepted = kept
