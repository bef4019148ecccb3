"""One settings module, driven by environment variables.

Every knob an operator may turn is read here from the environment (or a
``*_FILE`` holding a secret); nothing else in the code reads ``os.environ``.
"""

import importlib.util
import os
import secrets
from decimal import Decimal
from pathlib import Path

import dj_database_url

# The detectors fit many small GLMs: one BLAS thread per process is faster than several fighting over
# the cores with the web workers (set before numpy is first imported).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

BASE_DIR = Path(__file__).resolve().parent.parent
PACKAGE_DIR = Path(__file__).resolve().parent


def env(name, default=None):
    """Read NAME from the environment, or from the file named by NAME_FILE."""
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        return Path(file_name).read_text(encoding="utf-8").strip()
    return os.environ.get(name, default)


def envbool(name, default="false"):
    return str(env(name, default)).strip().lower() in {"1", "true", "yes", "on"}


def envint(name, default):
    return int(env(name, str(default)))


VAR_DIR = Path(env("FANGKONG_VAR_DIR", str(BASE_DIR / "var"))).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _secret_from_var(filename):
    """A per-installation secret kept under ./var when the environment gives none."""
    path = VAR_DIR / filename
    try:
        # "x": several workers starting at once must agree on one secret.
        with open(path, "x", encoding="utf-8") as out:
            out.write(secrets.token_urlsafe(50))
        path.chmod(0o600)
    except FileExistsError:
        pass
    return path.read_text(encoding="utf-8").strip()


DEBUG = envbool("FANGKONG_DEBUG")
SECRET_KEY = env("FANGKONG_SECRET_KEY") or _secret_from_var("secret.key")
# The key that encrypts ID numbers and phones. `fangkong demo` writes one to
# var/data.key; production passes FANGKONG_DATA_KEY (or FANGKONG_DATA_KEY_FILE).
FANGKONG_DATA_KEY = env("FANGKONG_DATA_KEY")
FANGKONG_DATA_KEY_PATH = VAR_DIR / "data.key"
# Set by `fangkong demo`: shows the demo accounts on the login page.
FANGKONG_DEMO = envbool("FANGKONG_DEMO")

ALLOWED_HOSTS = [h.strip() for h in env("FANGKONG_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in env("FANGKONG_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "django_filters",
    "bootstrap",
    "rules.apps.AutodiscoverRulesConfig",
    "django_tasks",
    "django_tasks_db",
    "ninja",
    "fangkong.core",
    "fangkong.areas",
    "fangkong.accounts",
    "fangkong.audit",
    "fangkong.people",
    "fangkong.tasks",
    "fangkong.warning",
    "fangkong.policy",
    "fangkong.declarations",
    "fangkong.venues",
    "fangkong.tracing",
    "fangkong.testing",
    "fangkong.quarantine",
    "fangkong.sentinels",
    "fangkong.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "fangkong.core.middleware.LoginRequiredMiddleware",
]

ROOT_URLCONF = "fangkong.urls"
WSGI_APPLICATION = "fangkong.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "fangkong.core.context_processors.navigation",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", f"sqlite:///{VAR_DIR / 'fangkong.sqlite3'}"),
        conn_max_age=envint("FANGKONG_DB_CONN_MAX_AGE", 0),
    )
}
SQLITE_WAL_LIMIT = 64 * 1024 * 1024  # bytes of write-ahead log kept on disk once the log restarts
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run while the demo generator or an import writes. While writes follow one another
    # (gateways pushing at once) the log cannot restart and grows, to about 1 GB in a benchmark; SQLite
    # then keeps the file at that size, unless journal_size_limit cuts it back when the log restarts.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000; "
                            f"PRAGMA journal_size_limit={SQLITE_WAL_LIMIT};",
            "transaction_mode": "IMMEDIATE",
        }
    )
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "rules.permissions.ObjectPermissionBackend",
    "fangkong.accounts.backends.LockoutModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "fangkong.accounts.validators.ChineseMinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "fangkong.accounts.validators.CharacterClassValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# Failed logins before an account is locked, and for how long.
