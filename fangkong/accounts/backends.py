from django.contrib.auth.backends import ModelBackend

from .choices import Role


class LockoutModelBackend(ModelBackend):
    """Username/password login that refuses a locked account.

    The counting of failures and the locking live in accounts.services, so
    the page login and the API token endpoint share them.
    """

    def user_can_authenticate(self, user):
        return super().user_can_authenticate(user) and not user.is_locked

    def has_module_perms(self, user_obj, app_label):
        # The admin site lists an app to the county HQ admin; the rules decide per model.
        return user_obj.is_active and user_obj.is_staff and user_obj.role == Role.HQ_ADMIN

    def get_all_permissions(self, user_obj, obj=None):
        # Permissions come from rules predicates on the role, not from rows.
        return set()
