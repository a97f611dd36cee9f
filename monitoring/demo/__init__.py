"""A demo hospital: CAR T-cell courses simulated check by check and graded by the live rules.

``manage.py seed_demo`` calls :func:`seed`. Each patient gets a course plan (when CRS starts, how
far it goes and how long it lasts, the same for ICANS), drawn per product. A simulator then walks
the bedside schedule of reference §6.1 from the infusion until now:

- vital signs and symptoms every 4 h, every 2 h while febrile or at CRS grade ≥ 2;
- ICE (age ≥ 12) or CAPD (age < 12) every 8 h, every 4 h during ICANS or CRS grade ≥ 2;
- labs at 06:00 every day, plus a pre-infusion baseline check.

After each check a simulated CAR-T physician reacts to the *graded* result as ASCO 2021 advises
(reference §7): tocilizumab from CRS grade 2 (or for ICANS with a concurrent CRS fever),
dexamethasone for CRS grade 3 or ICANS grade ≥ 2, paracetamol for some grade 1 fevers.
Treatments change what follows (fever settles after tocilizumab), so the history reads like a
chart. Grades and flags come from the code a live check runs (``timeline.Timeline`` and
``flag_rules``), fed in clinical order from memory: the stored rows are exactly what
``services.record_check`` would have written had each check been entered at its time.

The values are plausible, not real, and nothing here is clinical advice.
"""

from monitoring.demo.seeding import DEMO_PASSWORD, DEMO_USERS, MRN_PREFIX, SeedResult, seed

__all__ = ["DEMO_PASSWORD", "DEMO_USERS", "MRN_PREFIX", "SeedResult", "seed"]
