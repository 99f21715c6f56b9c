"""The hashing embedder, counting what it embeds in this process (a cluster's work is not counted here)."""

from dgs_core.backends import HashingEmbedder


class CountingEmbedder(HashingEmbedder):
    embedded: list[str] = []

    def embed_documents(self, texts):
        type(self).embedded.extend(texts)
        return super().embed_documents(texts)
