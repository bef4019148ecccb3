"""Clusters (transmission chains) over the API: the graph of a cluster.

Names are masked (``chains.graph``); the case pages hold the identities.
Each read is audited like the cluster page.
"""

import datetime as dt

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from ninja import Field, Query, Router, Schema

from fangkong.audit.choices import AuditAction
from fangkong.audit.services import record_event
from fangkong.core.api_base import NotFound, errors, get_or_404

from . import chains
from .models import Cluster

router = Router(tags=["传播链"])

NOT_FOUND = gettext_noop("未找到该聚集性疫情或无权查看")
ROOT_NOT_FOUND = gettext_noop("该聚集性疫情中没有这个病例")


class ClusterRef(Schema):
    id: int
    code: str = Field(description="聚集性疫情编号")
    name: str


class NodeOut(Schema):
    id: int = Field(description="病例 id")
    number: str = Field(description="病例编号")
    name: str = Field(description="姓名（脱敏）")
    classification: str = Field(description="confirmed 确诊病例 / asymptomatic 无症状感染者 / suspected 疑似病例")
    classification_label: str
    date: dt.date = Field(description="时间轴日期：发病日期；无症状感染者为采样（或阳性、登记）日期")
    generation: int = Field(description="代际：0 为本图中的源头病例")
    url: str = Field(description="病例页面")
    source: int | None = Field(description="传染来源病例 id（可能不在本图中）")


class EdgeOut(Schema):
    source: int = Field(description="传染来源病例 id")
    target: int = Field(description="被传染病例 id")
    kind: str = Field(description="close 密切接触者 / secondary 次密切接触者 / companion 时空伴随者；空为无密接记录")
    kind_label: str
    summary: str = Field(description="判定依据（一句话）")


class GraphOut(Schema):
    cluster: ClusterRef
    nodes: list[NodeOut]
    edges: list[EdgeOut]


class GraphParams(Schema):
    root: int | None = Field(None, description="源头病例 id：只返回该病例及其传播的下游病例")


@router.get("/clusters/{id}/graph", response={200: GraphOut, **errors(401, 404, 422)},
            summary="聚集性疫情传播链图（节点为病例，边为传染关系及依据）")
def cluster_graph(request, id: int, params: Query[GraphParams]):
    cluster = get_or_404(Cluster.objects.restrict(request.auth, "view"), _(NOT_FOUND), pk=id)
    root = None
    if params.root is not None:
        root = cluster.cases.filter(pk=params.root).first()
        if root is None:
            raise NotFound(_(ROOT_NOT_FOUND))
    record_event(request.auth, AuditAction.VIEW, cluster, request=request, reason=_("传播链图"))
    return chains.graph(cluster, root)
