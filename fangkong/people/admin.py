from django.contrib import admin

from .models import KeyGroup


@admin.register(KeyGroup)
class KeyGroupAdmin(admin.ModelAdmin):
    """The key-group list is data the headquarters edits. People are edited only in the app (audited)."""

    list_display = ["name", "code", "is_active", "sort_order"]
    list_editable = ["is_active", "sort_order"]
    search_fields = ["name", "code"]
