"""The testing pages: the overview, the phone sampling page, lab result upload, one tube.

Every read starts from a restricted queryset (out of scope is a 404); every
write is a call to testing.services.
"""

import json
import uuid
from datetime import datetime, time, timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fangkong.audit.choices import AuditAction
from fangkong.audit.services import record_event
from fangkong.core.pagination import paginate
from fangkong.core.scope import prefix_q
from fangkong.core.tabular import ImportFileError
from fangkong.people.identity import mask_name

from . import services
from .choices import FollowupStatus, Result, TubeStatus
from .forms import ResultFileForm, SamplingPointForm, ScanForm, SealForm, SessionForm
from .models import LabResult, PoolFollowup, SamplingPoint, SamplingSession, Tube

RECENT_TUBES = 20
OPEN_FOLLOWUP = (FollowupStatus.PENDING, FollowupStatus.SAMPLED)


def _start_of_today() -> datetime:
    return timezone.make_aware(datetime.combine(timezone.localdate(), time.min))


def _sessions(user):
    """The sessions USER may open: read them (view) or sample in them (add), within the user's area."""
    readable = SamplingSession.objects.restrict(user, "view")
    sampling = SamplingSession.objects.restrict(user, "add")
    return SamplingSession.objects.filter(Q(pk__in=readable.values("pk")) | Q(pk__in=sampling.values("pk")))


def _may_sample(user) -> bool:
    return user.has_perm("testing.add_sample") and user.has_perm("testing.add_samplingsession")


def _points(user):
    return SamplingPoint.objects.restrict(user, "view").filter(is_active=True).select_related("area")


def _first_error(form) -> str:
    for errors in form.errors.values():
        return errors[0]
    return _("提交的内容有误。")


# The overview ------------------------------------------------------------------------------------
@permission_required("testing.view_sample", raise_exception=True)
def index(request, point_form=None, session_form=None):
    user = request.user
    points = _points(user).annotate(open_sessions=Count("sessions", filter=Q(sessions__closed_at__isnull=True)))
    sessions = _sessions(user).filter(closed_at__isnull=True).select_related("point", "operator").annotate(
        tube_count=Count("tubes", distinct=True), sample_count=Count("tubes__samples"))
    if not user.has_perm("testing.view_samplingsession"):
        sessions = sessions.filter(operator=user)  # a grid worker sees the sessions they run
    tubes = Tube.objects.restrict(user, "view")
    since = _start_of_today()
    stats = {
        "tubes_today": tubes.filter(created_at__gte=since).count(),
        "positives": tubes.filter(result=Result.POSITIVE, resulted_at__gte=since - timedelta(days=6)).count(),
        "retesting": tubes.filter(result=Result.POSITIVE, followups__status__in=OPEN_FOLLOWUP).distinct().count(),
    }
    can_results = user.has_perm("testing.view_labresult")
    if can_results:
        stats["unmatched"] = LabResult.objects.filter(tube__isnull=True).count()
    can_add_point = user.has_perm("testing.change_samplingpoint")
    can_sample = _may_sample(user)
    return render(request, "testing/index.html", {
        "points": points, "sessions": sessions, "stats": stats,
        "recent_tubes": tubes.select_related("session__point").annotate(filled=Count("samples"))[:RECENT_TUBES],
        "can_view_tubes": user.has_perm("testing.view_tube"), "can_results": can_results,
        "can_upload": user.has_perm("testing.add_labresult"),
        "can_add_point": can_add_point, "can_sample": can_sample,
        "point_form": point_form or (SamplingPointForm(user=user) if can_add_point else None),
        "session_form": session_form or (SessionForm(points=_points(user)) if can_sample else None),
    })


@require_POST
@permission_required("testing.change_samplingpoint", raise_exception=True)
def point_new(request):
    form = SamplingPointForm(request.POST, user=request.user)
    if not form.is_valid():
        messages.error(request, _("采样点未保存，请检查填写内容。"))
        return index(request, point_form=form)
    point = form.save()
    record_event(request.user, AuditAction.CREATE, point, request=request, area_code=point.area_id)
    messages.success(request, _("已新增采样点：%(name)s。") % {"name": point.name})
    return redirect("testing:index")


