"""Project settings, read from the environment.

Embedded mode (the default) needs nothing installed: SQLite in WAL mode, engine workers started
by `manage.py serve`, an in-memory channel layer. Distributed mode: set DATABASE_URL (PostgreSQL)
and REDIS_URL; Celery workers advance instances and `manage.py engine_pump` (or Celery beat) wakes
due ones.
"""
import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    return os.environ.get(name, str(default)).lower() in {"1", "true", "yes", "on"}


DEBUG = env_bool("DEBUG", False)


def secret_key_file(path: Path) -> str:
    """This deployment's own key, made once and kept in VAR_DIR (like the secrets' Fernet key):
    no two installs share one, so nobody can sign an approval link or a session for another.
    Written to a temporary file then linked into place: a process starting alongside reads the
    whole key or none (and then the other's)."""
    if not path.exists():
        import secrets

        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(50))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    return path.read_text().strip()


SECRET_KEY = os.environ.get("SECRET_KEY") or secret_key_file(VAR_DIR / "secret.key")
ALLOWED_HOSTS = [h for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]

# Production behind TLS (HTTPS=true; README "Production"): cookies only over HTTPS, HSTS for a year,
# plain HTTP redirected, and the TLS-terminating proxy's X-Forwarded-Proto trusted to say so.
# `manage.py check --deploy` is clean with it (tests/api/test_deploy_check.py).
HTTPS = env_bool("HTTPS", False)
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get(
    "CSRF_TRUSTED_ORIGINS", ",".join(f"https://{h}" for h in ALLOWED_HOSTS if HTTPS and h != "*")).split(",") if o]
if HTTPS:
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
SESSION_COOKIE_HTTPONLY = True

INSTALLED_APPS = [
    # The operator console's theme: unfold's templates must win over django.contrib.admin's.
    "unfold",
    "unfold.contrib.filters",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "tenants",
    "builder",
    "engine",
    "triggers",
    "frontend",
    "console",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "config.api.refuse_unstorable_input",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.csp.ContentSecurityPolicy",
]

ROOT_URLCONF = "config.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # Project-level overrides of third-party templates (the console's home page replaces
        # unfold's admin/index.html, which an app directory could not: unfold's app comes first).
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
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None

DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets readers run beside the one writer; IMMEDIATE takes the write lock at BEGIN so
        # two processes never deadlock upgrading a read lock; the timeout rides out short waits.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    # Tests that start worker processes need a database file they can open too.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test_db.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True
LOGIN_REDIRECT_URL = "/editor/"  # after sign-in and sign-up: the workflow list
LOGOUT_REDIRECT_URL = "/accounts/login/"
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# Serve app static files (the built editor) straight from their folders: no collectstatic to forget.
WHITENOISE_USE_FINDERS = True
# The editor's bundles have content-hashed names (Vite): cached for a year, immutable. Their gzip
# twins are written at build time (config/build_frontend.sh) and served to clients that accept them.
WHITENOISE_IMMUTABLE_FILE_TEST = r"^/static/frontend/dist/assets/"

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    # redis-py 8 reads with a 5 s socket timeout by default, which cuts the channel layer's blocking
    # 5 s BZPOPMIN and tears every idle consumer down (channels_redis#422): read longer than that.
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                                  "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30}]}}}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Celery: only used in distributed mode (REDIS_URL set). A message only says "this instance may
# have work": acks_late + prefetch 1 so a killed worker's message is redelivered, and the database
# stays the source of truth either way.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BEAT_SCHEDULE = {
    "engine-pump": {"task": "engine.tasks.pump", "schedule": 1.0},
}

