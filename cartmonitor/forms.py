"""The login forms, the app's and the Django admin's."""

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.validators import MaxLengthValidator


class UsernameLengthMixin:
    """Refuse a username longer than a user's can be, before authentication is tried.

    Django's login form sets the username's maximum length only as a browser hint; a longer
    one was authenticated, failed, and reached django-axes, whose table of failed attempts
    holds 255 characters: PostgreSQL refused the row and the login answered 500.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["username"]
        field.validators.append(MaxLengthValidator(field.max_length))


class LoginForm(UsernameLengthMixin, AuthenticationForm):
    pass


class AdminLoginForm(UsernameLengthMixin, AdminAuthenticationForm):
    pass
