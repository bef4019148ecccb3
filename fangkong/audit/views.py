import csv

from django.contrib.auth.decorators import permission_required
from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from fangkong.core.pagination import paginate

from .choices import AuditAction
from .filtersets import AuditEventFilterSet
from .models import AuditEvent
from .services import record_event


def _filtered(request, action="view"):
    return AuditEventFilterSet(request.GET or None, queryset=AuditEvent.objects.restrict(request.user, action))


@permission_required("audit.view_auditevent", raise_exception=True)
def event_list(request):
    filterset = _filtered(request)
    return render(request, "audit/list.html", {"filter": filterset, "page_obj": paginate(request, filterset.qs)})


class _Echo:
    def write(self, value):
        return value


@permission_required("audit.export_auditevent", raise_exception=True)
def event_export(request):
    """The filtered trail as CSV (UTF-8 with BOM so Excel opens it); the export is itself audited."""
    events = _filtered(request, "export").qs
    record_event(request.user, AuditAction.EXPORT, object_type="audit.auditevent",
                 object_repr="审计日志", changes={"query": request.GET.urlencode()}, request=request)
    writer = csv.writer(_Echo())

    def rows():
        yield "\ufeff"
        yield writer.writerow(["时间", "用户", "操作", "对象类型", "对象编号", "对象", "区划代码", "事由", "IP"])
        for e in events.iterator(chunk_size=2000):
            yield writer.writerow([timezone.localtime(e.at).strftime("%Y-%m-%d %H:%M:%S"), e.username,
                                   e.get_action_display(), e.object_type, e.object_id, e.object_repr,
                                   e.area_code, e.reason, e.ip or ""])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="audit.csv"'
    return response
