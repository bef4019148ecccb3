from django.contrib import admin

from .models import PolicyPack, PolicyRule, RiskArea


class ReadOnlyAdmin(admin.ModelAdmin):
    """Shown for reference only: risk areas and packs change through the app's pages, which audit every change."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(RiskArea)
class RiskAreaAdmin(ReadOnlyAdmin):
    list_display = ["name", "level", "place_code", "effective_from", "effective_to"]
    list_filter = ["level", "granularity"]
    search_fields = ["name", "place_code", "township"]
    date_hierarchy = "effective_from"


class PolicyRuleInline(admin.TabularInline):
    model = PolicyRule
    fields = ["category", "stages", "arrival_test_days", "followup_hours", "pickup_required"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(PolicyPack)
class PolicyPackAdmin(ReadOnlyAdmin):
    list_display = ["name", "code", "is_active", "effective_from", "activated_at"]
    inlines = [PolicyRuleInline]
