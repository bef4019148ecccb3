import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fangkong.settings")
django_application = get_wsgi_application()

# Green scans are answered below Django's request handling (fangkong/venues/fastscan.py).
from fangkong.venues.fastscan import wrap  # noqa: E402

application = wrap(django_application)
