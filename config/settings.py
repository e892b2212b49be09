"""Settings for the VoIPBIN dashboard: one file, every difference an environment variable.

The embedded defaults run on a laptop with nothing installed: SQLite, the
in-memory channel layer and the bundled VoIPBIN simulator. README.md lists
every variable.
"""

from __future__ import annotations

import secrets
import warnings
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_float, env_int, env_list, env_str
from dashboard.simulator.accounts import DEMO_ACCESS_KEY, DEMO_CUSTOMER_ID

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("DASHBOARD_VAR_DIR", str(BASE_DIR / "var")))


def _local_secret(name: str) -> str:
    """A secret generated once into the git-ignored var/ folder (embedded default only)."""
    path = VAR_DIR / name
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


def _local_fernet_key() -> str:
    path = VAR_DIR / "token_key"
    if not path.exists():
        from cryptography.fernet import Fernet

        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_bytes(Fernet.generate_key())
        path.chmod(0o600)
    return path.read_text().strip()


# Production refuses to start on embedded defaults: no generated secrets, no guessed hosts.
PRODUCTION = env_bool("DASHBOARD_PRODUCTION", False)
if PRODUCTION:
    _missing = [
        name
        for name in ("DJANGO_SECRET_KEY", "TOKEN_ENCRYPTION_KEYS", "DJANGO_ALLOWED_HOSTS")
        if not env_str(name)
    ]
    if _missing:
        raise ImproperlyConfigured(
            f"DASHBOARD_PRODUCTION is on but {', '.join(_missing)} not set (README: production)"
        )
    if len(env_str("DJANGO_SECRET_KEY")) < 50:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be at least 50 random characters in production")

DEBUG = env_bool("DJANGO_DEBUG", False)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DJANGO_DEBUG must be off in production")
SECRET_KEY = env_str("DJANGO_SECRET_KEY") or _local_secret("secret_key")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

