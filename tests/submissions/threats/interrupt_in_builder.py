def build_model():
    raise KeyboardInterrupt