@require_POST
@permission_required("testing.add_samplingsession", raise_exception=True)
def session_new(request):
    form = SessionForm(request.POST, points=_points(request.user))
    if form.is_valid():
        try:
            session = services.open_session(request.user, form.cleaned_data["point"], form.cleaned_data["pool_size"])
        except ValidationError as exc:
            form.add_error(None, exc.messages)
        else:
            return redirect("testing:session", pk=session.pk)
    messages.error(request, _("未能开始采样：%(error)s") % {"error": _first_error(form)})
    return index(request, session_form=form)


# The sampling page -------------------------------------------------------------------------------
def _get_session(request, pk) -> SamplingSession:
    user = request.user
    if not (user.has_perm("testing.add_sample") or user.has_perm("testing.view_samplingsession")):
        raise PermissionDenied
    return get_object_or_404(_sessions(user).select_related("point__area", "operator"), pk=pk)


def _tube_state(tube: Tube | None) -> dict | None:
    if tube is None:
        return None
    members = [mask_name(s.person.name) for s in tube.samples.select_related("person").order_by("sampled_at", "id")]
    return {"barcode": tube.barcode, "filled": len(members), "capacity": tube.capacity, "status": tube.status,
            "status_label": TubeStatus(tube.status).label, "open": tube.status == TubeStatus.OPEN,
            "members": members}


def _session_totals(session: SamplingSession, user) -> dict:
    """The session's totals and its latest tubes, compact (two queries): for the page and each scan's answer."""
    totals = session.tubes.aggregate(tubes=Count("id", distinct=True), samples=Count("samples"))
    link = user.has_perm("testing.view_tube")
    rows = session.tubes.annotate(filled=Count("samples")).order_by("-created_at", "-id")[:RECENT_TUBES]
    return {
        "tubes": totals["tubes"] or 0, "samples": totals["samples"] or 0,
        "list": [{"barcode": t.barcode, "filled": t.filled, "capacity": t.capacity, "status": t.status,
                  "status_label": TubeStatus(t.status).label, "result": t.result,
                  "result_label": Result(t.result).label if t.result else "",
                  "url": reverse("testing:tube", args=[t.pk]) if link else ""} for t in rows],
    }


def _current_tube(session: SamplingSession, barcode: str = "") -> Tube | None:
    tubes = session.tubes.filter(status=TubeStatus.OPEN)
    if barcode:
        return tubes.filter(barcode=barcode).first()
    return tubes.order_by("-created_at", "-id").first()


def session(request, pk):
    session = _get_session(request, pk)
    user = request.user
    can_sample = _may_sample(user) and session.closed_at is None
    barcode = services.normalize_barcode(request.GET.get("barcode", ""))
    tube = _current_tube(session, barcode) if session.closed_at is None else None
    return render(request, "testing/session.html", {
        "session": session, "can_sample": can_sample, "tube": _tube_state(tube),
        "totals": _session_totals(session, user),
        "client_key": uuid.uuid4().hex,
        "scan_url": reverse("testing:session_scan", args=[session.pk]),
        "texts": _sampling_texts(),
    })


def _sampling_texts() -> dict:
    """The sampling page's script messages, translated here."""
    return {
        "pending": _("待上传 %(n)s 条"), "offline": _("网络不通：已保存在本机，联网后自动上传。"),
        "ok": _("已采样：%(person)s"), "full": _("本管已满（%(filled)s/%(capacity)s），已封管。请扫描下一支管码。"),
        "next_person": _("本管未满，继续扫描下一人。"), "new_tube": _("请扫描一支新的采样管。"),
        "need_barcode": _("请先扫描采样管管码。"), "need_person": _("请扫描或输入被采样人身份证号码。"),
        "relogin": _("登录已失效或页面已过期：请刷新页面（必要时重新登录），待上传的采样不会丢失。"),
        "seal_pending": _("还有 %(n)s 条采样待上传，请联网上传后再封管。"),
        "close_pending": _("还有 %(n)s 条采样待上传，请联网上传后再结束采样。"),
        "close_confirm": _("确定结束本次采样吗？"), "empty": _("本管还没有人。"),
        "id_tail": _("证件尾号 %(tail)s"), "totals": _("已采 %(tubes)s 管 %(samples)s 人"),
        "totals_pending": _("另有 %(n)s 人待上传"), "queued": _("待上传 %(n)s 人"),
        "no_tubes": _("还没有采样管。扫描第一支管码开始采样。"), "sealed": str(TubeStatus.CLOSED.label),
    }


