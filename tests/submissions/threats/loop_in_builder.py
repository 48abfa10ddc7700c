def build_model():
    while True:
        pass
