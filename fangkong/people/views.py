from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fangkong.audit.models import AuditEvent
from fangkong.core.jobs import run_now, start_job
from fangkong.core.pagination import paginate
from fangkong.testing.services import person_tests

from . import services
from .filtersets import PersonFilterSet
from .forms import MergeForm, PersonForm, RevealForm, households_in
from .selectors import people_for


@permission_required("people.view_person", raise_exception=True)
def person_list(request):
    filterset = PersonFilterSet(request.GET or None, queryset=people_for(request.user))
    people = filterset.qs.select_related("area__parent").order_by("area_id", "name", "id")
    return render(request, "people/list.html", {
        "filter": filterset, "page_obj": paginate(request, people),
        "can_export": request.user.has_perm("people.export_person"),
        "can_add": request.user.has_perm("people.add_person"),
        "can_export_plain": request.user.has_perm("people.export_person") and request.user.has_perm(
            "people.reveal_person"),
    })


@require_POST
@permission_required("people.export_person", raise_exception=True)
def person_export(request):
    query = request.POST.get("query", "")
    unmasked = request.POST.get("unmasked") == "1"
    reason = request.POST.get("reason", "").strip()
    if unmasked and not request.user.has_perm("people.reveal_person"):
        raise PermissionDenied
    if unmasked and len(reason) < 2:
        messages.error(request, _("导出明文须填写事由（至少2个字）。"))
        return redirect(f"{reverse('people:list')}?{query}")
    title = _("导出人员名单（明文）") if unmasked else _("导出人员名单")
    rows = PersonFilterSet(QueryDict(query), queryset=people_for(request.user, "export")).qs.count()
    if rows <= settings.FANGKONG_EXPORT_INLINE_MAX_ROWS:
        job = run_now(request.user, "people.export", title, "fangkong.people.jobs.export_people_job",
                      area_code=request.user.area_id or "", query=query, unmasked=unmasked, reason=reason)
        return redirect("core:job_file", pk=job.pk)
    job = start_job(request.user, "people.export", title, "fangkong.people.jobs.export_people_job",
                    area_code=request.user.area_id or "", query=query, unmasked=unmasked, reason=reason)
    return redirect("core:job", pk=job.pk)


def _get_person(request, pk, action="view"):
    return get_object_or_404(people_for(request.user, action).select_related("area", "household__building"), pk=pk)


@permission_required("people.view_person", raise_exception=True)
def person_detail(request, pk):
    person = _get_person(request, pk)
    services.record_person_view(request.user, person, request=request)
    history = []
    if request.user.has_perm("audit.view_auditevent"):
        history = AuditEvent.objects.restrict(request.user).filter(
            object_type="people.person", object_id__in=[str(person.pk)] + [str(p.pk) for p in person.merged_from.all()]
        )[:20]
    # What the arrivals and policy apps hold on this person; the person is already in the user's scope.
    declarations = orders = ()
    if request.user.has_perm("declarations.view_declaration"):
        declarations = person.declarations.select_related("area")[:20]
    if request.user.has_perm("policy.view_controlorder"):
        orders = [order for order in person.control_orders.select_related("pack") if order.is_open]
    cases = person.cases.restrict(request.user, "view") if request.user.has_perm("tracing.view_case") else ()
    tests = person_tests(person) if request.user.has_perm("testing.view_sample") else ()
    return render(request, "people/detail.html", {
        "person": person, "reveal_form": RevealForm(), "history": history,
        "declarations": declarations, "control_orders": orders, "cases": cases, "tests": tests,
        "key_groups": person.key_groups.all(), "merged_from": person.merged_from.all(),
        "can_reveal": request.user.has_perm("people.reveal_person"),
        "can_change": request.user.has_perm("people.change_person"),
    })


@require_POST
@permission_required("people.reveal_person", raise_exception=True)
def person_reveal(request, pk):
    person = _get_person(request, pk, "reveal")
    form = RevealForm(request.POST)
    revealed = None
    if form.is_valid():
        revealed = services.reveal_person(request.user, person, form.cleaned_data["reason"], request=request)
    return render(request, "people/_reveal.html", {"person": person, "reveal_form": form, "revealed": revealed})


@permission_required("people.add_person", raise_exception=True)
def person_create(request):
    form = PersonForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            person = services.create_person(
                request.user, form.service_data(), area=form.cleaned_data["area"],
                key_groups=form.cleaned_data["key_groups"], request=request)
        except ValidationError as exc:
            _attach_errors(form, exc)
        else:
            messages.success(request, _("已登记 %(name)s。") % {"name": person.name})
            return redirect("people:detail", pk=person.pk)
    return render(request, "people/form.html", {"form": form, "title": _("登记人员")})


@permission_required("people.change_person", raise_exception=True)
def person_edit(request, pk):
    person = _get_person(request, pk, "change")
    initial = {
        "name": person.name, "doc_type": person.doc_type, "sex": person.sex, "birth_date": person.birth_date,
        "area": person.area_id, "household": person.household_id, "relation": person.relation,
        "address": person.address, "is_floating": person.is_floating, "is_rental_tenant": person.is_rental_tenant,
        "vulnerable_group": person.vulnerable_group, "lives_alone_elderly": person.lives_alone_elderly,
        "key_groups": list(person.key_groups.all()),
    }
    form = PersonForm(request.POST or None, user=request.user, initial=initial)
    form.fields["document_number"].help_text = _("不修改请留空（当前：%(masked)s）。") % {"masked": person.doc_masked}
    form.fields["phone"].help_text = _("不修改请留空（当前：%(masked)s）。") % {"masked": person.phone_masked}
    if request.method == "POST" and form.is_valid():
        data = form.service_data()
        for sealed in ("document_number", "phone"):
            if not data.get(sealed):
                data.pop(sealed)
        try:
            services.update_person(request.user, person, data, area=form.cleaned_data["area"],
                                   key_groups=form.cleaned_data["key_groups"], request=request)
        except ValidationError as exc:
            _attach_errors(form, exc)
        else:
            messages.success(request, _("已保存。"))
            return redirect("people:detail", pk=person.pk)
    return render(request, "people/form.html", {"form": form, "person": person, "title": _("修改人员信息")})


@permission_required("people.add_person", raise_exception=True)
def household_options(request):
    """The <option>s of the households of one grid, for the person form (htmx)."""
    households = households_in(request.user, request.GET.get("area", "").strip())
    return render(request, "people/_household_options.html", {"households": households})


@permission_required("people.merge_person", raise_exception=True)
def merge_candidates(request):
    groups = services.duplicate_candidates(people_for(request.user, "merge"))
    return render(request, "people/merge_candidates.html", {"groups": groups, "form": MergeForm()})


@require_POST
@permission_required("people.merge_person", raise_exception=True)
def merge(request):
    form = MergeForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请填写合并事由。"))
        return redirect("people:merge_candidates")
    scoped = people_for(request.user, "merge")
    keep = get_object_or_404(scoped, pk=form.cleaned_data["keep"])
    duplicate = get_object_or_404(scoped, pk=form.cleaned_data["duplicate"])
    try:
        services.merge_people(request.user, keep, duplicate, form.cleaned_data["reason"], request=request)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, "；".join(getattr(exc, "messages", [str(exc)])))
        return redirect("people:merge_candidates")
    messages.success(request, _("已合并，保留记录：%(name)s。") % {"name": keep.name})
    return redirect("people:detail", pk=keep.pk)


def _attach_errors(form, exc: ValidationError):
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)
