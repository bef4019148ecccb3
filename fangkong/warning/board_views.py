"""The warning board page (监测预警看板): the county map coloured by open alerts, series with thresholds."""

from django.contrib.auth.decorators import permission_required
from django.shortcuts import render

from . import board


@permission_required("warning.view_alert", raise_exception=True)
def board_page(request):
    return render(request, "warning/board.html", board.board(request.user))
