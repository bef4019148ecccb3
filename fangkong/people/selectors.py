"""Reads of the person register. Every read starts from a restricted queryset."""

import re

from django.db import connection
from django.db.models import Q

from fangkong.core import crypto
from fangkong.core.scope import prefix_q

from . import identity
from .choices import DocumentType
from .models import CURRENT, Person, document_index

_ASCII_LETTERS = re.compile(r"^[a-z]+$")
_DIGITS4 = re.compile(r"^[0-9]{3}[0-9X]$")


# The unique index on doc_index is partial (WHERE NOT doc_index = ''); SQLite
# uses a partial index only when the query repeats its condition word for word.
_DOC_INDEX_PRESENT = ~Q(doc_index="")


def _prefix(field: str, text: str) -> Q:
    """FIELD starts with TEXT, as a range so that the index is used on every backend."""
    return Q(**{f"{field}__gte": text, f"{field}__lt": text + "\U0010ffff"})


def search_q(q: str) -> Q | None:
    """The filter for a search box entry, or None for an empty entry.

    - 18-character resident ID or other document number: exact (blind index)
    - 11-digit mobile or a landline: exact (blind index)
    - 4 digits (or 3 digits + X): last four of the ID number
    - latin letters: pinyin initials ("zs") or full pinyin prefix ("zhangs")
    - anything else: name prefix ("张", "张三")
    """
    text = identity.normalize_document(q)
    if not text:
        return None
    lowered = text.lower()
    if len(text) == 18 and re.fullmatch(r"[0-9]{17}[0-9X]", text):
        return Q(doc_index=document_index(DocumentType.RESIDENT_ID, text)) & _DOC_INDEX_PRESENT
    phone = identity.normalize_phone(q)
    if re.fullmatch(r"1[3-9][0-9]{9}|0[0-9]{9,11}", phone):
        return Q(phone_index=crypto.blind_index("phone", phone))
    if _DIGITS4.fullmatch(text):
        return Q(doc_last4=text)
    if _ASCII_LETTERS.fullmatch(lowered):
        if connection.vendor == "sqlite":
            # Given an OR of the two ranges, SQLite walks the whole scope in
            # (area, name) order (a full scan at a million people when few
            # match); a UNION of the ids found on each index avoids that.
            # (CURRENT repeats the condition of the partial indexes, or SQLite won't use them.)
            by_initials = Person.objects.filter(CURRENT, _prefix("name_initials", lowered)).order_by().values("id")
            by_pinyin = Person.objects.filter(CURRENT, _prefix("name_pinyin", lowered)).order_by().values("id")
            return Q(id__in=by_initials.union(by_pinyin))
        # PostgreSQL picks a BitmapOr of both indexes or the ordered walk by cost.
        return _prefix("name_initials", lowered) | _prefix("name_pinyin", lowered)
    if re.fullmatch(r"[A-Z0-9]{5,20}", text):
        return Q(doc_index__in=[document_index(t, text) for t in DocumentType.values if t != DocumentType.NONE]) & (
            _DOC_INDEX_PRESENT
        )
    return _prefix("name", q.strip())


def people_for(user, action: str = "view"):
    """The current (not merged-away) people USER may act on."""
    return Person.objects.restrict(user, action).current()


def search_people(user, q: str = "", *, area_prefix: str | None = None, key_group: str | None = None,
                  action: str = "view"):
    """People in USER's scope matching Q, optionally within the area whose prefix is AREA_PREFIX and a key group."""
    qs = people_for(user, action)
    condition = search_q(q or "")
    if condition is not None:
        qs = qs.filter(condition)
    if area_prefix:
        qs = qs.filter(prefix_q("area_id", area_prefix))
    if key_group:
        qs = qs.filter(key_groups__code=key_group)
    return qs.select_related("area").order_by("area_id", "name", "id")
