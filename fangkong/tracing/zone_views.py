"""Control zone pages."""

from django.http import HttpResponse

def zone_list(request, **kwargs):  # skeleton: being written
    return HttpResponse(status=501)


def zone_propose(request, **kwargs):  # skeleton: being written
    return HttpResponse(status=501)


def zone_new(request, **kwargs):  # skeleton: being written
    return HttpResponse(status=501)


def zone_detail(request, **kwargs):  # skeleton: being written
    return HttpResponse(status=501)


def zone_edit(request, **kwargs):  # skeleton: being written
    return HttpResponse(status=501)


def zone_publish(request, **kwargs):  # skeleton: being written
    return HttpResponse(status=501)


def zone_lift(request, **kwargs):  # skeleton: being written
    return HttpResponse(status=501)


def zone_round(request, **kwargs):  # skeleton: being written
    return HttpResponse(status=501)
