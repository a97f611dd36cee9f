"""The product list (issue 14 §2): TherapyProduct rows that admins maintain in the Django admin,
seeded by migration 0015 with each label's monitoring rules (docs/clinical-rules.md, "Products
and their labels"); a course's product is a foreign key by code on the old column; day 0 is the
infusion of a cell therapy and the first dose of a T-cell engager, and the pages say which."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from monitoring import product_labels, products, registry, services
from monitoring.models import AuditEvent, TherapyProduct, TreatmentCourse, User
from tests.factories import CourseFactory, UserFactory, therapy_product
from tests.web.test_course_lifecycle import admission

CAR_T = ["axi-cel", "tisa-cel", "liso-cel", "brexu-cel", "ide-cel", "cilta-cel", "obe-cel"]
ENGAGERS = [
    "teclistamab",
    "elranatamab",
    "talquetamab",
    "linvoseltamab",
    "epcoritamab",
    "glofitamab",
    "mosunetuzumab",
    "tarlatamab",
    "blinatumomab",
]


@pytest.fixture
def it_admin(db):
    """The admin role with a Django admin login (createsuperuser makes these)."""
    user = UserFactory(username="it-admin", role=User.Role.ADMIN, is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(user)
    client.user = user
    return client


def change_url(code: str) -> str:
    return reverse("admin:monitoring_therapyproduct_change", args=[therapy_product(code).pk])


def change_form_data(client, url) -> dict:
    form = client.get(url).context["adminform"].form
    return {name: form[name].value() for name in form.fields if form[name].value() is not None}


# --- The migration's rows -------------------------------------------------------------------


@pytest.mark.django_db
def test_the_migration_ships_every_code_in_its_class():
    shipped = dict(TherapyProduct.objects.values_list("code", "product_class"))

    assert {code: shipped[code] for code in CAR_T} == dict.fromkeys(CAR_T, "car_t")
    assert {code: shipped[code] for code in ENGAGERS} == dict.fromkeys(ENGAGERS, "t_cell_engager")
    assert shipped["afami-cel"] == "tcr_t"
    assert shipped["other"] == "other"
    assert len(shipped) == len(CAR_T) + len(ENGAGERS) + 2
    assert TherapyProduct.objects.filter(is_active=False).count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("code", "target", "label"),
    [
        ("axi-cel", "CD19", "Axicabtagene ciloleucel (Yescarta)"),  # as the old choices said
        ("cilta-cel", "BCMA", "Ciltacabtagene autoleucel (Carvykti)"),
        ("teclistamab", "BCMA", "Teclistamab (Tecvayli)"),
        ("talquetamab", "GPRC5D", "Talquetamab (Talvey)"),
        ("epcoritamab", "CD20", "Epcoritamab (Epkinly)"),
        ("tarlatamab", "DLL3", "Tarlatamab (Imdelltra)"),
        ("afami-cel", "MAGE-A4", "Afamitresgene autoleucel (Tecelra)"),
    ],
)
def test_shipped_products_keep_their_names_and_targets(code, target, label):
    product = TherapyProduct.objects.get(code=code)
    assert (product.target, product.label) == (target, label)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("code", "hours"),
    [
        # Label defaults, each cited in docs/clinical-rules.md "Products and their labels".
        ("teclistamab", 48),  # TECVAYLI PI 2.1: hospitalise 48 h after each step-up dose
        ("talquetamab", 48),  # TALVEY PI 2.1: 48 h after each step-up dose
        ("elranatamab", 48),  # ELREXFIO PI 2.1: 48 h after dose 1, 24 h after dose 2
        ("linvoseltamab", 24),  # LYNOZYFIC PI 2.1: 24 h after step-up doses 1 and 2
        ("epcoritamab", 24),  # EPKINLY PI 2.1 (DLBCL): 24 h after the first full dose
        ("tarlatamab", 24),  # IMDELLTRA PI 2.1: 22-24 h after C1D1 and C1D8
        ("blinatumomab", 216),  # BLINCYTO PI 2.1 (R/R ALL): first 9 days of cycle 1
        ("glofitamab", None),  # not verified in a copy of the label: left empty
        ("mosunetuzumab", None),  # not verified: left empty
        ("axi-cel", None),  # a single infusion: no step-up window
    ],
)
def test_label_monitoring_windows_are_the_cited_defaults_or_empty(code, hours):
    product = TherapyProduct.objects.get(code=code)
    assert product.monitoring_window_hours == hours
    if product.code != "other":
        assert product.label_document, "every label fact is cited"
        assert product.label_url
        assert "centre must check" in product.label_note


@pytest.mark.django_db
def test_unverified_label_advice_is_left_empty_and_says_so():
    for code in ["glofitamab", "mosunetuzumab", "obe-cel"]:
        product = TherapyProduct.objects.get(code=code)
        assert product.hospitalisation_advice == ""
        assert "could not be verified" in product.label_note


@pytest.mark.django_db
def test_the_course_column_keeps_holding_the_code():
    course = CourseFactory(product="teclistamab")

    with connection.cursor() as cursor:
        cursor.execute("SELECT product FROM monitoring_treatmentcourse WHERE id = %s", [course.pk])
        assert cursor.fetchone() == ("teclistamab",)
    assert course.product_id == "teclistamab"


@pytest.mark.django_db
def test_ensure_shipped_products_adds_only_what_is_missing():
    TherapyProduct.objects.filter(code="teclistamab").update(target="edited")
    TreatmentCourse.objects.all().delete()
    TherapyProduct.objects.filter(code="tarlatamab").delete()

    assert products.ensure_shipped_products() == 1
    assert TherapyProduct.objects.get(code="teclistamab").target == "edited"
    assert TherapyProduct.objects.count() == len(product_labels.PRODUCTS)


# --- Day 0 ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("product_class", "day_zero", "english", "spanish"),
    [
        ("car_t", "infusion", "infusion", "infusión"),
        ("tcr_t", "infusion", "infusion", "infusión"),
        ("t_cell_engager", "first_dose", "first dose", "primera dosis"),
        ("other", "infusion", "infusion", "infusión"),
    ],
)
def test_day_0_is_the_first_dose_for_an_engager_and_the_infusion_otherwise(
    product_class, day_zero, english, spanish
):
    product = TherapyProduct(code="x", name="X", product_class=product_class)
    assert product.day_zero == day_zero
    with translation.override("en"):
        assert product.day_zero_label == english
    with translation.override("es"):
        assert product.day_zero_label == spanish


@pytest.mark.django_db
def test_the_course_page_and_the_worklist_say_what_day_0_is(care_client, ward_a):
    engager = CourseFactory(unit=ward_a, product="teclistamab")
    car_t = CourseFactory(unit=ward_a, product="axi-cel")

    page = care_client.get(engager.get_absolute_url()).content.decode()
    assert "Day 0 = first dose," in page
    assert "Days since the first dose (day 0)" in page
    assert "Day 0 = infusion," in care_client.get(car_t.get_absolute_url()).content.decode()

    worklist = care_client.get(reverse("monitoring:nurse-worklist")).content.decode()
    assert "Days since the first dose (day 0)" in worklist
    assert "Days since the infusion (day 0)" in worklist
    assert ">teclistamab</abbr>" in worklist


@pytest.mark.django_db
def test_the_course_page_says_it_in_spanish(care_team_member, ward_a):
    care_team_member.language = "es"
    care_team_member.save()
    client = Client()
    client.force_login(care_team_member)
    engager = CourseFactory(unit=ward_a, product="teclistamab")

    page = client.get(engager.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="es").content.decode()

    assert "Día 0 = primera dosis," in page
    assert "Días desde la primera dosis (día 0)" in page


# --- Admission ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_admission_form_lists_active_products_grouped_by_class(care_client, ward_a):
    TherapyProduct.objects.filter(code="mosunetuzumab").update(is_active=False)

    page = care_client.get(reverse("monitoring:course-start")).content.decode()

    assert '<optgroup label="CAR T-cell therapy">' in page
    assert '<optgroup label="T-cell engager">' in page
    assert '<optgroup label="TCR T-cell therapy">' in page
    assert '<option value="teclistamab">Teclistamab (Tecvayli)</option>' in page
    assert "mosunetuzumab" not in page  # retired
    assert "Day 0: the infusion (cell therapy) or the first dose (T-cell engager)" in page


@pytest.mark.django_db
def test_a_patient_is_admitted_for_a_t_cell_engager(care_client, ward_a):
    response = care_client.post(
        reverse("monitoring:course-start"),
        admission(**{"course-unit": ward_a.pk, "course-product": "epcoritamab"}),
    )

    assert response.status_code == 302
    course = TreatmentCourse.objects.select_related("product").get()
    assert course.product.product_class == "t_cell_engager"
    assert course.day_zero_label == "first dose"
    assert course.protocol_version is not None  # the shipped template applies to every product
    started = AuditEvent.objects.get(action=AuditEvent.Action.COURSE_STARTED)
    assert started.summary.startswith("Epcoritamab (Epkinly) course started")


@pytest.mark.django_db
def test_a_retired_product_cannot_start_a_course(care_client, ward_a):
    TherapyProduct.objects.filter(code="glofitamab").update(is_active=False)

    response = care_client.post(
        reverse("monitoring:course-start"),
        admission(**{"course-unit": ward_a.pk, "course-product": "glofitamab"}),
    )

    assert response.status_code == 400  # the form again, with what was refused
    assert "Select a valid choice" in response.content.decode()
    assert not TreatmentCourse.objects.exists()
    # The service refuses it from anywhere else too.
    course = CourseFactory.build(unit=ward_a, product=therapy_product("glofitamab"))
    with pytest.raises(ValidationError, match="retired"):
        services.check_new_course(course)


@pytest.mark.django_db
def test_the_registry_csv_adds_the_product_class_after_the_older_columns(care_client, ward_a):
    engager = CourseFactory(unit=ward_a, product="teclistamab")
    summary = registry.summaries_for([engager], ids=[engager.pk], now=timezone.now())[engager.pk]

    row = registry.csv_row(engager, summary)

    at = registry.CSV_COLUMNS.index("Product class")
    assert registry.CSV_COLUMNS[at : at + 2] == ["Product class", "Day 0 is"]
    assert at > registry.CSV_COLUMNS.index("Summary as of")  # added after the older columns
    assert registry.CSV_COLUMNS[2] == "Product"  # the columns an import maps keep their place
    assert row[2] == "Teclistamab (Tecvayli)"
    assert row[at : at + 2] == ["T-cell engager", "first dose"]


# --- The admin ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_admin_edits_a_label_rule_and_it_is_audited(it_admin):
    url = change_url("teclistamab")
    data = change_form_data(it_admin, url) | {"monitoring_window_hours": "24"}

    response = it_admin.post(url, data)

    assert response.status_code == 302, response.content.decode()[:3000]
    assert TherapyProduct.objects.get(code="teclistamab").monitoring_window_hours == 24
    event = AuditEvent.objects.get(action=AuditEvent.Action.ADMIN_EDITED)
    assert event.user == it_admin.user
    assert event.details["code"] == "teclistamab"
    assert event.details["changed"] == {"monitoring_window_hours": ["48", "24"]}
    assert "Therapy product teclistamab changed:" in event.summary
    assert "48 → 24" in event.summary
    assert TherapyProduct.history.filter(code="teclistamab").latest().monitoring_window_hours == 24


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"monitoring_window_hours": "0"}, "monitoring_window_hours", "1–720 hours"),
        ({"monitoring_window_hours": "721"}, "monitoring_window_hours", "1–720 hours"),
        ({"label_document": ""}, "label_document", "Name the label"),
        ({"label_url": "not a url"}, "label_url", "Enter a valid URL"),
    ],
)
def test_the_admin_refuses_bad_values_and_keeps_the_rest(it_admin, changes, field, message):
    url = change_url("teclistamab")
    data = change_form_data(it_admin, url) | {"brand": "Renamed"} | changes

    response = it_admin.post(url, data)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert message in " ".join(errors[field])
    assert response.context["adminform"].form["brand"].value() == "Renamed"  # kept
    assert TherapyProduct.objects.get(code="teclistamab").brand == "Tecvayli"  # nothing saved
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_the_admin_adds_a_product_through_the_service(it_admin):
    response = it_admin.post(
        reverse("admin:monitoring_therapyproduct_add"),
        {
            "code": "odronextamab",
            "name": "Odronextamab",
            "brand": "",
            "product_class": "t_cell_engager",
            "target": "CD20",
            "hospitalisation_advice": "",
            "step_up_schedule": "",
            "monitoring_window_hours": "",
            "label_document": "",
            "label_version": "",
            "label_url": "",
            "label_note": "",
            "is_active": "on",
        },
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    assert TherapyProduct.objects.get(code="odronextamab").day_zero == "first_dose"
    event = AuditEvent.objects.get(action=AuditEvent.Action.ADMIN_EDITED)
    assert event.summary == "Therapy product added: odronextamab — Odronextamab (T-cell engager)"


@pytest.mark.django_db
def test_the_other_product_keeps_its_class_and_codes_never_change():
    other = TherapyProduct.objects.get(code="other")
    other.product_class = "car_t"
    with pytest.raises(ValidationError) as refused:
        products.check_product(other, old_code="other")
    assert "product_class" in refused.value.message_dict

    tec = TherapyProduct.objects.get(code="teclistamab")
    tec.code = "tec"
    with pytest.raises(ValidationError) as refused:
        products.check_product(tec, old_code="teclistamab")
    assert "code" in refused.value.message_dict


@pytest.mark.django_db
def test_a_product_used_by_courses_cannot_be_deleted(it_admin):
    CourseFactory(product="teclistamab")
    url = reverse(
        "admin:monitoring_therapyproduct_delete", args=[therapy_product("teclistamab").pk]
    )

    assert it_admin.post(url, {"post": "yes"}).status_code == 403
    assert TherapyProduct.objects.filter(code="teclistamab").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("role", [User.Role.NURSE, User.Role.CARE_TEAM, User.Role.CHARGE_NURSE])
def test_only_admins_edit_the_product_list(role, ward_a):
    # Even with a staff login and every model permission, a clinical role cannot edit it.
    user = UserFactory(username=f"staff-{role}", role=role, is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(user)
    url = change_url("teclistamab")
    data = {"monitoring_window_hours": "1", "name": "X"}

    assert client.post(url, data).status_code == 403
    assert client.get(reverse("admin:monitoring_therapyproduct_add")).status_code == 403
    assert TherapyProduct.objects.get(code="teclistamab").monitoring_window_hours == 48


@pytest.mark.django_db
def test_a_user_without_an_admin_login_is_sent_to_the_admin_login(nurse_client):
    response = nurse_client.get(change_url("teclistamab"))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


@pytest.mark.django_db
def test_a_course_of_another_unit_is_still_hidden_whatever_its_product(outsider_client, ward_a):
    engager = CourseFactory(unit=ward_a, product="teclistamab")
    assert outsider_client.get(engager.get_absolute_url()).status_code == 404


@pytest.mark.django_db
def test_the_worklist_costs_no_query_per_product(nurse_client, ward_a):
    CourseFactory(unit=ward_a, product="teclistamab")
    url = reverse("monitoring:nurse-worklist")
    nurse_client.get(url)
    baseline = _count(nurse_client, url)
    for code in ["axi-cel", "epcoritamab", "afami-cel", "blinatumomab"]:
        CourseFactory(unit=ward_a, product=code, infused_at=timezone.now() - timedelta(days=2))
    assert _count(nurse_client, url) == baseline


def _count(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)