FANGKONG_LOGIN_MAX_FAILURES = envint("FANGKONG_LOGIN_MAX_FAILURES", 5)
FANGKONG_LOGIN_LOCK_MINUTES = envint("FANGKONG_LOGIN_LOCK_MINUTES", 15)
# Login attempts (page and API token) one address may make per minute.
FANGKONG_LOGIN_RATE_PER_MINUTE = envint("FANGKONG_LOGIN_RATE_PER_MINUTE", 20)
FANGKONG_API_TOKEN_DAYS = envint("FANGKONG_API_TOKEN_DAYS", 30)
SESSION_COOKIE_AGE = envint("FANGKONG_SESSION_SECONDS", 8 * 3600)
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
SESSION_COOKIE_SECURE = envbool("FANGKONG_SECURE_COOKIES")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("zh-hant", "繁體中文"), ("en", "English")]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
TIME_ZONE = env("FANGKONG_TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
# ECharts (charts, maps, the transmission-chain graph) comes installed with the vizly package, which
# ships Apache ECharts' build: served by whitenoise as vendor/echarts/echarts.min.js, never from a CDN.
_vizly = importlib.util.find_spec("vizly")
if _vizly is not None and _vizly.submodule_search_locations:
    STATICFILES_DIRS.append(("vendor/echarts", Path(_vizly.submodule_search_locations[0]) / "assets"))
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_ROOT = VAR_DIR / "files"

TASKS = {
    "default": {
        "BACKEND": env("FANGKONG_TASK_BACKEND", "django_tasks_db.DatabaseBackend"),
        "QUEUES": ["default"],
    }
}

# A running job that has not reported progress for this long is taken as dead
# (its worker was killed); `fangkong reap_jobs` marks it failed so it can be re-run.
FANGKONG_JOB_STALE_SECONDS = envint("FANGKONG_JOB_STALE_SECONDS", 300)
# Exports up to this many rows are made in the request and downloaded at once; larger ones run in the background.
FANGKONG_EXPORT_INLINE_MAX_ROWS = envint("FANGKONG_EXPORT_INLINE_MAX_ROWS", 10_000)
# Largest register file accepted for import.
FANGKONG_IMPORT_MAX_MB = envint("FANGKONG_IMPORT_MAX_MB", 150)

# Hours before an overdue task climbs one more level up the area tree.
FANGKONG_ESCALATION_REPEAT_HOURS = envint("FANGKONG_ESCALATION_REPEAT_HOURS", 24)
# Rows per page on list pages (a user may ask for up to the maximum).
# Arrival declarations: the public form's limits (per client address and per ID number).
FANGKONG_DECLARE_RATE_PER_MINUTE = envint("FANGKONG_DECLARE_RATE_PER_MINUTE", 30)
FANGKONG_DECLARE_RATE_PER_ID_PER_HOUR = envint("FANGKONG_DECLARE_RATE_PER_ID_PER_HOUR", 10)
FANGKONG_DECLARE_MAX_BYTES = envint("FANGKONG_DECLARE_MAX_BYTES", 32 * 1024)
FANGKONG_DECLARE_DAYS_AHEAD = envint("FANGKONG_DECLARE_DAYS_AHEAD", 3)
# Hours after the planned arrival before an unconfirmed arrival goes up to the township.
FANGKONG_ARRIVAL_GRACE_HOURS = envint("FANGKONG_ARRIVAL_GRACE_HOURS", 24)
# The public scan page and API: requests per minute per client address (0 = no limit).
FANGKONG_SCAN_RATE_PER_MINUTE = envint("FANGKONG_SCAN_RATE_PER_MINUTE", 120)
# Check-ins: kept this many days (purge-checkins), and the batch endpoint's limits.
FANGKONG_CHECKIN_RETENTION_DAYS = envint("FANGKONG_CHECKIN_RETENTION_DAYS", 28)
FANGKONG_CHECKIN_BATCH_MAX_ROWS = envint("FANGKONG_CHECKIN_BATCH_MAX_ROWS", 50_000)
# Compliance page flags: days without a scan while open; a day below this share of the 7-day average.
FANGKONG_COMPLIANCE_SILENT_DAYS = envint("FANGKONG_COMPLIANCE_SILENT_DAYS", 3)
FANGKONG_COMPLIANCE_DROP_RATIO = float(env("FANGKONG_COMPLIANCE_DROP_RATIO", "0.3"))
# A body temperature at or above this is fever (发热), in degrees Celsius.
FANGKONG_FEVER_CELSIUS = Decimal(env("FANGKONG_FEVER_CELSIUS", "37.3"))

FANGKONG_PAGE_SIZE = envint("FANGKONG_PAGE_SIZE", 50)
FANGKONG_MAX_PAGE_SIZE = 200


LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("FANGKONG_LOG_LEVEL", "WARNING")},
}
