"""Planning a register import: each row is new, changed, unchanged or rejected with its reasons.

The plan only reads, in two steps. Cleaning turns each row of the file into a
record (the fields cleaned; the ID number and phone sealed, blind-indexed and
masked as the register keeps them) or a rejection with its reasons; it depends
only on the file, the column mapping, the grids and key groups the user may
use, and the date (the fingerprint). Classifying matches the records with the
people and households on record: new, an update (with the diff), unchanged,
or refused (merged, registered in another area).

The dry run keeps its plan (store.py: sealed, next to the upload); the commit,
inside its transaction, takes it back when the fingerprint still matches,
classifies the records again and writes them only if the outcome is the one
the dry run showed. Otherwise it plans again from the file, so a commit always
matches the data as it is at commit time.

A million rows: the records are plain tuples (objects would not fit in memory),
the short columns' values are cleaned once each, and with two cores a forked
copy of the process cleans nearly half the rows.
An empty cell never clears what is known: re-importing a file changes nothing.
"""

import hashlib
import json
import marshal
import os
import traceback
from collections import defaultdict, namedtuple
from dataclasses import dataclass, field
from datetime import date
from operator import itemgetter

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from fangkong.areas.choices import AreaLevel
from fangkong.areas.models import Area, Building, Household
from fangkong.core import crypto
from fangkong.core.scope import in_scope, prefix_q

from .. import identity
from ..choices import DocumentType
from ..models import KeyGroup, Person, RegisterImport, document_index, phone_index
from . import quirks
from .fields import FIELDS, normalize_header
from .reader import Sheet

# Document types as plain str (the enum members are slow to compare and format, a million times over).
RESIDENT_ID = DocumentType.RESIDENT_ID.value
DOC_TYPE_WORDS = {
    "居民身份证": RESIDENT_ID, "身份证": RESIDENT_ID, "": RESIDENT_ID, "护照": DocumentType.PASSPORT.value,
    "港澳通行证": DocumentType.HK_MACAO_PERMIT.value, "港澳居民来往内地通行证": DocumentType.HK_MACAO_PERMIT.value,
    "台胞证": DocumentType.TAIWAN_PERMIT.value, "台湾居民来往大陆通行证": DocumentType.TAIWAN_PERMIT.value,
}
DOC_TYPE_CODES = frozenset(DocumentType.values)
FLOATING_CATEGORIES = {"流动人口", "流动", "暂住", "暂住人口", "外来人口", "外来"}
RESIDENT_CATEGORIES = {"常住", "常住人口", "户籍", "户籍人口", "本地", "本地人口", "户籍人员"}
LOOKUP_CHUNK = 500
# Columns whose few distinct values (性别, 与户主关系, 网格 …) are cleaned once each; a file cannot make
# these memories grow past this many values per column.
MEMO_LIMIT = 20_000
# From this many rows the cleaning runs in two processes (see clean_rows).
PARALLEL_ROWS = 20_000
# The forked copy's share of the rows: it also marshals its results for the parent (see clean_rows).
CHILD_SHARE = 0.46
PLAN_FORMAT = 2

# An accepted row, cleaned and sealed, as a plain tuple in this order (a million objects would not fit in
# memory, and tuples keep in the plan file). None in sex, birth_date, a flag or vulnerable_group means
# "not given": an update keeps what is on record. birth_date is ISO text.
# "household" is (grid, building, unit, door), or None when the row does not say where the person lives.
RECORD = ("name", "name_pinyin", "name_initials", "sex", "birth_date", "doc_type", "doc_sealed", "doc_index",
          "doc_masked", "doc_last4", "phone_sealed", "phone_index", "phone_masked", "grid", "building", "unit",
          "door", "household", "address", "workplace", "relation", "vulnerable_group", "is_floating",
          "is_rental_tenant", "lives_alone_elderly", "key_groups", "sheet", "row")
(NAME, PINYIN, INITIALS, SEX, BIRTH, DOC_TYPE, DOC_SEALED, DOC_INDEX, DOC_MASKED, DOC_LAST4, PHONE_SEALED,
 PHONE_INDEX, PHONE_MASKED, GRID, BUILDING, UNIT, DOOR, HOUSEHOLD, ADDRESS, WORKPLACE, RELATION, VULNERABLE, FLOATING,
 RENTAL, ALONE, KEY_GROUPS, SHEET, ROW) = range(len(RECORD))

