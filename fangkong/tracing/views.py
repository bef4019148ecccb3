"""Case, trajectory and contact pages."""

from django.http import HttpResponse

def case_list(request, **kwargs):  # skeleton: being written
    return HttpResponse(status=501)


def case_new(request, **kwargs):  # skeleton: being written
    return HttpResponse(status=501)


def case_detail(request, **kwargs):  # skeleton: being written
    return HttpResponse(status=501)


def case_edit(request, **kwargs):  # skeleton: being written
    return HttpResponse(status=501)


def case_trajectory(request, **kwargs):  # skeleton: being written
    return HttpResponse(status=501)


def entry_new(request, **kwargs):  # skeleton: being written
    return HttpResponse(status=501)


def entry_delete(request, **kwargs):  # skeleton: being written
    return HttpResponse(status=501)


def case_trace(request, **kwargs):  # skeleton: being written
    return HttpResponse(status=501)


def contact_list(request, **kwargs):  # skeleton: being written
    return HttpResponse(status=501)


def contact_add(request, **kwargs):  # skeleton: being written
    return HttpResponse(status=501)


def case_dispatch(request, **kwargs):  # skeleton: being written
    return HttpResponse(status=501)


def transfers_export(request, **kwargs):  # skeleton: being written
    return HttpResponse(status=501)


def contact_detail(request, **kwargs):  # skeleton: being written
    return HttpResponse(status=501)


def contact_review(request, **kwargs):  # skeleton: being written
    return HttpResponse(status=501)


def contact_withdraw(request, **kwargs):  # skeleton: being written
    return HttpResponse(status=501)
