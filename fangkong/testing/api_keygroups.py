"""Key groups and their coverage over the API (应检尽检).

Member counts and coverage are the caller's view of the roster: their area,
and only their own department's entries for a department officer.
"""

from django.core.exceptions import PermissionDenied
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from ninja import Field, Query, Router, Schema, Status

from fangkong.accounts.models import Organization
from fangkong.core.api_base import NotFound, errors, get_or_404
from fangkong.people.models import KeyGroup

from . import schedules

router = Router(tags=["重点人群检测"])

NOT_FOUND = gettext_noop("未找到该重点人群")


class CountsOut(Schema):
    members: int = Field(description="在册人数")
    on_time: int = Field(description="按时检测（下次应检日期在今天之后）")
    due_today: int = Field(description="今日应检")
    overdue: int = Field(description="逾期未检")
    on_time_pct: float | None = Field(description="按时检测率（%），无排期人员时为空")


class KeyGroupOut(Schema):
    id: int
    code: str
    name: str
    test_interval_days: int | None = Field(description="检测间隔（天）；空为不定期检测")
    department_id: int | None = Field(description="责任部门编号")
    department_name: str
    identified_by: str = Field(description="人员来源")
    is_active: bool
    counts: CountsOut = Field(description="本人可见名单的检测情况（今天）")


class KeyGroupIn(Schema):
    code: str = Field(max_length=40, description="代码（字母、数字、下划线）")
    name: str = Field(max_length=60, description="名称")
    test_interval_days: int | None = Field(None, ge=1, le=365, description="检测间隔（天）；不填为不定期检测")
    department: int | None = Field(None, description="责任部门编号")
    identified_by: str = Field("", max_length=200, description="人员来源，如“市场监管局提供的从业人员名单”")


class CoverageRowOut(CountsOut):
    key: str | None = Field(description="分组键：部门编号、工作单位名称或乡镇区划代码前 9 位")
    label: str


class CoverageOut(Schema):
    group_id: int
    by: str = Field(description="department 责任部门 / employer 工作单位 / township 乡镇")
    today: str
    rows: list[CoverageRowOut]
    totals: CountsOut


class CoverageQuery(Schema):
    by: str = Field("department", pattern="^(department|employer|township)$",
                    description="department 按责任部门 / employer 按工作单位 / township 按乡镇")


def _require_view(user):
    if not user.has_perm("testing.view_rosterentry"):
        raise PermissionDenied


def group_data(group: KeyGroup, counts: dict) -> dict:
    return {"id": group.pk, "code": group.code, "name": group.name, "test_interval_days": group.test_interval_days,
            "department_id": group.department_id, "department_name": group.department.name if group.department else "",
            "identified_by": group.identified_by, "is_active": group.is_active, "counts": counts}


@router.get("/key-groups", response={200: list[KeyGroupOut], **errors(401, 403)},
            summary="重点人群列表（检测间隔、责任部门、在册与逾期人数）")
def list_key_groups(request):
    user = request.auth
    _require_view(user)
    return [group_data(row["group"], {k: v for k, v in row.items() if k != "group"})
            for row in schedules.group_summaries(user)]


@router.post("/key-groups", response={201: KeyGroupOut, **errors(400, 401, 403, 422)},
             summary="新增重点人群（指挥部管理员）")
def create_key_group(request, payload: KeyGroupIn):
    user = request.auth
    if not user.has_perm("people.add_keygroup"):
        raise PermissionDenied
    data = payload.dict()
    if data.get("department") is not None:
        department = Organization.objects.filter(pk=data["department"]).first()
        if department is None:
            raise NotFound(_("未找到该责任部门"))
        data["department"] = department
    group = schedules.create_group(user, data)
    empty = {"members": 0, "on_time": 0, "due_today": 0, "overdue": 0, "on_time_pct": None}
    return Status(201, group_data(group, empty))


@router.get("/key-groups/{id}/coverage", response={200: CoverageOut, **errors(401, 403, 404, 422)},
            summary="某重点人群的检测覆盖（按部门、单位或乡镇：按时 / 今日应检 / 逾期）")
def key_group_coverage(request, id: int, query: Query[CoverageQuery]):
    user = request.auth
    _require_view(user)
    group = get_or_404(KeyGroup.objects.all(), _(NOT_FOUND), pk=id)
    result = schedules.coverage(user, group, today=timezone.localdate(), by=query.by)
    rows = [{**r, "key": None if r["key"] is None else str(r["key"])} for r in result["rows"]]
    return {"group_id": group.pk, "by": result["by"], "today": result["today"].isoformat(), "rows": rows,
            "totals": result["totals"]}
