"""The project package. The Celery app (engine.celery_app, started as config.celery) is imported only where
it is used (Celery workers, and dispatch in celery mode): importing Celery costs ~150 ms at start-up."""
