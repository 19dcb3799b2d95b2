"""Serves the editor's single-page app (the editor itself lands with the editor issue)."""
from django.shortcuts import render


def home(request):
    return render(request, "frontend/home.html")
