"""URLs of keygroup_urls (included by testing/urls.py under the testing namespace)."""

urlpatterns = []
