"""Building blocks shared by every app's API router.

Errors are always JSON ``{"code", "message"}`` with a Chinese message (and,
for invalid input, ``errors``: field -> messages). Lists are paginated the
same way everywhere: ``?page=&page_size=`` in, ``{"count", "items"}`` out.
"""

import functools

from django.core.exceptions import NON_FIELD_ERRORS, ObjectDoesNotExist, PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.urls import URLPattern
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from ninja import Field, NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as RequestValidationError
from ninja.renderers import JSONRenderer

from .pagination import page_size_from


class ErrorOut(Schema):
    code: str = Field(description="稳定的英文错误代码，如 not_found、invalid、forbidden")
    message: str = Field(description="给人看的错误说明（中文）")
    errors: dict[str, list[str]] | None = Field(None, description="输入有误时：字段 -> 错误说明")


def errors(*statuses: int) -> dict:
    """The error responses an operation may give, for the OpenAPI schema."""
    return dict.fromkeys(statuses, ErrorOut)


class NotFound(Http404):
    """Missing or out of scope: the same answer for both, so scope does not leak."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def get_or_404(queryset, message: str, **lookup):
    obj = queryset.filter(**lookup).first()
    if obj is None:
        raise NotFound(message)
    return obj


class PageParams(Schema):
    page: int = Field(1, ge=1, description="页码，从 1 开始")
    page_size: int | None = Field(None, ge=1, description="每页条数（有上限）")


def paginate(queryset, params: PageParams, render) -> dict:
    """One page of QUERYSET as {"count", "items"}; RENDER turns a row into an item."""
    size = page_size_from(params.page_size)
    start = (params.page - 1) * size
    count = queryset.count()
    rows = list(queryset[start : start + size]) if start < count else []
    return {"count": count, "items": [render(row) for row in rows]}


class ChineseJSONRenderer(JSONRenderer):
    json_dumps_params = {"ensure_ascii": False}


def _error(api, request, status: int, code: str, message: str, errors=None):
    body = {"code": code, "message": str(message)}
    if errors is not None:
        body["errors"] = errors
    return api.create_response(request, body, status=status)


_HTTP_ERROR_CODES = {
    400: ("invalid", _lazy("请求内容无法解析，请提交 JSON。")),
    401: ("unauthorized", _lazy("请先登录")),
    403: ("forbidden", _lazy("您没有权限执行此操作。")),
    404: ("not_found", _lazy("未找到该对象或无权查看。")),
    405: ("method_not_allowed", _lazy("不支持该请求方法。")),
    429: ("throttled", _lazy("请求过于频繁，请稍后再试。")),
}

# Chinese wording for the pydantic error types a client is likely to hit.
_REQUEST_ERROR_MESSAGES = {
    "missing": _lazy("此项必填。"),
    "int_parsing": _lazy("应为整数。"),
    "int_type": _lazy("应为整数。"),
    "bool_parsing": _lazy("应为 true 或 false。"),
    "bool_type": _lazy("应为 true 或 false。"),
    "string_type": _lazy("应为文本。"),
    "list_type": _lazy("应为列表。"),
    "model_attributes_type": _lazy("应为 JSON 对象。"),
    "dict_type": _lazy("应为 JSON 对象。"),
    "date_parsing": _lazy("日期格式应为 YYYY-MM-DD。"),
    "date_from_datetime_parsing": _lazy("日期格式应为 YYYY-MM-DD。"),
    "date_type": _lazy("日期格式应为 YYYY-MM-DD。"),
    "datetime_parsing": _lazy("时间格式应为 ISO 8601，如 2022-05-01T08:00:00+08:00。"),
    "datetime_from_date_parsing": _lazy("时间格式应为 ISO 8601，如 2022-05-01T08:00:00+08:00。"),
    "datetime_type": _lazy("时间格式应为 ISO 8601，如 2022-05-01T08:00:00+08:00。"),
    "uuid_parsing": _lazy("编号格式不正确。"),
    "greater_than_equal": _lazy("数值太小。"),
    "less_than_equal": _lazy("数值太大。"),
    "string_too_long": _lazy("内容太长。"),
    "string_too_short": _lazy("内容太短。"),
    "extra_forbidden": _lazy("不认识的字段。"),
}


def _request_errors(exc: RequestValidationError) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for error in exc.errors:
        names = [str(part) for part in error.get("loc", ()) if isinstance(part, str | int)]
        # loc is (source, [param name,] field...); the last name is the field.
        field = names[-1] if len(names) > 1 else NON_FIELD_ERRORS
        message = _REQUEST_ERROR_MESSAGES.get(error.get("type", ""))
        if message is None:
            message = _("格式不正确：%(detail)s") % {"detail": error.get("msg", "")}
        fields.setdefault(field, []).append(str(message))
    return fields


def _django_errors(exc: DjangoValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {field: [str(m) for m in messages] for field, messages in exc.message_dict.items()}
    return {NON_FIELD_ERRORS: [str(m) for m in exc.messages]}


def _first(fields: dict[str, list[str]], *, named: bool = False) -> str:
    """The first message; NAMED prefixes the field (pydantic's messages do not name it)."""
    for field, messages in fields.items():
        if messages:
            return f"{field}：{messages[0]}" if named and field != NON_FIELD_ERRORS else messages[0]
    return _("输入有误。")


def install_error_handlers(api: NinjaAPI) -> None:
    """Every error the API gives is JSON with a code and a Chinese message."""

    def on_not_found(request, exc):
        message = exc.message if isinstance(exc, NotFound) else _("未找到该对象或无权查看。")
        return _error(api, request, 404, "not_found", message)

    def on_permission_denied(request, exc):
        return _error(api, request, 403, "forbidden", _("您没有权限执行此操作。"))

    def on_invalid(request, exc):
        fields = _django_errors(exc)
        return _error(api, request, 400, "invalid", _first(fields), fields)

    def on_request_invalid(request, exc):
        fields = _request_errors(exc)
        return _error(api, request, 422, "invalid", _first(fields, named=True), fields)

    def on_authentication(request, exc):
        return _error(api, request, 401, "unauthorized", _("请先登录"))

    def on_http_error(request, exc):
        if exc.status_code == 403 and "CSRF" in exc.message:
            return _error(api, request, 403, "csrf_failed", _("CSRF 校验失败，请刷新页面后重试。"))
        code, message = _HTTP_ERROR_CODES.get(exc.status_code, ("error", exc.message))
        return _error(api, request, exc.status_code, code, message)

    api.add_exception_handler(Http404, on_not_found)
    api.add_exception_handler(ObjectDoesNotExist, on_not_found)
    api.add_exception_handler(PermissionDenied, on_permission_denied)
    api.add_exception_handler(DjangoValidationError, on_invalid)
    api.add_exception_handler(RequestValidationError, on_request_invalid)
    api.add_exception_handler(AuthenticationError, on_authentication)
    api.add_exception_handler(HttpError, on_http_error)


class FangkongAPI(NinjaAPI):
    """NinjaAPI whose every error, a wrong HTTP method included, is JSON in Chinese."""

    def __init__(self, **kwargs):
        kwargs.setdefault("renderer", ChineseJSONRenderer())
        super().__init__(**kwargs)
        install_error_handlers(self)

    def _get_urls(self):
        urls = super()._get_urls()
        for pattern in urls:
            if isinstance(pattern, URLPattern):
                pattern.callback = self._json_not_allowed(pattern.callback)
        return urls

    def _json_not_allowed(self, view):
        # ninja answers a wrong method with a plain-text 405; keep its Allow header, speak JSON.
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            response = view(request, *args, **kwargs)
            if response.status_code == 405 and not response.get("Content-Type", "").startswith(
                "application/json"
            ):
                json_response = _error(
                    self, request, 405, "method_not_allowed", _("不支持该请求方法。")
                )
                if response.has_header("Allow"):
                    json_response["Allow"] = response["Allow"]
                return json_response
            return response

        return wrapper
