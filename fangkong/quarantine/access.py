"""Who may see which control orders: the area's staff through the scope, a care-team member through the team."""

from django.db.models import Q

from fangkong.policy.models import ControlOrder


def orders_for(user, action: str = "view"):
    """The orders USER may see (or, with action="change", act on): in their area, or on their care team."""
    if user is None or not user.is_authenticated or not user.is_active:
        return ControlOrder.objects.none()
    scoped = ControlOrder.objects.restrict(user, action)
    if action != "view":
        return scoped
    if not user.has_perm("quarantine.view_caremember"):
        return scoped
    return ControlOrder.objects.filter(Q(pk__in=scoped.values("pk")) | Q(care_members__user=user)).distinct()


def may_see(user, order: ControlOrder) -> bool:
    return orders_for(user).filter(pk=order.pk).exists()
