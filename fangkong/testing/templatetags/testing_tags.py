from django import template

from fangkong.people.identity import mask_name

register = template.Library()


@register.filter
def masked(name) -> str:
    """A person's name as lists show it: 张*三."""
    return mask_name(str(name or ""))
