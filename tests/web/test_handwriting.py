"""Handwriting samples (issue 15 §2, issue 14 §1): the ICE writing task's sentence (reference
§2.1), drawn on the screen or photographed, kept beside the baseline for people to compare.

What a user would notice: a drawing or a photo is saved as a clean PNG (no EXIF, at most
1200 px); anything else is refused with a message that says what to do, and nothing typed is
lost; only the course's own team sees the pictures, never cached; a home sample reaches the team
as a flag; a wrong sample is marked entered in error and stays on file.
"""

import base64
import io
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from monitoring import handwriting
from monitoring.models import AuditEvent, Flag, HandwritingSample, RecordStatus, User
from tests.factories import CourseFactory, UserFactory
from tests.home_helpers import home_client, make_home_user, text_of

HOME_NEW = reverse("monitoring:home-handwriting-new")


def picture(size=(600, 200), fmt="PNG", exif=None, colour="white") -> bytes:
    """A picture with a line drawn on it, as a drawing pad or a camera would send it."""
    image = Image.new("RGB", size, colour)
    for x in range(10, size[0] - 10):
        image.putpixel((x, size[1] // 2), (0, 0, 0))
    out = io.BytesIO()
    kwargs = {"exif": exif} if exif is not None else {}
    image.save(out, format=fmt, **kwargs)
    return out.getvalue()


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def camera_exif() -> Image.Exif:
    """What a phone camera writes: its make, the time, and "rotate 90° to view" (6)."""
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0132] = "2026:12:01 10:00:00"  # DateTime
    exif[0x0112] = 6  # Orientation
    return exif


def new_url(course) -> str:
    return reverse("monitoring:handwriting-new", args=[course.patient.public_id])


def image_url(sample) -> str:
    return reverse(
        "monitoring:handwriting-image", args=[sample.course.patient.public_id, sample.public_id]
    )


def error_url(sample) -> str:
    return reverse(
        "monitoring:handwriting-error", args=[sample.course.patient.public_id, sample.public_id]
    )


def staff_post(client, course, **data):
    values = {
        "kind": "baseline",
        "taken_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        **data,
    }
    return client.post(new_url(course), values)


def stored(sample) -> Image.Image:
    return Image.open(io.BytesIO(bytes(sample.image_png)))


@pytest.fixture
def caregiver(course, care_team_member):
    return make_home_user(course, care_team_member)


# --- Saving: the picture as a clean PNG --------------------------------------------------------


def test_a_drawing_from_the_pad_is_saved_as_a_png(nurse_client, course, nurse):
    response = staff_post(nurse_client, course, drawing=data_url(picture()))

    assert response.status_code == 302
    assert response.url.endswith("#handwriting")
    sample = HandwritingSample.objects.get()
    assert (sample.course, sample.kind, sample.source) == (course, "baseline", "drawn")
    assert sample.recorded_by == nurse
    assert sample.sentence == "Our national bird is the bald eagle."
    image = stored(sample)
    assert image.format == "PNG"
    assert image.size == (sample.width_px, sample.height_px) == (600, 200)


def test_a_photo_is_turned_upright_stripped_of_its_exif_and_scaled_down(nurse_client, course):
    jpeg = picture(size=(3000, 2000), fmt="JPEG", exif=camera_exif())
    assert Image.open(io.BytesIO(jpeg)).getexif()[0x010F] == "PhoneMaker"

    response = staff_post(
        nurse_client, course, kind="ward", photo=io.BytesIO(jpeg), photo_name="x.jpg"
    )

    assert response.status_code == 302
    sample = HandwritingSample.objects.get()
    image = stored(sample)
    assert image.format == "PNG"
    assert image.size == (800, 1200)  # rotated as the camera said, longer side 1200
    assert dict(image.getexif()) == {}
    assert not {"exif", "icc_profile", "dpi"} & set(image.info)
    assert b"PhoneMaker" not in bytes(sample.image_png)
    assert sample.source == "photo"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"%PDF-1.4 not a picture", "This file is not a picture we can read"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", "This is an HEIC photo"),
        (picture(fmt="GIF"), "This file is not a picture we can read"),
        (picture(size=(40, 20)), "too small to show the writing"),
    ],
    ids=["pdf", "heic", "gif", "tiny"],
)
def test_a_file_that_is_not_a_usable_picture_is_refused_and_nothing_typed_is_lost(
    nurse_client, course, content, message
):
    if message.startswith("This is an HEIC") and handwriting.heif_supported():
        pytest.skip("a HEIF plugin is installed here")
    photo = io.BytesIO(content)
    photo.name = "sample.bin"
    typed = (timezone.localtime() - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M")

    response = nurse_client.post(
        new_url(course), {"kind": "ward", "taken_at": typed, "photo": photo}
    )

    assert response.status_code == 400
    page = response.content.decode()
    assert message in text_of(response)
    assert "Nothing was saved." in page
    assert f'value="{typed}"' in page
    assert re.search(r'value="ward"[^>]*checked', page)
    assert not HandwritingSample.objects.exists()


def test_a_photo_over_5_mb_is_refused_with_the_limit(nurse_client, course):
    photo = io.BytesIO(b"\xff\xd8\xff" + b"0" * (5 * 1024 * 1024 + 1))
    photo.name = "big.jpg"
    drawing = data_url(picture())

    response = staff_post(nurse_client, course, photo=photo, drawing=drawing)

    assert response.status_code == 400
    assert "The picture is too large: at most 5 MB." in text_of(response)
    assert drawing in response.content.decode()  # the drawing is still on the page
    assert not HandwritingSample.objects.exists()


def test_a_drawing_that_is_not_a_png_data_url_is_refused(nurse_client, course):
    response = staff_post(nurse_client, course, drawing="data:text/html;base64,PGI+")

    assert response.status_code == 400
    assert "The drawing did not arrive as a picture" in text_of(response)
    assert not HandwritingSample.objects.exists()


def test_nothing_written_or_photographed_says_what_to_do(nurse_client, course):
    response = staff_post(nurse_client, course)

    assert response.status_code == 400
    assert "Write the sentence on the pad, or take a photo" in text_of(response)


def test_a_time_in_the_future_is_refused(nurse_client, course):
    later = (timezone.localtime() + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")

    response = staff_post(nurse_client, course, taken_at=later, drawing=data_url(picture()))

    assert response.status_code == 400
    assert "The time cannot be in the future." in text_of(response)
    assert not HandwritingSample.objects.exists()


# --- Audit and the team's flag ------------------------------------------------------------------


def test_saving_is_audited_with_who_what_and_the_sizes(nurse_client, course, nurse):
    staff_post(nurse_client, course, drawing=data_url(picture()))

    event = AuditEvent.objects.get(action=AuditEvent.Action.HANDWRITING_RECORDED)
    sample = HandwritingSample.objects.get()
    assert (event.user, event.course, event.patient) == (nurse, course, course.patient)
    assert "Handwriting sample (baseline, written on the screen)" in event.summary
    assert event.details["sample"] == str(sample.public_id)
    assert event.details["png_bytes"] == len(bytes(sample.image_png))


def test_a_baseline_raises_no_flag_but_a_ward_sample_asks_the_team_to_compare(nurse_client, course):
    staff_post(nurse_client, course, drawing=data_url(picture()))
    assert not Flag.objects.filter(kind="handwriting").exists()

    staff_post(nurse_client, course, kind="ward", drawing=data_url(picture()))

    flag = Flag.objects.get(kind="handwriting")
    assert flag.status == Flag.Status.OPEN
    assert flag.severity == Flag.Severity.WARNING
    assert flag.message.startswith("Handwriting sample to review (Ward or clinic), written at D+3")
    assert flag.escalate_at is not None  # climbs the ladder like any flag
    course.status_row.refresh_from_db()
    assert course.status_row.open_flag_count == 1


def test_a_second_home_sample_updates_the_open_flag_instead_of_raising_another(caregiver, course):
    phone = home_client(caregiver)
    for _ in range(2):
        assert phone.post(HOME_NEW, {"drawing": data_url(picture())}).status_code == 302

    assert HandwritingSample.objects.filter(kind="home").count() == 2
    assert Flag.objects.filter(kind="handwriting").count() == 1


# --- Home ---------------------------------------------------------------------------------------


def test_a_caregiver_sends_a_sample_of_their_own_course_from_the_phone(caregiver, course):
    phone = home_client(caregiver)

    page = phone.get(HOME_NEW)
    assert page.status_code == 200
    assert "Our national bird is the bald eagle." in text_of(page)
    assert 'capture="environment"' in page.content.decode()
    assert 'accept="image/*"' in page.content.decode()
    response = phone.post(HOME_NEW, {"drawing": data_url(picture())})

    assert response.url == reverse("monitoring:home-start")
    sample = HandwritingSample.objects.get()
    assert (sample.course, sample.kind, sample.recorded_by) == (course, "home", caregiver)
    assert "your care team will look at it" in text_of(phone.get(response.url))
    flag = Flag.objects.get(kind="handwriting")
    assert "(Home)" in flag.message


def test_the_home_page_speaks_spanish(caregiver):
    phone = home_client(caregiver)
    phone.cookies["django_language"] = "es"
    caregiver.language = "es"
    caregiver.save()

    page = text_of(phone.get(HOME_NEW, HTTP_ACCEPT_LANGUAGE="es"))

    assert "Nuestra ave nacional es el águila calva." in page


def test_a_home_refusal_keeps_the_drawing(caregiver):
    phone = home_client(caregiver)
    drawing = data_url(picture())
    bad = io.BytesIO(b"not a picture")
    bad.name = "x.txt"

    response = phone.post(HOME_NEW, {"drawing": drawing, "photo": bad})

    assert response.status_code == 400
    assert "This file is not a picture we can read" in text_of(response)
    assert drawing in response.content.decode()
    assert not HandwritingSample.objects.exists()


# --- Access -------------------------------------------------------------------------------------


@pytest.fixture
def baseline(course, nurse):
    return handwriting.record_sample(
        course=course,
        kind="baseline",
        source="drawn",
        image=picture(),
        taken_at=timezone.now() - timedelta(days=4),
        by=nurse,
    )


def test_the_picture_is_served_only_to_the_team_and_never_cached(
    care_client, outsider_client, client, baseline
):
    response = care_client.get(image_url(baseline))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Cache-Control"] == "private, no-store"
    assert response.content == bytes(baseline.image_png)
    assert outsider_client.get(image_url(baseline)).status_code == 404
    assert outsider_client.get(new_url(baseline.course)).status_code == 404
    assert client.get(image_url(baseline)).status_code == 302  # to the login page


def test_another_patients_address_with_this_sample_is_a_404(care_client, baseline, ward_a):
    other = CourseFactory(unit=ward_a)
    url = reverse(
        "monitoring:handwriting-image", args=[other.patient.public_id, baseline.public_id]
    )

    assert care_client.get(url).status_code == 404


def test_a_home_session_reaches_neither_the_staff_page_nor_the_pictures(
    caregiver, course, baseline
):
    phone = home_client(caregiver)

    assert phone.get(new_url(course)).status_code == 404
    assert phone.get(image_url(baseline)).status_code == 404
    assert phone.get(error_url(baseline)).status_code == 404


def test_a_home_session_of_another_course_writes_only_to_its_own(course, ward_b, care_team_member):
    other = CourseFactory(unit=ward_b)
    bob = make_home_user(other, UserFactory(role=User.Role.CARE_TEAM, units=[ward_b]))
    phone = home_client(bob)

    phone.post(HOME_NEW, {"drawing": data_url(picture())})

    assert HandwritingSample.objects.get().course == other
    assert not Flag.objects.filter(course=course).exists()


def test_the_home_page_is_for_home_sessions_only(nurse_client):
    assert nurse_client.get(HOME_NEW).status_code == 403


# --- Course page and entered in error -----------------------------------------------------------


def test_the_course_page_shows_the_baseline_beside_the_latest_samples(
    care_client, caregiver, course, baseline, nurse
):
    handwriting.record_sample(
        course=course,
        kind="home",
        source="drawn",
        image=picture(),
        taken_at=timezone.now() - timedelta(hours=1),
        by=caregiver,
    )
    page = care_client.get(reverse("monitoring:patient-course", args=[course.patient.public_id]))

    html = page.content.decode()
    start = html.index('id="handwriting"')
    section = html[start : html.index("</section>", start)]
    assert section.count('class="hw-sample') == 2
    assert section.index("Baseline") < section.index("Home")
    words = text_of(page)
    assert "Home · D+3" in words
    assert "by Maria (daughter) (Caregiver at home), written on the screen" in words
    assert "Baseline · D-1" in words
    assert f"by {nurse} (Nurse), written on the screen" in words
    assert image_url(baseline) in section


def test_a_sample_entered_in_error_stays_on_file_with_who_and_why(
    nurse_client, nurse, course, baseline
):
    refused = nurse_client.post(error_url(baseline), {"reason": ""})
    assert refused.status_code == 400

    response = nurse_client.post(error_url(baseline), {"reason": "another patient's"})

    assert response.status_code == 302
    baseline.refresh_from_db()
    assert baseline.status == RecordStatus.ENTERED_IN_ERROR
    assert (baseline.status_changed_by, baseline.status_reason) == (nurse, "another patient's")
    assert len(bytes(baseline.image_png)) > 0  # the picture is kept
    assert AuditEvent.objects.filter(action=AuditEvent.Action.ENTERED_IN_ERROR).exists()
    page = text_of(nurse_client.get(response.url.split("#")[0]))
    assert "No handwriting samples yet." in page
    assert nurse_client.get(image_url(baseline)).status_code == 200  # still on file


def test_the_admin_shows_samples_read_only_without_their_pictures(client, baseline):
    root = UserFactory(username="root", is_staff=True, is_superuser=True, role=User.Role.ADMIN)
    client.force_login(root)
    change = reverse("admin:monitoring_handwritingsample_change", args=[baseline.pk])
    delete = reverse("admin:monitoring_handwritingsample_delete", args=[baseline.pk])

    assert client.get(reverse("admin:monitoring_handwritingsample_changelist")).status_code == 200
    page = client.get(change)
    assert page.status_code == 200
    assert "image_png" not in page.content.decode()
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert HandwritingSample.objects.filter(pk=baseline.pk).exists()


def test_the_staff_page_offers_a_baseline_first_then_a_ward_sample(nurse_client, course, nurse):
    assert re.search(
        r'value="baseline"[^>]*checked', nurse_client.get(new_url(course)).content.decode()
    )

    staff_post(nurse_client, course, drawing=data_url(picture()))

    assert re.search(
        r'value="ward"[^>]*checked', nurse_client.get(new_url(course)).content.decode()
    )


def test_a_caregiver_is_asked_to_have_the_patient_write_not_to_write_themselves(caregiver, course):
    page = text_of(home_client(caregiver).get(HOME_NEW))

    name = course.patient.given_name
    assert f"Ask {name} to write this sentence" in page
    assert f"it must be {name}'s own writing, not yours" in page
