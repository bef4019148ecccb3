"""The area tree over the API: the areas in the user's jurisdiction."""

from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema

from fangkong.core.api_base import PageParams, errors, get_or_404, paginate

from .models import Area

router = Router(tags=["区划"])


class AreaOut(Schema):
    code: str = Field(description="区划代码（网格在统计代码后加位）")
    name: str
    level: str = Field(description="county / township / village / grid")
    level_label: str
    parent: str | None = Field(description="上级区划代码")
    population: int


class AreaPage(Schema):
    count: int
    items: list[AreaOut]


class AreaDetail(AreaOut):
    children_count: int
    children: list[AreaOut]


class AreaFilter(PageParams):
    parent: str | None = Field(None, description="上级区划代码：只列其直接下级")
    level: str | None = Field(None, description="层级")


def area_data(area: Area) -> dict:
    return {
        "code": area.code,
        "name": area.name,
        "level": area.level,
        "level_label": area.get_level_display(),
        "parent": area.parent_id,
        "population": area.population,
    }


@router.get("", response={200: AreaPage, **errors(401, 422)}, summary="我管辖范围内的区划")
def list_areas(request, filters: Query[AreaFilter]):
    areas = Area.objects.restrict(request.auth, "view")
    if filters.parent:
        areas = areas.filter(parent_id=filters.parent)
    if filters.level:
        areas = areas.filter(level=filters.level)
    return paginate(areas.order_by("code"), filters, area_data)


@router.get(
    "/{code}", response={200: AreaDetail, **errors(401, 404)}, summary="一个区划及其下级概况"
)
def get_area(request, code: str):
    areas = Area.objects.restrict(request.auth, "view")
    area = get_or_404(areas, _("未找到该区划或无权查看"), code=code)
    children = [area_data(child) for child in areas.filter(parent=area).order_by("code")]
    return {**area_data(area), "children_count": len(children), "children": children}
