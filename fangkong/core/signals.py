"""Signals lower apps send so higher ones can act without being imported.

``audit_requested`` asks the audit app to write a row: apps below audit in
the import order (areas, accounts) use it instead of importing audit.
Arguments are those of ``fangkong.audit.services.record_event``.
"""

from django.dispatch import Signal

audit_requested = Signal()

# Sent when a background job ends (succeeded or failed); argument: job.
# The tasks app puts the result in the inbox of whoever started the job.
job_finished = Signal()

# Sent when the starter of a job opens its result (page or batch); arguments: job, user.
# The tasks app closes the inbox notice about it.
job_result_seen = Signal()
