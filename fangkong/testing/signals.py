"""What testing tells the apps above it, without knowing them."""

from django.dispatch import Signal

# Sent after single-tube positives are recorded: person_ids (list), day (the sampling day), user.
single_positive = Signal()
