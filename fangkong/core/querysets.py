"""RestrictedQuerySet: the one permission path for rows of data.

``Model.objects.restrict(user, action)`` keeps the rows the user may act on:
the user must hold the permission ``<app>.<action>_<model>`` (a ``rules``
predicate on the role) and the row must lie in the user's area subtree. A
model names the code column that places it in the tree with ``scope_field``.

``DistinctFrom`` is a lookup for bulk updates that write only what changes.
"""

from django.db import models
from django.db.models import Lookup

from .scope import prefix_q


class RestrictedQuerySet(models.QuerySet):
    def restrict(self, user, action: str = "view"):
        model = self.model
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        perm = f"{model._meta.app_label}.{action}_{model._meta.model_name}"
        if not user.has_perm(perm):
            return self.none()
        field = getattr(model, "scope_field", None)
        if field is None:
            return self.all()
        return self.filter(prefix_q(field, user.scope_prefix))


RestrictedManager = models.Manager.from_queryset(RestrictedQuerySet)


class DistinctFrom(Lookup):
    """``lhs IS DISTINCT FROM rhs`` (SQLite: ``IS NOT``): unequal, NULL counting as a value.

    Used as an expression in ``filter()``, so that an UPDATE rewrites only the rows whose value changes.
    """

    lookup_name = "distinct_from"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        operator = "IS NOT" if connection.vendor == "sqlite" else "IS DISTINCT FROM"
        return f"{lhs} {operator} {rhs}", (*lhs_params, *rhs_params)
