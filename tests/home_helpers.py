"""Home monitoring in tests (issue 15): invite and accept through the real services, and a
client signed in as a patient or caregiver at home, as the sign-in pages would sign them in."""

import re

from django.test import Client
from django_tasks_db.models import DBTaskResult

from monitoring import home
from monitoring.access import HOME_BACKEND

CAREGIVER_NAME = "Maria (daughter)"


def make_home_user(course, by, *, kind="caregiver", name=CAREGIVER_NAME, email="", **accept):
    """A patient or caregiver who accepted an invitation to ``course`` and consented."""
    new = home.invite(course=course, kind=kind, display_name=name, email=email, by=by)
    return home.accept_invitation(invitation=new.invitation, language="en", **accept)


def send_queued_codes() -> int:
    """Run the queued jobs that e-mail sign-in codes, as the job worker would; how many ran."""
    jobs = list(DBTaskResult.objects.ready().filter(task_path="monitoring.home.send_login_code"))
    for job in jobs:
        home.send_login_code.call(*job.args_kwargs["args"], **job.args_kwargs["kwargs"])
    DBTaskResult.objects.filter(pk__in=[job.pk for job in jobs]).delete()
    return len(jobs)


def home_client(user, *, ip="203.0.113.7") -> Client:
    """A phone signed in as ``user`` (through the home backend, as the sign-in pages do)."""
    client = Client(REMOTE_ADDR=ip)
    client.force_login(user, backend=HOME_BACKEND)
    return client


def text_of(response) -> str:
    """The page's words, tags dropped (to look for what a reader sees)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))
