"""Forms, one module per audience, mirroring ``monitoring/views/``.

Forms validate what a person typed and say what is wrong with the allowed range; the clinical
rules themselves live in ``services`` and ``grading``.
"""
