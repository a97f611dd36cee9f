"""Tiny deterministic factories: sequences for identity, fixed clinical values."""

from datetime import date, timedelta

import factory
from django.utils import timezone

from monitoring.models import Patient, TreatmentCourse, Unit, User
from monitoring.services import protocol_version_for


class UnitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Unit
        django_get_or_create = ["code"]

    name = factory.Sequence(lambda n: f"Ward {n}")
    code = factory.Sequence(lambda n: f"w{n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = "Test"
    last_name = factory.Sequence(lambda n: f"User{n}")
    role = User.Role.NURSE

    @factory.post_generation
    def units(self, create, extracted, **kwargs):
        if create and extracted:
            self.units.set(extracted)


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    mrn = factory.Sequence(lambda n: f"MRN{n:06d}")
    given_name = factory.Sequence(lambda n: f"Given{n}")
    family_name = factory.Sequence(lambda n: f"Family{n}")
    date_of_birth = date(1970, 5, 17)
    sex = Patient.Sex.FEMALE
    weight_kg = 70


class CourseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TreatmentCourse

    patient = factory.SubFactory(PatientFactory)
    unit = factory.SubFactory(UnitFactory)
    product = TreatmentCourse.Product.AXI_CEL
    indication = "Relapsed large B-cell lymphoma"
    infused_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=3))
    # The shipped default protocol (migration 0002), as services.start_course would pick it.
    protocol_version = factory.LazyAttribute(lambda course: protocol_version_for(course.product))
