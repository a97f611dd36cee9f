"""Home monitoring's forms: the care team's (invite, revoke) and the person's at home (e-mail,
code, consent). What they may do and the limits are monitoring/home.py's."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from monitoring.models import HomeKind

# Phones offer the right keyboard, and no browser fills in or corrects a code.
CODE_ATTRS = {
    "autocomplete": "one-time-code",
    "autocapitalize": "characters",
    "spellcheck": "false",
}


class InvitationForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Who"), choices=HomeKind.choices, widget=forms.RadioSelect, initial="caregiver"
    )
    display_name = forms.CharField(
        label=_("Name the team knows them by"),
        max_length=100,
        help_text=_(
            'For example "Maria (daughter)". Shown to the team and on their own pages, '
            "never in e-mails."
        ),
    )
    email = forms.EmailField(
        label=_("E-mail for sign-in codes (optional)"),
        required=False,
        max_length=254,
        help_text=_("Without one, the team gives each sign-in code in person."),
    )


class RevokeForm(forms.Form):
    reason = forms.CharField(label=_("Why"), max_length=500)


class EmailForm(forms.Form):
    email = forms.EmailField(
        label=_("Your e-mail address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "inputmode": "email"}),
    )


class EmailCodeForm(forms.Form):
    code = forms.CharField(
        label=_("The 6-digit code from the e-mail"),
        max_length=12,
        widget=forms.TextInput(attrs={**CODE_ATTRS, "inputmode": "numeric"}),
    )


class TypedCodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code from your care team"),
        max_length=32,
        help_text=_("10 letters and numbers, for example ABCD-EFGH-JK."),
        widget=forms.TextInput(attrs=CODE_ATTRS),
    )


class ConsentForm(forms.Form):
    agree = forms.BooleanField(
        label=_("I agree to home monitoring as described above."),
        error_messages={"required": _("Tick the box to agree, or close this page.")},
    )
