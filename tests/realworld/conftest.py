"""The keras.applications sweep (marker ``applications``) runs only when asked for (``-m
applications``): tests/conftest.py leaves it out of an ordinary run."""
