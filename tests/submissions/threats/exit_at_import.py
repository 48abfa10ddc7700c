import sys

sys.exit(0)


def build_model():
    return None
