"""A person's own settings: where their notifications reach them."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.functional import lazy
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from monitoring.models import User


def _model_field(name: str):
    return User._meta.get_field(name)


def _label(name: str):
    # "Notify me by Web Push", not capitalize()'s "web push"; lazy, in the reader's language.
    return lazy(lambda: capfirst(_model_field(name).verbose_name), str)()


class ChannelsForm(forms.Form):
    """The channels besides the in-app centre, and the addresses they need. Whether a channel
    can work on this server is decided by ``notification_centre.save_channels``."""

    notify_by_email = forms.BooleanField(label=_label("notify_by_email"), required=False)
    email = forms.EmailField(label=_("E-mail address"), required=False, max_length=254)
    notify_by_push = forms.BooleanField(
        label=_label("notify_by_push"),
        required=False,
        help_text=_("On the browsers you subscribe below (a phone or a workstation)."),
    )
    notify_by_webhook = forms.BooleanField(label=_label("notify_by_webhook"), required=False)
    pager_id = forms.CharField(
        label=_label("pager_id"),
        required=False,
        max_length=_model_field("pager_id").max_length,
        help_text=_model_field("pager_id").help_text,
    )

    @classmethod
    def for_user(cls, user: User, data=None) -> ChannelsForm:
        return cls(data, initial={name: getattr(user, name) for name in cls.base_fields})


class LanguageForm(forms.Form):
    """The language of the user's pages and notifications; blank follows the browser."""

    language = forms.ChoiceField(
        label=_("Language"),
        required=False,
        help_text=_("Pages and notifications; times stay in the unit's time zone."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Each language in its own name, so a reader finds theirs whatever is shown now.
        self.fields["language"].choices = [
            ("", _("As my browser (else English)")),
            *settings.LANGUAGES,
        ]


class RemoveBrowserForm(forms.Form):
    """One of the user's subscribed browsers, from the profile's list."""

    subscription = forms.IntegerField(min_value=1, max_value=2**63 - 1)