# The register fields a row is cleaned from, in the order the cleaner takes them.
SOURCE = ("name", "doc_type", "id_number", "sex", "birth_date", "phone", "grid", "building", "unit", "door",
          "address", "workplace", "relation", "vulnerable_group", "is_floating", "is_rental", "lives_alone_elderly",
          "category")


@dataclass
class Rejected:
    sheet: str
    row: int
    values: list
    reasons: list[str]


@dataclass
class Outcome:
    """What classifying the records against the database gave."""

    person_ids: list  # per record: the id of the person on record, or None (new)
    changes: dict  # record index -> {field: [old, new]} for the records that change someone
    refused: dict  # record index -> reason, for records that may not be applied
    new_households: set  # (grid, building, unit, door)
    new_buildings: set  # (grid, building)


@dataclass
class Plan:
    headers: list[str]  # the first sheet's headers, for the error report
    records: list[tuple]  # the rows that passed cleaning (RECORD layout)
    outcome: Outcome
    # Rows refused, with their values (a plan read back from its file has only their number).
    rejected: list[Rejected] = field(default_factory=list)
    rejected_count: int = 0
    fingerprint: str = ""  # of what cleaning depended on

    def counts(self) -> dict:
        outcome = self.outcome
        accepted = len(self.records) - len(outcome.refused)
        new = outcome.person_ids.count(None)  # a refused record always has a person on record
        updated = len(outcome.changes)
        return {
            "rows": accepted + self.rejected_count, "new": new, "updated": updated,
            "unchanged": accepted - new - updated, "rejected": self.rejected_count,
            "buildings_new": len(outcome.new_buildings), "households_new": len(outcome.new_households),
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

    def fingerprint(self) -> list:
        return sorted((code, g.name, g.parent.name if g.parent else "") for code, g in self.by_code.items()) + [
            self.default.code if self.default else ""]


def column_fields(sheet: Sheet, mapping: dict) -> dict[int, str]:
    """Column index -> field for a sheet, from the batch's header-text mapping."""
    result = {}
    for index, header in enumerate(sheet.headers):
        code = mapping.get(normalize_header(header))
        if code in FIELDS and code not in result.values():
            result[index] = code
    return result


def _attempt(reasons: list, func, *args):
    """FUNC(*ARGS), or None with the reason added when the value cannot be used."""
    try:
        return func(*args)
    except (quirks.QuirkError, ValidationError) as exc:
        reasons.append(getattr(exc, "messages", [str(exc)])[0])
        return None


def _doc_type(raw) -> str:
    word = quirks.clean_text(raw)
    code = DOC_TYPE_WORDS.get(word, word if word in DOC_TYPE_CODES else None)
    if code is None:
        raise quirks.QuirkError(_("证件类型“%(word)s”无法识别") % {"word": word})
    return code


def _split(text: str) -> list[str]:
    for sep in ("、", "，", ",", "；", ";", "/", " "):
        text = text.replace(sep, "|")
    return [w for w in text.split("|") if w]


class Cleaner:
    """Turns rows into records or reasons; the short columns' values are cleaned once each."""

    def __init__(self, grids: Grids, key_groups: dict):
        self.grids = grids
        self.key_groups = key_groups
        self.memos = {column: {} for column in (
            "doc_type", "sex", "birth_date", "grid", "relation", "vulnerable_group", "is_floating", "is_rental",
            "lives_alone_elderly", "category")}

    def _memo(self, reasons: list, memo: dict, func, raw, *args):
        """FUNC(RAW, *ARGS) through a column's MEMO (1 == 1.0 == True: keys carry the type)."""
        key = raw if raw.__class__ is str else (raw.__class__, raw)
        found = memo.get(key)
        if found is None:
            problems = []
            found = (_attempt(problems, func, raw, *args), problems[0] if problems else None)
            if len(memo) < MEMO_LIMIT:
                memo[key] = found
        if found[1] is not None:
            reasons.append(found[1])
        return found[0]

    def _grid(self, raw) -> str:
        return self.grids.resolve(quirks.clean_text(raw)).code

    def _category(self, raw) -> tuple[bool, tuple, tuple]:
        """(floating, key group codes, reasons) for the 人员类别 cell."""
        key = raw if raw.__class__ is str else (raw.__class__, raw)
        memo = self.memos["category"]
        found = memo.get(key)
        if found is None:
            floating, groups, reasons = False, [], []
            for word in _split(quirks.clean_text(raw)):
                if word in FLOATING_CATEGORIES:
                    floating = True
                elif word in self.key_groups:
                    groups.append(self.key_groups[word])
                elif word not in RESIDENT_CATEGORIES:
                    reasons.append(_("人员类别“%(word)s”无法识别（可填重点人群名称、流动人口、常住人口）") % {"word": word})
            found = (floating, tuple(groups), tuple(reasons))
            if len(memo) < MEMO_LIMIT:
                memo[key] = found
        return found

    def clean(self, sheet: str, row: int, raw: tuple) -> tuple[tuple | list[str], str]:
        """The record of one row (RAW in SOURCE order, None for a column not in the file) or the reasons it
        cannot be taken, and its document number (the duplicate check across the file comes after)."""
        (name, doc_word, number, sex, birth, phone, grid, building, unit, door, address, workplace, relation,
         vulnerable, floating, rental, alone, category) = raw
        memo, memos = self._memo, self.memos
        reasons = []
        name = quirks.clean_text(name)
        if not name:
            reasons.append(_("缺少姓名"))
        elif len(name) > 50:
            reasons.append(_("姓名超过50个字"))
        doc_type = RESIDENT_ID
        if doc_word is not None:
            doc_type = memo(reasons, memos["doc_type"], _doc_type, doc_word) or RESIDENT_ID
        number = _attempt(reasons, quirks.clean_id_number, number)
        if number == "":
            reasons.append(_("缺少公民身份号码"))
        elif number:
            number = _attempt(reasons, identity.validate_document, doc_type, number)
        number = number or ""
        sex = memo(reasons, memos["sex"], quirks.clean_sex, sex) if sex is not None else None
        birth = memo(reasons, memos["birth_date"], quirks.clean_date, birth) if birth is not None else None
        if number and doc_type == RESIDENT_ID:
            id_birth, id_sex = identity.resident_id_facts(number)
            if sex and sex != id_sex:
                reasons.append(_("性别与身份证号第17位不符"))
            if birth and birth != id_birth:
                reasons.append(_("出生日期与身份证号不符"))
            sex, birth = id_sex, id_birth
        phone = _attempt(reasons, quirks.clean_phone, phone)
        if phone:
            phone = _attempt(reasons, identity.validate_phone, phone)
        phone = phone or ""
        grid = memo(reasons, memos["grid"], self._grid, grid)
        if relation is not None:
            relation = memo(reasons, memos["relation"], quirks.clean_choice, relation, quirks.RELATION_WORDS)
        relation = relation or ""
        if vulnerable is not None:
            vulnerable = memo(reasons, memos["vulnerable_group"], quirks.clean_choice, vulnerable,
                              quirks.VULNERABLE_WORDS)
        if floating is not None:
            floating = memo(reasons, memos["is_floating"], quirks.clean_bool, floating)
        if rental is not None:
            rental = memo(reasons, memos["is_rental"], quirks.clean_bool, rental)
        if alone is not None:
            alone = memo(reasons, memos["lives_alone_elderly"], quirks.clean_bool, alone)
        groups = ()
        if category is not None:
            is_floating, groups, problems = self._category(category)
            floating = True if is_floating else floating
            reasons.extend(problems)
        if reasons:
            return reasons, number
        pinyin, initials = identity.name_pinyin(name)
        building = quirks.clean_text(building)[:100]
        unit = quirks.clean_text(unit).removesuffix("单元")[:20]
        door = quirks.clean_text(door)[:50]
        record = (  # plain str, not the choices' enum members: the plan file takes built-in types only
            name, pinyin, initials, sex and str(sex), birth.isoformat() if birth else None, doc_type,
            crypto.encrypt(number), document_index(doc_type, number), identity.mask_document(number), number[-4:],
            crypto.encrypt(phone), phone_index(phone), identity.mask_phone(phone), grid, building, unit, door,
            (grid, building, unit, door) if grid and (building or door) else None,
            quirks.clean_text(address)[:200], quirks.clean_text(workplace)[:100],
            relation, vulnerable, floating, rental, alone, groups, sheet, row,
        )
        return record, number


def _clean(cleaner: Cleaner, rows: list, raws: list, start: int, stop: int, progress=None) -> list:
    done = []
    for index in range(start, stop):
        sheet, row, _values = rows[index]
        done.append(cleaner.clean(sheet, row, raws[index]))
        if progress and index % 20000 == 0:
            progress(index, len(rows) * 2)
    return done


def clean_rows(load, mapping: dict, cleaner: Cleaner, expected: int, progress=None) -> tuple[list, list]:
    """The rows of the sheets LOAD() gives (see source_rows), and Cleaner.clean of each.

    With two cores or more and EXPECTED rows worth it, a forked copy of this
    process cleans the first CHILD_SHARE of the rows (less than half: it also
    has to hand its results over). It is forked before the sheets are loaded
    and loads its own copy: sharing a heap of millions of objects with it would
    make both processes copy it page by page as they touch it. The copy does
    not touch the database, writes its results into an in-memory file (never
    to disk: they hold plain ID numbers) and leaves without any clean-up of
    its own (os._exit), so the parent's database connection is never closed
    under it.
    """
    if (expected < PARALLEL_ROWS or (os.cpu_count() or 1) < 2 or not hasattr(os, "fork")
            or not hasattr(os, "memfd_create")):
        rows, raws = source_rows(load(), mapping)
        return rows, _clean(cleaner, rows, raws, 0, len(rows), progress)
    results = os.memfd_create("fangkong-register-clean")
    child = os.fork()
    if child == 0:
        status = 0
        try:
            rows, raws = source_rows(load(), mapping)
            data = marshal.dumps(_clean(cleaner, rows, raws, 0, _split_at(len(rows))))
        except BaseException:
            data, status = traceback.format_exc().encode(), 1
        with os.fdopen(results, "wb") as out:
            out.write(data)
        os._exit(status)
    try:
        rows, raws = source_rows(load(), mapping)
        second = _clean(cleaner, rows, raws, _split_at(len(rows)), len(rows), progress)
    finally:
        _pid, status = os.waitpid(child, 0)
        os.lseek(results, 0, os.SEEK_SET)  # the child's writes moved the offset both share
        with os.fdopen(results, "rb") as handed:
            data = handed.read()
    if status != 0:
        raise RuntimeError(f"cleaning the first rows failed: {data.decode(errors='replace')[-2000:]}")
    return rows, marshal.loads(data) + second


def _split_at(count: int) -> int:
    return int(count * CHILD_SHARE)


def _key_groups() -> dict:
    """Name or code -> code of the active key groups (what 人员类别 may say)."""
    found = {}
    for code, name in KeyGroup.objects.filter(is_active=True).values_list("code", "name"):
        found[name] = found[code] = code
    return found


def _fingerprint(batch: RegisterImport, user, grids: Grids, key_groups: dict) -> str:
    facts = [PLAN_FORMAT, batch.sha256, batch.mapping, user.pk, user.scope_prefix, grids.fingerprint(),
             sorted(key_groups.items()), date.today().isoformat()]
    return hashlib.sha256(json.dumps(facts, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def fingerprint(batch: RegisterImport, user) -> str:
    """What cleaning depends on: a kept plan is valid only while this stays the same."""
    return _fingerprint(batch, user, Grids(user, batch.area), _key_groups())


def source_rows(sheets: list[Sheet], mapping: dict) -> tuple[list, list]:
    """(sheet, row number, values) of every row, and its cells in SOURCE order (None: not in the file)."""
    rows, raws = [], []
    for sheet in sheets:
        columns = {code: index for index, code in column_fields(sheet, mapping).items()}
        if "name" not in columns:
            raise ValidationError(_("工作表“%(sheet)s”没有对应到“姓名”列") % {"sheet": sheet.name or "CSV"})
        # Rows are padded to the headers' width: one more cell, None, stands for the columns not in the file.
        pick = itemgetter(*(columns.get(name, len(sheet.headers)) for name in SOURCE))
        missing = [None]
        for row_number, values in sheet.rows:
            rows.append((sheet.name, row_number, values))
            raws.append(pick(values + missing))
    return rows, raws


def make_plan(batch: RegisterImport, user, load, progress=None) -> Plan:
    """Decide, row by row of the batch's sheets (LOAD() gives them), what an import would do."""
    grids, key_groups = Grids(user, batch.area), _key_groups()
    expected = sum(sheet["rows"] for sheet in batch.sheets)
    rows, cleaned = clean_rows(load, batch.mapping, Cleaner(grids, key_groups), expected, progress)
    total = len(rows)
    records, sources, rejected = [], [], []
    seen_numbers = {}
    for (sheet_name, row_number, values), (result, number) in zip(rows, cleaned, strict=True):
        if number:
            first = seen_numbers.setdefault(number, (sheet_name, row_number))
            if first != (sheet_name, row_number):
                where = f"{first[0]}第{first[1]}行" if first[0] else f"第{first[1]}行"
                result = (result if isinstance(result, list) else []) + [
                    _("身份证号与%(where)s重复") % {"where": where}]
        if isinstance(result, list):
            rejected.append(Rejected(sheet_name, row_number, values, result))
        else:
            records.append(result)
            sources.append(values)
    del cleaned, seen_numbers
    outcome = classify(records, user)
    for index, reason in outcome.refused.items():
        rejected.append(Rejected(records[index][SHEET], records[index][ROW], sources[index], [reason]))
    plan = Plan(headers=batch.sheets[0]["headers"], records=records, outcome=outcome, rejected=rejected,
                rejected_count=len(rejected), fingerprint=_fingerprint(batch, user, grids, key_groups))
    if progress:
        progress(total * 2, total * 2, accepted=len(records) - len(outcome.refused), **plan.counts())
    return plan


# The fields of a person on record that a row is compared with.
Known = namedtuple("Known", ["pk", "name", "doc_index", "phone_index", "phone_masked", "address", "area_id",
                             "household_id", "relation", "is_floating", "is_rental_tenant", "vulnerable_group",
                             "lives_alone_elderly", "merged_into_id"])


def _existing_people(indexes: set[str]) -> dict[str, Known]:
    """The people on record holding these document indexes.

    When the file is large next to the register (a county's register sent
    again), one pass over the whole register beats probing it: thousands of
    IN queries cost Django more than the database.
    """
    people = Person.objects.exclude(doc_index="").order_by()
    found = {}
    if len(indexes) * 4 > people.count():
        for row in people.values_list(*Known._fields).iterator(chunk_size=20000):
            if row[2] in indexes:
                found[row[2]] = Known._make(row)
        return found
    ordered = sorted(indexes)
    for start in range(0, len(ordered), LOOKUP_CHUNK):
        for row in people.filter(doc_index__in=ordered[start:start + LOOKUP_CHUNK]).values_list(*Known._fields):
            found[row[2]] = Known._make(row)
    return found


def _key_groups_of(person_ids: list) -> dict:
    """Person id -> the codes of their key groups, for these people (the same trade-off as _existing_people)."""
    through = Person.key_groups.through.objects.order_by()
    found = defaultdict(list)
    if len(person_ids) * 4 > Person.objects.count():
        wanted = set(person_ids)
        for person_id, code in through.values_list("person_id", "keygroup__code").iterator(chunk_size=20000):
            if person_id in wanted:
                found[person_id].append(code)
        return found
    for start in range(0, len(person_ids), LOOKUP_CHUNK):
        for person_id, code in through.filter(person_id__in=person_ids[start:start + LOOKUP_CHUNK]).values_list(
                "person_id", "keygroup__code"):
            found[person_id].append(code)
    return found


def existing_places(grid_codes) -> tuple[dict, dict]:
    """The buildings ((grid, name) -> id) and households ((grid, building name, unit, door) -> id) of these grids."""
    buildings = {(area, name): pk for pk, area, name in Building.objects.filter(
        area_id__in=grid_codes).order_by().values_list("pk", "area_id", "name")}
    by_building = {pk: name for (_area, name), pk in buildings.items()}
    households = {}
    for pk, area_id, building_id, unit, door in Household.objects.filter(area_id__in=grid_codes).order_by().values_list(
            "pk", "area_id", "building_id", "unit", "door").iterator(chunk_size=20000):
        households[(area_id, by_building.get(building_id, ""), unit, door)] = pk
    return buildings, households


def _diff(person: Known, record: tuple, household_id, key_groups_now: dict) -> dict:
    changes = {}

    def compare(name, old, new):
        if new not in (None, "", []) and old != new:
            changes[name] = [old, new]

    compare("name", person.name, record[NAME])
    if record[PHONE_INDEX] and record[PHONE_INDEX] != person.phone_index:
        changes["phone"] = [person.phone_masked, record[PHONE_MASKED]]
    compare("address", person.address, record[ADDRESS])
    compare("grid", person.area_id, record[GRID])
    if household_id is not None:
        compare("household", person.household_id, household_id)
    elif record[HOUSEHOLD]:
        changes["household"] = [person.household_id, "new"]
    compare("relation", person.relation, record[RELATION])
    for flag, position in (("is_floating", FLOATING), ("is_rental_tenant", RENTAL), ("lives_alone_elderly", ALONE)):
        if record[position] is not None and record[position] != getattr(person, flag):
            changes[flag] = [getattr(person, flag), record[position]]
    if record[VULNERABLE] is not None and record[VULNERABLE] != person.vulnerable_group:
        changes["vulnerable_group"] = [person.vulnerable_group, record[VULNERABLE]]
    now = key_groups_now.get(person.pk, ())
    added = sorted(set(record[KEY_GROUPS]) - set(now))
    if added:
        changes["key_groups"] = [sorted(now), added]
    return changes


def classify(records: list[tuple], user) -> Outcome:
    """Match the records with the people and households on record."""
    existing = _existing_people({r[DOC_INDEX] for r in records if r[DOC_INDEX]})
    buildings, households = existing_places({r[GRID] for r in records})
    key_groups_now = _key_groups_of([p.pk for p in existing.values()])
    outcome = Outcome(person_ids=[], changes={}, refused={}, new_households=set(), new_buildings=set())
    prefix = user.scope_prefix
    for index, record in enumerate(records):
        person = existing.get(record[DOC_INDEX]) if existing and record[DOC_INDEX] else None
        outcome.person_ids.append(person.pk if person is not None else None)
        if person is not None and person.merged_into_id:
            outcome.refused[index] = _("该身份证号对应的记录已被合并，请核实")
            continue
        if person is not None and not in_scope(person.area_id, prefix):
            outcome.refused[index] = _("该身份证号已在其他辖区登记（%(area)s），请联系上级核实后迁入") % {
                "area": person.area_id}
            continue
        key = record[HOUSEHOLD]
        household_id = households.get(key) if key else None
        if key and household_id is None:
            outcome.new_households.add(key)
            if record[BUILDING] and (record[GRID], record[BUILDING]) not in buildings:
                outcome.new_buildings.add((record[GRID], record[BUILDING]))
        if person is not None:
            changes = _diff(person, record, household_id, key_groups_now)
            if changes:
                outcome.changes[index] = changes
    return outcome


def plan_bytes(plan: Plan) -> bytes:
    """The plan as kept for the commit (marshal: the records are built-in types only, and it is fast)."""
    outcome = plan.outcome
    return marshal.dumps({
        "format": PLAN_FORMAT, "fingerprint": plan.fingerprint, "headers": plan.headers, "records": plan.records,
        "person_ids": outcome.person_ids, "changes": outcome.changes, "refused": outcome.refused,
        # As lists: marshal takes a second and a half over a set of 300,000 tuples, a few ms over a list.
        "new_households": list(outcome.new_households), "new_buildings": list(outcome.new_buildings),
        "rejected_count": plan.rejected_count,
    })


def plan_from_bytes(data: bytes, stamp: str) -> Plan | None:
    """The kept plan, if it was made under the fingerprint STAMP."""
    kept = marshal.loads(data)
    if kept.get("format") != PLAN_FORMAT or kept["fingerprint"] != stamp:
        return None
    outcome = Outcome(person_ids=kept["person_ids"], changes=kept["changes"], refused=kept["refused"],
                      new_households=set(kept["new_households"]), new_buildings=set(kept["new_buildings"]))
    return Plan(headers=kept["headers"], records=kept["records"], outcome=outcome,
                rejected_count=kept["rejected_count"], fingerprint=stamp)
