"""The outbreak board and the cluster (chain) pages."""

from django.http import HttpResponse

def board(request, **kwargs):  # skeleton: being written
    return HttpResponse(status=501)


def cluster_list(request, **kwargs):  # skeleton: being written
    return HttpResponse(status=501)


def cluster_detail(request, **kwargs):  # skeleton: being written
    return HttpResponse(status=501)
