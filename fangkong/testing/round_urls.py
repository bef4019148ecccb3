"""URLs of round_urls (included by testing/urls.py under the testing namespace)."""

urlpatterns = []
