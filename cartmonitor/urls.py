from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from cartmonitor.forms import AdminLoginForm, LoginForm

admin.site.site_header = "cartmonitor administration"
admin.site.site_title = "cartmonitor"
admin.site.login_form = AdminLoginForm

urlpatterns = [
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(authentication_form=LoginForm),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("", include("monitoring.urls")),
]
