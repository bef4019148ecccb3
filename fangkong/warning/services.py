"""Raising signals. Domain apps call raise_signal; nothing else writes a Signal."""

from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from .choices import Severity
from .models import Signal


def raise_signal(kind: str, *, title: str, area, person=None, person_id=None, subject=None,
                 details: dict | None = None, severity: int = Severity.WARNING, occurred_at=None) -> Signal:
    signal = Signal(kind=kind, title=title[:200], area=area, person=person, details=details or {},
                    severity=severity, occurred_at=occurred_at or timezone.now())
    if person_id is not None:
        signal.person_id = person_id
    if subject is not None:
        signal.subject_type = ContentType.objects.get_for_model(subject)
        signal.subject_id = str(subject.pk)
    signal.save()
    return signal
