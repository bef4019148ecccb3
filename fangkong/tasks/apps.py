from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TasksConfig(AppConfig):
    name = "fangkong.tasks"
    label = "tasks"
    verbose_name = _("任务")

    def ready(self):
        from . import signals  # noqa: F401
