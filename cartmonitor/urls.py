from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from cartmonitor.forms import AdminLoginForm, LoginForm
from monitoring.access import home_allowed

admin.site.site_header = "cartmonitor administration"
admin.site.site_title = "cartmonitor"
admin.site.login_form = AdminLoginForm

urlpatterns = [
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(
            authentication_form=LoginForm,
            # The login page says how long a session lasts when it ended (?expired=1).
            extra_context={"idle_minutes": settings.SESSION_IDLE_MINUTES},
        ),
        name="login",
    ),
    # Anyone may log out, a patient or caregiver at home included.
    path("accounts/logout/", home_allowed(auth_views.LogoutView.as_view()), name="logout"),
    path("admin/", admin.site.urls),
    path("", include("monitoring.urls")),
]

# Error pages with the navigation and a way back (cartmonitor/errors.py).
handler403 = "cartmonitor.errors.permission_denied"
handler404 = "cartmonitor.errors.page_not_found"
handler500 = "cartmonitor.errors.server_error"
