"""Sign-up for the browser (sign-in and sign-out are Django's own views)."""
from django.contrib.auth import login
from django.shortcuts import redirect, render

from .errors import DomainError
from .services import signup


def signup_view(request):
    error = None
    if request.method == "POST":
        try:
            user, tenant = signup(username=request.POST.get("username", ""), password=request.POST.get("password", ""),
                                  tenant_slug=request.POST.get("tenant", ""), tenant_name=request.POST.get("tenant_name", ""))
            login(request, user)
            request.session["tenant"] = tenant.slug
            return redirect("/")
        except DomainError as e:
            error = e.message
    return render(request, "tenants/signup.html", {"error": error}, status=400 if error else 200)
