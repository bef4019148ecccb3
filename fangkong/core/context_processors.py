from django.urls import reverse
from django.utils.translation import gettext_lazy as _

# The domain areas of the platform, in menu order. An entry without a URL
# name is shown disabled until its app is built.
NAVIGATION = [
    ("home", _("工作台"), "home", None),
    ("areas", _("区划网格"), "areas:tree", "areas.view_area"),
    ("people", _("人员"), "people:list", "people.view_person"),
    ("tasks", _("任务"), "tasks:inbox", "tasks.view_task"),
    ("declarations", _("入返报备"), "declarations:list", "declarations.view_declaration"),
    ("policy", _("防控策略"), "policy:packs", "policy.view_policypack"),
    ("venues", _("场所码"), "venues:list", "venues.view_venue"),
    ("testing", _("核酸检测"), "testing:index", "testing.view_sample"),
    ("quarantine", _("隔离管控"), "quarantine:index", "quarantine.view_healthcheck"),
    ("vaccination", _("疫苗接种"), None, None),
    ("tracing", _("流调溯源"), "tracing:board", "tracing.view_case"),
    ("zones", _("管控区域"), "tracing:zones", "tracing.view_controlzone"),
    ("coldchain", _("冷链追溯"), None, None),
    ("sentinels", _("哨点监测"), "sentinels:index", "sentinels.view_sentinel"),
    ("warning", _("监测预警"), "warning:index", "warning.view_alert"),
    ("command", _("指挥调度"), None, None),
    ("audit", _("审计日志"), "audit:list", "audit.view_auditevent"),
]


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    current = request.resolver_match.namespace if request.resolver_match else ""
    items = []
    for key, label, url_name, perm in NAVIGATION:
        if perm and not user.has_perm(perm):
            continue
        items.append(
            {
                "key": key,
                "label": label,
                "url": reverse(url_name) if url_name else None,
                "active": key == current or (key == "home" and current == ""),
            }
        )
    return {"nav_items": items}