# HTTPS: on in production (TLS terminated here or by a proxy that sets X-Forwarded-Proto).
if env_bool("DJANGO_BEHIND_TLS_PROXY", PRODUCTION):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", PRODUCTION)
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", PRODUCTION)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# Said here, not left to Django's defaults: the session cookie is never readable by a page's script,
# and neither cookie goes along on another site's requests (a link followed from elsewhere still
# carries the session: Lax).
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31_536_000 if PRODUCTION else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", PRODUCTION)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", PRODUCTION)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # the proxy's and compose's health checks speak plain HTTP

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "django_htmx",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def _database(url: str) -> dict[str, object]:
    """``DATABASE_URL`` to a Django DATABASES entry (sqlite:///path or postgres://…)."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": unquote(parts.path[1:]) or ":memory:",
            # All database work of a process shares one thread: reconnecting (and re-running the
            # PRAGMAs) on every call cost a fifth of the web process's time under load.
            "CONN_MAX_AGE": env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0),
            # The embedded default runs the web server and the relay worker on one file. Write
            # transactions take the lock when they begin (a read cannot fail to upgrade mid-way),
            # writers wait for each other instead of failing at once, and WAL lets readers go on
            # while one writes.
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    if parts.scheme in ("postgres", "postgresql"):
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0),
            "CONN_HEALTH_CHECKS": True,
        }
    raise ImproperlyConfigured(f"DATABASE_URL scheme {parts.scheme!r} is not supported (sqlite, postgres)")


DATABASES = {"default": _database(env_str("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "dashboard.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "calls"
LOGOUT_REDIRECT_URL = "login"

# Fernet keys for VoIPBIN tokens at rest, newest first (README: rotation).
TOKEN_ENCRYPTION_KEYS = env_list("TOKEN_ENCRYPTION_KEYS") or [_local_fernet_key()]

REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # channels_redis drops, with a log line only, what arrives for a channel already holding
            # `capacity` messages (default 100): room for a process's burst of updates.
            "CONFIG": {"hosts": [REDIS_URL], "capacity": 1000},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("DASHBOARD_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("DJANGO_STATIC_ROOT", str(BASE_DIR / "staticfiles")))
# Browser libraries come through npm (package.json, pinned in package-lock.json; `make install`
# runs `npm ci`) and are served from node_modules under static/vendor/<package>/.
STATICFILES_DIRS = [BASE_DIR / "static", ("vendor/idiomorph", BASE_DIR / "node_modules/idiomorph/dist")]
# Without collectstatic (the embedded default) serve straight from the app and project folders.
WHITENOISE_USE_FINDERS = not STATIC_ROOT.is_dir()
if WHITENOISE_USE_FINDERS:
    warnings.filterwarnings("ignore", message=f"No directory at: {STATIC_ROOT}")

# --- VoIPBIN -------------------------------------------------------------------------------------

# Origin of VoIPBIN's REST API (``/auth/login``, ``/v1.0/...``); the bundled simulator by default.
VOIPBIN_BASE_URL = env_str("VOIPBIN_BASE_URL", "http://127.0.0.1:9100").rstrip("/")
VOIPBIN_WS_URL = env_str(
    "VOIPBIN_WS_URL",
    VOIPBIN_BASE_URL.replace("https://", "wss://", 1).replace("http://", "ws://", 1) + "/v1.0/ws",
)
for _name, _url, _schemes in (
    ("VOIPBIN_BASE_URL", VOIPBIN_BASE_URL, ("http", "https")),
    ("VOIPBIN_WS_URL", VOIPBIN_WS_URL, ("ws", "wss")),
):
    if urlsplit(_url).scheme not in _schemes or not urlsplit(_url).netloc:
        raise ImproperlyConfigured(f"{_name}={_url!r} must be a {' or '.join(_schemes)} URL")
VOIPBIN_HTTP_TIMEOUT = env_float("VOIPBIN_HTTP_TIMEOUT", 10.0, minimum=0.1)
# The account whose events the status page counts (an access key, customer level).
VOIPBIN_ACCOUNT_ACCESS_KEY = env_str("VOIPBIN_ACCOUNT_ACCESS_KEY", DEMO_ACCESS_KEY)
VOIPBIN_ACCOUNT_CUSTOMER_ID = env_str("VOIPBIN_ACCOUNT_CUSTOMER_ID", DEMO_CUSTOMER_ID)

UPSTREAM_BACKOFF_BASE = env_float("UPSTREAM_BACKOFF_BASE", 0.5, minimum=0.01)
UPSTREAM_BACKOFF_CAP = env_float("UPSTREAM_BACKOFF_CAP", 30.0, minimum=0.1)
UPSTREAM_STABLE_AFTER = env_float("UPSTREAM_STABLE_AFTER", 10.0, minimum=0)
UPSTREAM_MAX_FRAME_BYTES = env_int("UPSTREAM_MAX_FRAME_BYTES", 1 << 20, minimum=1024)
# VoIPBIN pings every 10 s and we every UPSTREAM_PING_INTERVAL (its pongs are heard too): this long
# without hearing a thing, a connection counts as silent (pages say so and stop their clocks) and is
# replaced. Silence is the one judge of a dead connection: a lost pong alone closes nothing.
UPSTREAM_PING_INTERVAL = env_float("UPSTREAM_PING_INTERVAL", 5.0, minimum=0.05)
UPSTREAM_SILENCE_SECONDS = env_float("UPSTREAM_SILENCE_SECONDS", 15.0, minimum=0.1)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {
        # "Not Found: /wall/<token>/" and the like: a wall link's token is its only credential.
        "redact_wall_tokens": {"()": "dashboard.logfilters.RedactWallTokens"},
        # An ordinary 403 or 404 is one INFO line (method, path, status, user), not a WARNING with
        # a traceback; 500s keep theirs at ERROR.
        "ordinary_refusals": {"()": "dashboard.logfilters.OrdinaryRefusals"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact_wall_tokens"]}
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's own console handler (DEBUG only) would print every django.* line a second time.
        "django": {"level": "INFO"},
        "django.request": {"filters": ["ordinary_refusals"]},
        "daphne": {"level": "WARNING"},
        # uvicorn's own handlers give way to ours (the same format, wall tokens redacted): its
        # "WebSocket /ws/wall/<token>/ [accepted]" lines would otherwise carry a wall's credential.
        "uvicorn": {"handlers": [], "propagate": True},
        "uvicorn.error": {"handlers": [], "propagate": True},
        "uvicorn.access": {"handlers": [], "propagate": True},
        # httpx logs request URLs at INFO, query string (an access key) included.
        "httpx": {"level": "WARNING"},
    },
}

# Seconds a user's upstream session stays open after their last tab closed (a reload keeps it).
RELAY_GRACE_SECONDS = env_float("RELAY_GRACE_SECONDS", 5.0, minimum=0)
# The account relay (status page counts; later inboxes and auto-replies) runs inside the web
# process by default; production runs it as `manage.py runrelay` and sets this off.
RELAY_IN_WEB = env_bool("RELAY_IN_WEB", True)

# Seconds a process's claim on a user's upstream session lasts unless renewed; a dead owner's
# sessions move to another process within about this time.
RELAY_LEASE_SECONDS = env_float("RELAY_LEASE_SECONDS", 10.0, minimum=1)