# Engine
ENGINE_DISPATCH = os.environ.get("ENGINE_DISPATCH", "celery" if REDIS_URL else "embedded")
ENGINE_WORKERS = int(os.environ.get("ENGINE_WORKERS", "2"))
ENGINE_LEASE_SECONDS = float(os.environ.get("ENGINE_LEASE_SECONDS", "60"))
# Snapshots (engine.snapshots): an instance with at least this many steps keeps an image of its
# blocked program and its next advance resumes from it instead of replaying every step.
ENGINE_SNAPSHOTS = os.environ.get("ENGINE_SNAPSHOTS", "1") not in ("0", "false", "no")
ENGINE_SNAPSHOT_MIN_STEPS = int(os.environ.get("ENGINE_SNAPSHOT_MIN_STEPS", "1000"))
# Celery mode: task messages are tokens ("an instance may be due"); at most this many wait in the
# broker's queue (engine.dispatch). Above the workers' throughput in one pump interval.
ENGINE_CELERY_TOKENS = int(os.environ.get("ENGINE_CELERY_TOKENS", "200"))
# Plan limits every tenant gets unless Tenant.limits says otherwise (tenants.limits).
TENANT_DEFAULT_LIMITS = {
    "sandbox_memory_mb": int(os.environ.get("ENGINE_SANDBOX_MEMORY_MB", "64")),
    "advance_time_seconds": float(os.environ.get("ENGINE_ADVANCE_TIMEOUT_SECONDS", "30")),
    "stack_kb": 512,
    "log_bytes_per_advance": 256 * 1024,
    "http_calls_per_step": 50,
    "http_concurrency": 10,
    "steps_per_instance": 10_000,  # at most 25,000 (tenants.limits.MAX_STEPS_PER_INSTANCE)
    "http_timeout_seconds": 30.0,
    "http_response_bytes": 5 * 1024 * 1024,
    "webhook_calls_per_minute": 6000,
    "concurrent_instances": 50,
    "creations_per_minute": 6000,
    "steps_per_month": 10_000_000,
    "stored_bytes": 10 * 1024**3,
    # Finished instances (complete, errored, terminated) and their step data are deleted this many
    # days after they finished (engine.retention; never before 24 h: webhook delivery-id dedup).
    "retention_days": int(os.environ.get("ENGINE_RETENTION_DAYS", "30")),
}
ENGINE_WORKER_MEMORY_MB = int(os.environ.get("ENGINE_WORKER_MEMORY_MB", "2048"))
ENGINE_CACHE_DIR = Path(os.environ.get("ENGINE_CACHE_DIR", VAR_DIR / "cache"))
# Host capabilities a program may call as step.<name>(args): name -> dotted path of a callable
# (call: engine.capabilities.Call) -> JSON value.
# ENGINE_EXTRA_CAPABILITIES="name=dotted.path,..." adds some from the environment (tests use it).
ENGINE_CAPABILITIES: dict[str, str] = {
    "http": "engine.capabilities.http.http",
    "secret": "engine.capabilities.secrets.secret",
    "startWorkflow": "triggers.capabilities.start_workflow",
} | dict(
    item.split("=", 1) for item in os.environ.get("ENGINE_EXTRA_CAPABILITIES", "").split(",") if "=" in item
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}

# Called with (workflow, version) in the transaction that changes a workflow's published version
# (publish; archive with version None): the builder sits below the triggers and cannot import them.
WORKFLOW_PUBLISH_HOOKS = ["triggers.schedules.schedules_sync"]
# The tenant-scoped workflow lookup (NotFound for another tenant's) the engine's per-workflow
# progress stream uses: workflows are the builder's, above the engine.
ENGINE_WORKFLOW_GET = "builder.selectors.workflow_get"
# Called with the tenant when it is suspended / unsuspended (tenants.services), each returning how
# many instances it paused / resumed: the tenants app sits below the engine and cannot import it.
TENANT_SUSPEND_HOOKS = ["engine.services.tenant_instances_suspend"]
TENANT_UNSUSPEND_HOOKS = ["engine.services.tenant_instances_resume"]
# Called by the pump (and by idle embedded workers) with `now`: schedule triggers fire here.
ENGINE_PUMP_HOOKS = ["triggers.schedules.schedules_fire", "tenants.audit.audit_purge", "engine.retention.retention_hook",
                     "triggers.test_deliveries.test_deliveries_purge",
                     "engine.dispatch.analyze_hook", "engine.compaction.compact_hook"]
