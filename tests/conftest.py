from hypothesis import settings

# The property suite's long run: pytest --hypothesis-profile=axonite-slow tests/properties
# (tests/support/hardening.py multiplies its examples). Registered here, before the option
# is read, because the suite's own folder is collected later.
settings.register_profile("axonite-slow", deadline=None)
