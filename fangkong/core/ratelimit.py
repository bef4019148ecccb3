"""A fixed-window rate limit per client address, kept in Django's cache.

Used on the public endpoints (the login page, the API token endpoint) on top
of the per-account lockout, so one address cannot try many accounts. With the
local-memory cache each server process counts for itself (gunicorn -w 4
allows four times the limit); a shared cache backend would count across them.
"""

import time

from django.core.cache import cache


def client_address(request) -> str:
    return request.META.get("REMOTE_ADDR") or "unknown"


def over_limit(scope: str, request, limit: int, window_seconds: int = 60) -> bool:
    """Count this request; True once the address has made more than LIMIT in the window."""
    if limit <= 0:
        return False
    window = int(time.time() // window_seconds)
    key = f"ratelimit:{scope}:{client_address(request)}:{window}"
    cache.add(key, 0, timeout=window_seconds + 5)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window_seconds + 5)
        count = 1
    return count > limit