# Progress rows older than this are merged (engine.compaction): a sleeping instance keeps one row.
# A workflow-stream cursor resumes exactly within this window; an older one gets `resync`.
ENGINE_PROGRESS_COMPACT_AFTER_SECONDS = float(os.environ.get("ENGINE_PROGRESS_COMPACT_AFTER_SECONDS", "3600"))
ENGINE_COMPACT_INTERVAL_SECONDS = float(os.environ.get("ENGINE_COMPACT_INTERVAL_SECONDS", "30"))
# Retention runs at most this often per process, deleting finished instances in transactions of
# ENGINE_RETENTION_BATCH (children first) for at most ENGINE_RETENTION_BUDGET_SECONDS per run.
ENGINE_RETENTION_INTERVAL_SECONDS = float(os.environ.get("ENGINE_RETENTION_INTERVAL_SECONDS", "60"))
# SQLite has one writer for the whole database, so its batches are smaller: each holds the engine's
# commits back for as long as it lasts (PostgreSQL locks only the rows deleted).
ENGINE_RETENTION_BATCH = int(os.environ.get(
    "ENGINE_RETENTION_BATCH", "100" if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3" else "500"))
ENGINE_RETENTION_BUDGET_SECONDS = float(os.environ.get("ENGINE_RETENTION_BUDGET_SECONDS", "2"))
# Engine workers write a heartbeat row this often (engine.heartbeat); rows unseen this long are deleted.
ENGINE_HEARTBEAT_SECONDS = float(os.environ.get("ENGINE_HEARTBEAT_SECONDS", "5"))
ENGINE_HEARTBEAT_PRUNE_SECONDS = float(os.environ.get("ENGINE_HEARTBEAT_PRUNE_SECONDS", "600"))
AUDIT_RETENTION_DAYS = int(os.environ.get("AUDIT_RETENTION_DAYS", "365"))
# The operator console (/admin/, django-unfold). The health dashboard (the console's home page)
# gets its figures from DASHBOARD_CALLBACK(request, context) when one is set.
UNFOLD = {
    "SITE_TITLE": "Durable workflows console",
    "SITE_HEADER": "Operator console",
    "SITE_SYMBOL": "account_tree",
    "SITE_URL": "/",
    "SHOW_HISTORY": False,
    "DASHBOARD_CALLBACK": "console.dashboard.dashboard_callback",
    "SIDEBAR": {
        "show_search": False,
        "show_all_applications": True,
        "navigation": [
            {"title": "Operate", "items": [
                {"title": "Dashboard", "icon": "monitoring", "link": "/admin/"},
                {"title": "Tenants", "icon": "apartment", "link": "/admin/tenants/tenant/"},
                {"title": "Instances", "icon": "play_circle", "link": "/admin/engine/instance/"},
                {"title": "Workflows", "icon": "account_tree", "link": "/admin/builder/workflow/"},
                {"title": "Workflow versions", "icon": "history", "link": "/admin/builder/workflowversion/"},
            ]},
            {"title": "Access", "items": [
                {"title": "API keys", "icon": "key", "link": "/admin/tenants/apikey/"},
                {"title": "Audit log", "icon": "policy", "link": "/admin/tenants/auditentry/"},
                {"title": "Staff users", "icon": "person", "link": "/admin/auth/user/"},
            ]},
        ],
    },
}
# /metrics (Prometheus) answers staff sessions, or this bearer token when set.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")

# step.http refuses private, loopback, link-local and metadata addresses; list here the hosts or
# networks a self-hosted deployment may reach anyway (e.g. "intranet.example,10.1.0.0/16").
ENGINE_HTTP_ALLOWED_PRIVATE = [h.strip() for h in os.environ.get("ENGINE_HTTP_ALLOWED_PRIVATE", "").split(",") if h.strip()]

# Webhooks: bodies over this size answer 413 before they are read; "wait" triggers wait this long
# for a respond node before answering 202.
WEBHOOK_MAX_BODY_BYTES = int(os.environ.get("WEBHOOK_MAX_BODY_BYTES", str(1024 * 1024)))
WEBHOOK_WAIT_SECONDS = float(os.environ.get("WEBHOOK_WAIT_SECONDS", "10"))
DATA_UPLOAD_MAX_MEMORY_SIZE = WEBHOOK_MAX_BODY_BYTES + 1024
# Every route: daphne answers 413 and closes once a body passes this (config.bodylimit), before
# the application is called; Django's own limit above covers other servers.
REQUEST_MAX_BODY_BYTES = int(os.environ.get("REQUEST_MAX_BODY_BYTES", str(DATA_UPLOAD_MAX_MEMORY_SIZE)))

# --- Accounts (django-allauth): sign-up, sign-in, email, password reset, MFA, rate limits ---------
# Kept in one block so other changes to this file merge around it. README "Accounts" explains it.
INSTALLED_APPS += [  # after "tenants", whose templates restyle allauth's pages like the editor
    "allauth", "allauth.account", "allauth.mfa", "allauth.usersessions",
    "django.contrib.humanize"]  # the sessions page ("2 hours ago")
MIDDLEWARE += [
    "allauth.account.middleware.AccountMiddleware",
    "allauth.usersessions.middleware.UserSessionsMiddleware",
    # Staff reach the console only after setting up and using a second factor (tenants.accounts.mfa).
    "tenants.accounts.mfa.OperatorMfaMiddleware",
]
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend",
                           "allauth.account.auth_backends.AuthenticationBackend"]
# Every account (sign-up, password change and reset, console-created staff) goes through these.
AUTH_PASSWORD_VALIDATORS = [{"NAME": f"django.contrib.auth.password_validation.{name}"} for name in (
    "UserAttributeSimilarityValidator", "MinimumLengthValidator", "CommonPasswordValidator", "NumericPasswordValidator")]
LOGIN_URL = "/accounts/login/"
TEMPLATES[0]["OPTIONS"]["context_processors"].append("tenants.accounts.context.accounts")
ACCOUNT_ADAPTER = "tenants.accounts.adapter.AccountAdapter"
ACCOUNT_FORMS = {"signup": "tenants.accounts.forms.SignupForm"}
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "email*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
# Sign-up is open, and invitations and password resets go by email: an address counts once verified.
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Durable workflows] "
# Failed sign-ins: 10 a minute per address, 5 per 5 minutes per account (the name typed, so an
# unknown account locks exactly like a real one); then refused (429) until the window has passed.
# (allauth's other limits keep their defaults: 30 sign-in posts a minute per address, 20 sign-ups...)
ACCOUNT_RATE_LIMITS = {"login_failed": os.environ.get("ACCOUNT_LOGIN_FAILED_LIMIT", "10/m/ip,5/5m/key")}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_PASSKEY_LOGIN_ENABLED = False
# WebAuthn needs a secure origin: HTTPS in production; the embedded demo and DEBUG also allow
# http://localhost (browsers refuse an IP address as the key's site either way).
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = DEBUG or env_bool("DEMO", False)
MFA_TOTP_ISSUER = "Durable workflows"
# A code is accepted in the 30 s period before and after the current one too (RFC 6238's one step of
# drift): a code typed as its period ends, or from a phone whose clock is a few seconds off, still
# works. allauth keeps each used code for the whole window, so one code still signs in only once.
MFA_TOTP_TOLERANCE = 1
USERSESSIONS_TRACK_ACTIVITY = False  # no write per request; sessions are listed from sign-in
# Mail (verification, password reset, invitations): SMTP when EMAIL_HOST is set, else printed on
# the server's console (embedded mode). Tests read Django's outbox.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_BACKEND = ("django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST
                 else "django.core.mail.backends.console.EmailBackend")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "587"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", EMAIL_PORT == 587)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", EMAIL_PORT == 465)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Durable workflows <noreply@localhost>")
# The demo user (demo / demo) exists only when DEMO is on: `config/up.sh` (the embedded demo) turns
# it on; any other configuration leaves it off and `manage.py seed_demo` refuses to run.
DEMO = env_bool("DEMO", False)
INVITATION_DAYS = int(os.environ.get("INVITATION_DAYS", "7"))
# --- end of accounts ----------------------------------------------------------------------------