def _scan_data(request):
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            return None
        return data if isinstance(data, dict) else None
    return request.POST


def _sampled_at(value):
    """When a queued scan was taken (sent later from the phone); never in the future."""
    moment = parse_datetime(str(value or "").strip()) if value else None
    if moment is None:
        return None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return None if moment > timezone.now() + timedelta(minutes=5) else moment


@require_POST
@permission_required("testing.add_sample", raise_exception=True)
def session_scan(request, pk):
    """One swab. JSON in and out for the page's queue (idempotent by client_key); a plain form falls back here too."""
    session = _get_session(request, pk)
    wants_json = request.content_type == "application/json" or "application/json" in request.headers.get("Accept", "")
    data = _scan_data(request)
    error, created, person_label = "", False, ""
    form = ScanForm(data if data is not None else {})
    barcode = str((data or {}).get("barcode", "")).strip()
    if data is None:
        error = _("提交的内容有误。")
    elif session.closed_at is not None:
        error = _("本次采样已结束，不能再采样。")
    elif not form.is_valid():
        error = _first_error(form)
    else:
        barcode = services.normalize_barcode(form.cleaned_data["barcode"])
        sampled_at = _sampled_at(data.get("sampled_at"))
        try:
            person = services.find_person(form.cleaned_data["person"], at=sampled_at)
        except services.PersonCodeError as exc:
            person, error = None, exc.messages[0]
        if person is None:
            error = error or _("查无此人：请核对身份证号码，或先到人员库登记。")
        else:
            person_label = mask_name(person.name)
            try:
                _sample, created = services.add_sample(
                    request.user, session, barcode=barcode, person=person,
                    client_key=form.cleaned_data["client_key"] or uuid.uuid4().hex, sampled_at=sampled_at)
            except ValidationError as exc:
                error = "；".join(exc.messages)
    tube = session.tubes.filter(barcode=barcode).first() if barcode else None
    state = _tube_state(tube)
    if wants_json:
        totals = _session_totals(session, request.user)
        return JsonResponse({"ok": not error, "created": created, "person": person_label, "tube": state,
                             "error": error, "session": {"tubes": totals["tubes"], "samples": totals["samples"]},
                             "tubes": totals["list"]}, status=400 if error else 200)
    url = reverse("testing:session", args=[session.pk])
    if error:
        messages.error(request, error)
    elif state and not state["open"]:
        messages.success(request, _("已采样：%(person)s。采样管 %(barcode)s 已满并封管，请扫描下一支管码。")
                         % {"person": person_label, "barcode": state["barcode"]})
    else:
        messages.success(request, _("已采样：%(person)s。") % {"person": person_label})
    if state and state["open"]:
        url += f"?barcode={state['barcode']}"
    return redirect(url)


@require_POST
@permission_required("testing.add_sample", raise_exception=True)
def session_seal(request, pk):
    session = _get_session(request, pk)
    form = SealForm(request.POST)
    if not form.is_valid():
        messages.error(request, _first_error(form))
        return redirect("testing:session", pk=session.pk)
    tube = get_object_or_404(session.tubes, barcode=services.normalize_barcode(form.cleaned_data["barcode"]))
    try:
        services.seal_tube(request.user, tube)
    except ValidationError as exc:
        messages.error(request, "；".join(exc.messages))
    else:
        messages.success(request, _("采样管 %(barcode)s 已封管，请扫描下一支管码。") % {"barcode": tube.barcode})
    return redirect("testing:session", pk=session.pk)


