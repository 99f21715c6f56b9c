"""An embedder that takes a moment per call, so a worker can be killed in the middle of its work."""

import time

from dgs_core.backends import HashingEmbedder


class SlowHashingEmbedder(HashingEmbedder):
    calls = 0  # in this process

    def __init__(self, model_name=None, delay: float = 0.0, **options):
        super().__init__(model_name, **options)
        self.delay = float(delay)

    def embed_documents(self, texts):
        type(self).calls += 1
        time.sleep(self.delay)
        return super().embed_documents(texts)
