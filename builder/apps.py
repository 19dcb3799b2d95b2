"""The builder's Django app."""
from django.apps import AppConfig


class BuilderConfig(AppConfig):
    name = "builder"
