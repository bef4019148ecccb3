from django.conf import settings
from django.core.paginator import Paginator


def page_size_from(value, default=None) -> int:
    try:
        size = int(value)
    except (TypeError, ValueError):
        return default or settings.FANGKONG_PAGE_SIZE
    return max(1, min(size, settings.FANGKONG_MAX_PAGE_SIZE))


def paginate(request, queryset, per_page=None):
    """A page of QUERYSET from ?page=&page_size=; bad numbers fall back to page 1."""
    size = per_page or page_size_from(request.GET.get("page_size"))
    return Paginator(queryset, size).get_page(request.GET.get("page"))
