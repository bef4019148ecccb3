"""The outbreak board and the cluster (chain) pages.

Every read starts from a restricted queryset (out of scope is a 404); the
figures come from ``tracing.board``, the chain graph from ``tracing.chains``.
"""

from django.contrib.auth.decorators import permission_required
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from fangkong.audit.choices import AuditAction
from fangkong.audit.services import record_event
from fangkong.core.pagination import paginate
from fangkong.people.identity import mask_name

from . import board as outbreak
from . import chains
from .choices import Classification
from .models import Cluster

# The graph's colours by classification (also the legend and the table's badges).
CLASSIFICATION_COLOURS = {
    Classification.CONFIRMED: "#c62828",
    Classification.ASYMPTOMATIC: "#ef6c00",
    Classification.SUSPECTED: "#5c6bc0",
}


@require_GET
@permission_required("tracing.view_case", raise_exception=True)
def board(request):
    data = outbreak.board(request.user)
    series = data["series"]
    return render(request, "tracing/board.html", {
        "board": data,
        "chart": {"days": series["days"], "total": series["total"], "labels": {"count": _("新增病例")},
                  "series": [{**s, "color": CLASSIFICATION_COLOURS[s["value"]]} for s in series["series"]]},
        "series_rows": [{"day": day, "counts": [s["data"][i] for s in series["series"]], "total": series["total"][i]}
                        for i, day in enumerate(series["days"])],
        "can_view_clusters": request.user.has_perm("tracing.view_cluster"),
        "can_add_case": request.user.has_perm("tracing.add_case"),
    })


@require_GET
@permission_required("tracing.view_cluster", raise_exception=True)
def cluster_list(request):
    clusters = outbreak.clusters_with_counts(request.user).select_related("area")
    return render(request, "tracing/cluster_list.html", {"page_obj": paginate(request, clusters)})


@require_GET
@permission_required("tracing.view_cluster", raise_exception=True)
def cluster_detail(request, pk):
    cluster = get_object_or_404(Cluster.objects.restrict(request.user, "view").select_related("area"), pk=pk)
    members = list(cluster.cases.select_related("person").order_by("created_at", "id"))
    root = None
    wanted = request.GET.get("root", "")
    if wanted:
        root = next((c for c in members if str(c.pk) == wanted), None)
    graph = chains.graph(cluster, root)
    record_event(request.user, AuditAction.VIEW, cluster, request=request, reason=_("传播链图"))
    numbers = {n["id"]: n["number"] for n in graph["nodes"]}
    numbers.update({c.pk: c.number for c in members})
    classifications = [{"value": value, "label": str(label), "color": CLASSIFICATION_COLOURS[value]}
                       for value, label in Classification.choices]
    return render(request, "tracing/cluster_detail.html", {
        "cluster": cluster, "graph": graph, "root": root, "root_invalid": bool(wanted) and root is None,
        "members": [{"id": c.pk, "number": c.number, "name": mask_name(c.person.name)} for c in members],
        "edges": [{**e, "source_number": numbers.get(e["source"], ""), "target_number": numbers.get(e["target"], "")}
                  for e in graph["edges"]],
        "nodes": [{**n, "source_number": numbers.get(n["source"], "")} for n in graph["nodes"]],
        "classifications": classifications,
        "chart": {"nodes": graph["nodes"], "edges": graph["edges"], "classifications": classifications,
                  "labels": {"generation": _("第%(n)s代"), "date": _("日期"), "source": _("传染来源"),
                             "evidence": _("判定依据"), "open": _("点击打开病例页"), "no_evidence": _("无密接记录")}},
    })
