"""/accounts/: allauth's pages, with the project's sign-in, TOTP set-up and invitations in front."""
from django.urls import include, path

from . import views

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="account_login"),
    path("2fa/totp/activate/", views.ActivateTOTPView.as_view(), name="mfa_activate_totp"),
    path("invitations/", views.invitations, name="invitations"),
    path("invitations/<str:token>/", views.invitation, name="invitation"),
    path("", include("allauth.urls")),
]
