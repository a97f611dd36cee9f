"""Fill the database with a small, clinically plausible CAR-T hospital and demo logins."""

from django.core.management.base import BaseCommand, CommandError

from monitoring import demo
from monitoring.demo.engagers import ENGAGER_COURSES
from monitoring.demo.home import caregiver_login_text


class Command(BaseCommand):
    help = "Create demo users and a demo hospital of CAR-T patients with graded histories."

    def add_arguments(self, parser):
        parser.add_argument(
            "--patients",
            type=int,
            default=12,
            help=f"number of CAR-T patients (12); {ENGAGER_COURSES} T-cell engager courses "
            "are added",
        )
        parser.add_argument("--units", type=int, default=2, help="number of units (2)")
        parser.add_argument(
            "--days", type=int, default=14, help="days since infusion range from 0 to DAYS-1 (14)"
        )
        parser.add_argument("--seed", type=int, default=2026, help="random seed (2026)")
        parser.add_argument(
            "--workers",
            type=int,
            default=None,
            help="processes simulating the courses (default: none, one process; workers are "
            "experimental: their rows differed from one process's in a test)",
        )

    def handle(self, *, patients, units, days, seed, workers, **options):
        for name, value in (("--patients", patients), ("--units", units), ("--days", days)):
            if value < 1:
                raise CommandError(f"{name} must be at least 1.")
        if workers is not None and workers < 0:
            raise CommandError("--workers must be 0 or more.")
        result = demo.seed(patients=patients, units=units, days=days, seed=seed, workers=workers)
        names = ", ".join(username for username, *_ in demo.DEMO_USERS)
        logins = f"Logins {names}; password {demo.DEMO_PASSWORD}."
        caregiver = caregiver_login_text()
        if caregiver:
            logins += "\n" + caregiver
        if not result.created:
            self.stdout.write(result.message)
            self.stdout.write(logins)
            return
        for label, count in result.counts.items():
            self.stdout.write(f"  {label:<20} {count:>9,}")
        self.stdout.write(self.style.SUCCESS(f"Demo hospital created in {result.seconds:.1f} s."))
        self.stdout.write(logins)
