"""The console's admin pages, one module per app they show: Django's admin autodiscovery imports
this module, and registering them here keeps every admin class of the project in console/."""
from . import admin_builder, admin_engine, admin_tenants  # noqa: F401  (each registers its ModelAdmins)
