def build_model():
    chunks = []
    while True:
        chunks.append(b"x" * (64 << 20))  # touched pages: resident memory grows