@require_POST
@permission_required("testing.add_samplingsession", raise_exception=True)
def session_close(request, pk):
    session = _get_session(request, pk)
    try:
        services.close_session(request.user, session)
    except ValidationError as exc:
        messages.error(request, "；".join(exc.messages))
        return redirect("testing:session", pk=session.pk)
    messages.success(request, _("已结束采样：%(point)s。") % {"point": session.point.name})
    return redirect("testing:index")


# Lab results -------------------------------------------------------------------------------------
@permission_required("testing.add_labresult", raise_exception=True)
def results_upload(request):
    form = ResultFileForm(request.POST or None, request.FILES or None)
    summary = None
    if request.method == "POST" and form.is_valid():
        try:
            summary = services.import_result_file(request.user, form.cleaned_data["file"],
                                                  lab=form.cleaned_data["lab"])
        except ImportFileError as exc:
            form.add_error("file", str(exc))
        except ValidationError as exc:
            form.add_error(None, exc.messages)
        else:
            if summary.get("positives"):
                messages.warning(request, _("本次导入有 %(n)d 支阳性管，已推送单采复核。") % {"n": summary["positives"]})
            else:
                messages.success(request, _("结果文件已导入。"))
    return render(request, "testing/results_upload.html", {
        "form": form, "summary": summary,
        "columns_hint": _("文件须有表头，至少含“管码”“检测结果”“检测时间”三列（可含 ORF1ab、N 基因 Ct 值）；"
                          "结果写 阴性/阳性/无效。同一管码同一检测时间重复上传不会重复计入。"),
        "can_unmatched": request.user.has_perm("testing.view_labresult"),
    })


@permission_required("testing.view_labresult", raise_exception=True)
def unmatched(request):
    """Results whose tube is unknown, and results that contradict another result of the same tube."""
    kind = request.GET.get("kind", "unmatched")
    in_scope_tube = prefix_q("tube__area_id", request.user.scope_prefix)
    results = LabResult.objects.select_related("tube", "received_by")
    counts = {"unmatched": results.filter(tube__isnull=True).count(),
              "conflicts": results.filter(in_scope_tube, conflicting=True, tube__isnull=False).count()}
    if kind == "conflicts":
        rows = results.filter(in_scope_tube, conflicting=True, tube__isnull=False).order_by("tube_id", "-tested_at")
    else:
        kind = "unmatched"
        rows = results.filter(tube__isnull=True).order_by("-received_at", "-id")
    return render(request, "testing/unmatched.html", {
        "page_obj": paginate(request, rows), "kind": kind, "counts": counts,
        "can_view_tubes": request.user.has_perm("testing.view_tube"),
    })


# One tube ----------------------------------------------------------------------------------------
@permission_required("testing.view_tube", raise_exception=True)
def tube(request, pk):
    user = request.user
    tube = get_object_or_404(Tube.objects.restrict(user, "view").select_related("session__point", "area"), pk=pk)
    samples = tube.samples.select_related("person").order_by("sampled_at", "id")
    followups = ()
    if tube.result == Result.POSITIVE and tube.capacity > 1 and user.has_perm("testing.view_poolfollowup"):
        followups = (PoolFollowup.objects.restrict(user, "view").filter(tube=tube)
                     .select_related("person", "task", "retest__tube").order_by("status", "person_id"))
    case_url = ""
    if tube.result == Result.POSITIVE and tube.capacity == 1 and user.has_perm("tracing.add_case"):
        first = samples.first()
        if first is not None:  # the case form opens with the sampling and result times filled in
            local = "%Y-%m-%dT%H:%M"
            case_url = reverse("tracing:case_new") + "?" + urlencode({
                "person": first.person_id, "sampled_at": timezone.localtime(first.sampled_at).strftime(local),
                **({"result_at": timezone.localtime(tube.resulted_at).strftime(local)} if tube.resulted_at else {}),
            })
    results = tube.lab_results.all() if user.has_perm("testing.view_labresult") else ()
    return render(request, "testing/tube.html", {
        "tube": tube, "samples": samples, "results": results, "followups": followups,
        "case_url": case_url,
        "may_open_session": _sessions(user).filter(pk=tube.session_id).exists(),
    })
