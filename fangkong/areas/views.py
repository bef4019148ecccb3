import uuid

from django.conf import settings
from django.contrib.auth.decorators import permission_required
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render

from fangkong.core.jobs import start_job
from fangkong.core.pagination import paginate

from .choices import AreaLevel
from .forms import AreaImportForm
from .models import Area, Building, Household


def tree(request):
    """The top of the user's part of the tree."""
    user = request.user
    if user.area_id:
        return redirect("areas:detail", code=user.area_id)
    root = Area.objects.restrict(user, "view").filter(level=AreaLevel.COUNTY).first()
    if root is None:
        return render(request, "areas/empty.html")
    return redirect("areas:detail", code=root.code)


def detail(request, code):
    user = request.user
    area = get_object_or_404(Area.objects.restrict(user, "view").select_related("parent"), code=code)
    context = {"area": area, "breadcrumbs": _visible_ancestors(user, area)}
    if area.level == AreaLevel.GRID:
        buildings = (
            Building.objects.restrict(user, "view").filter(area=area)
            .annotate(household_count=Count("households")).order_by("name", "id")
        )
        context["page_obj"] = paginate(request, buildings)
        context["loose_households"] = Household.objects.restrict(user, "view").filter(
            area=area, building=None).count()
    else:
        children = Area.objects.restrict(user, "view").filter(parent=area).order_by("code")
        context["page_obj"] = paginate(request, children, per_page=100)
    return render(request, "areas/detail.html", context)


def building_detail(request, pk):
    user = request.user
    building = get_object_or_404(Building.objects.restrict(user, "view").select_related("area"), pk=pk)
    households = (
        Household.objects.restrict(user, "view").filter(building=building)
        .annotate(member_count=Count("members")).order_by("unit", "door", "id")
    )
    return render(request, "areas/building_detail.html", {
        "building": building, "area": building.area,
        "breadcrumbs": _trail(user, building.area),
        "page_obj": paginate(request, households, per_page=100),
    })


def household_detail(request, pk):
    user = request.user
    household = get_object_or_404(
        Household.objects.restrict(user, "view").select_related("area", "building"), pk=pk)
    members = household.members.filter(merged_into=None).select_related("area").order_by("id")
    return render(request, "areas/household_detail.html", {
        "household": household, "area": household.area, "members": members,
        "breadcrumbs": _trail(user, household.area),
    })


@permission_required("areas.import_area", raise_exception=True)
def import_areas(request):
    form = AreaImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        folder = settings.MEDIA_ROOT / "uploads"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{uuid.uuid4().hex}-areas"
        with path.open("wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
        job = start_job(
            request.user, "areas.import", f"导入区划：{upload.name}", "fangkong.areas.jobs.import_areas_job",
            area_code=request.user.area_id or "", path=str(path), filename=upload.name,
        )
        return redirect("core:job", pk=job.pk)
    return render(request, "areas/import.html", {"form": form})


def _visible_ancestors(user, area):
    """Ancestors of AREA the user may open (names above the user's own area are not links)."""
    prefix = user.scope_prefix
    return [
        {"area": a, "link": prefix is None or a.code.startswith(prefix)}
        for a in area.ancestors()
    ]


def _trail(user, area):
    return [*_visible_ancestors(user, area), {"area": area, "link": True}]
