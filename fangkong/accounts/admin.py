from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from .models import Organization, User


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "area", "parent"]
    list_filter = ["kind"]
    search_fields = ["name", "area__name"]
    autocomplete_fields = ["area", "parent"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "display_name", "role", "area", "organization", "is_active", "locked_until"]
    list_filter = ["role", "is_active", "is_staff"]
    search_fields = ["username", "display_name", "area__name", "area__code"]
    autocomplete_fields = ["area", "organization"]
    fieldsets = [
        (None, {"fields": ["username", "password"]}),
        (_("身份"), {"fields": ["display_name", "role", "area", "organization"]}),
        (_("状态"), {"fields": ["is_active", "is_staff", "failed_logins", "locked_until", "last_login"]}),
    ]
    add_fieldsets = [
        (None, {"fields": ["username", "password1", "password2", "display_name", "role", "area", "organization"]}),
    ]
    readonly_fields = ["last_login"]
    actions = ["unlock"]

    @admin.action(description=_("解除登录锁定"))
    def unlock(self, request, queryset):
        queryset.update(failed_logins=0, locked_until=None)
