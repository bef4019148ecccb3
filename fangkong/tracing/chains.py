"""Transmission chains: a case that was a contact of another is linked to it; linked cases form a cluster.

The link is set once, from the contact evidence (never guessed from
places): when a contact is registered as a case, or when tracing a case
finds an existing case among its contacts. Of two linked cases the one
with the earlier anchor date (onset, or sampling) is the source.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fangkong.people.identity import mask_name

from .choices import KIND_RANK, CaseStatus, ContactStatus
from .models import Case, Cluster, Contact


def _new_cluster(case: Case) -> Cluster:
    day = timezone.localdate()
    prefix = f"JJ{day:%Y%m%d}"
    number = Cluster.objects.filter(code__startswith=prefix).count() + 1
    return Cluster.objects.create(
        code=f"{prefix}-{number:02d}", area=case.area,
        name=_("%(number)s 相关聚集性疫情") % {"number": case.number},
    )


@transaction.atomic
def join(source: Case, target: Case) -> Cluster:
    """Put both cases in one cluster (merging two clusters if they had them)."""
    # The objects may be stale (an earlier join moved them): their clusters are read from the database.
    current = dict(Case.objects.filter(pk__in=[source.pk, target.pk]).values_list("pk", "cluster_id"))
    source.cluster_id, target.cluster_id = current.get(source.pk), current.get(target.pk)
    if source.cluster_id and target.cluster_id and source.cluster_id != target.cluster_id:
        keep, drop = sorted([source.cluster, target.cluster], key=lambda c: (c.created_at, c.pk))
        Case.objects.filter(cluster=drop).update(cluster=keep)
        drop.delete()
        cluster = keep
    else:
        cluster = source.cluster or target.cluster or _new_cluster(source)
    Case.objects.filter(pk__in=[source.pk, target.pk]).update(cluster=cluster)
    source.cluster = target.cluster = cluster
    return cluster


def _link(source: Case, target: Case) -> bool:
    if target.infected_by_id or source.pk == target.pk or source.infected_by_id == target.pk:
        return False
    target.infected_by = source
    target.save(update_fields=["infected_by", "updated_at"])
    join(source, target)
    return True


def link_to_source(case: Case) -> Case | None:
    """A new case that was a contact of another case: that case is its source."""
    links = (Contact.objects.filter(person_id=case.person_id).exclude(case=case)
             .exclude(status=ContactStatus.DISMISSED).exclude(case__status=CaseStatus.EXCLUDED)
             .select_related("case"))
    best = sorted(links, key=lambda c: (-KIND_RANK[c.kind], c.case.anchor_date, c.case.created_at))
    for contact in best:
        if contact.case.anchor_date <= case.anchor_date and _link(contact.case, case):
            return contact.case
    return None


def link_found_cases(case: Case) -> int:
    """After tracing CASE: existing cases among its contacts are linked, the earlier one as the source."""
    linked = 0
    person_ids = case.contacts.filter(is_case=True).exclude(status=ContactStatus.DISMISSED) \
        .values_list("person_id", flat=True)
    for other in Case.objects.filter(person_id__in=list(person_ids)).exclude(status=CaseStatus.EXCLUDED):
        if other.pk == case.pk:
            continue
        source, target = (case, other) if case.anchor_date <= other.anchor_date else (other, case)
        linked += _link(source, target)
    return linked


def graph(cluster: Cluster, root: Case | None = None) -> dict:
    """Nodes (cases) and edges (who infected whom, with the evidence) for the chain graph.

    With ROOT, only ROOT and the cases descended from it. Names are masked:
    the graph is a working picture, the case pages hold the identities.
    """
    cases = list(cluster.cases.select_related("person").order_by("created_at"))
    if root is not None:
        children: dict[int, list[Case]] = {}
        for c in cases:
            children.setdefault(c.infected_by_id, []).append(c)
        keep, todo = [], [root]
        while todo:
            node = todo.pop()
            keep.append(node)
            todo.extend(children.get(node.pk, []))
        ids = {c.pk for c in keep}
        cases = [c for c in cases if c.pk in ids]
    ids = {c.pk for c in cases}
    evidence = {
        (c.case_id, c.person_id): c
        for c in Contact.objects.filter(case_id__in=ids, is_case=True)
    }
    generation: dict[int, int] = {}

    def depth(c: Case) -> int:
        if c.pk not in generation:
            parent = next((p for p in cases if p.pk == c.infected_by_id), None)
            generation[c.pk] = 0 if parent is None else depth(parent) + 1
        return generation[c.pk]

    nodes = [{
        "id": c.pk, "number": c.number, "name": mask_name(c.person.name),
        "classification": c.classification, "classification_label": c.get_classification_display(),
        "date": c.anchor_date.isoformat(), "generation": depth(c), "url": c.get_absolute_url(),
        "source": c.infected_by_id,
    } for c in cases]
    edges = []
    for c in cases:
        if c.infected_by_id in ids:
            link = evidence.get((c.infected_by_id, c.person_id))
            edges.append({
                "source": c.infected_by_id, "target": c.pk,
                "kind": link.kind if link else "", "kind_label": link.get_kind_display() if link else "",
                "summary": link.summary if link else "",
            })
    return {"cluster": {"id": cluster.pk, "code": cluster.code, "name": cluster.name},
            "nodes": nodes, "edges": edges}
