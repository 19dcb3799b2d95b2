from django.urls import path

from . import views

urlpatterns = [path("approvals/<str:token>/", views.approval, name="approval")]
