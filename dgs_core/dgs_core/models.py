"""dgs's own tables."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from dgs_core.ids import DocumentRef


class IndexGeneration(models.Model):
    """Which collection of a vector store answers searches, and which one a rebuild is filling.

    One row per configured store (``store_key``). ``live == ""`` is the store's default collection,
    used until the first ``build_search_index --rebuild``. Kept in the database so every process
    (web workers, task workers, the command) switches at the same moment.

    ``built`` is set by the first write into the live collection (a build, or an indexed change) and by a rebuild's
    switch: from then on a live collection missing from the store has vanished (searches answer 503, ``manage.py
    check`` warns) instead of being a fresh install's index that nothing has filled yet.
    """

    store_key = models.CharField(max_length=255, unique=True)
    live = models.CharField(max_length=64, blank=True, default="")
    pending = models.CharField(max_length=64, blank=True, default="")
    live_embedder = models.JSONField(default=dict, blank=True)
    built = models.BooleanField(default=False)
    started_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("index generation")
        verbose_name_plural = _("index generations")

    def __str__(self) -> str:
        return f"{self.store_key}: live={self.live or 'default'} pending={self.pending or '-'}"


class IndexChange(models.Model):
    """The outbox: one row per document whose index entry must be brought up to date.

    Written in the same transaction as the change it records (by the signal receivers of
    :mod:`dgs_core.indexing.signals`), so a committed change always has its row and a rolled-back one never
    does. Repeated changes of one object update its single row (coalescing). A transport drains the
    table (:func:`dgs_core.indexing.outbox.drain`); a row is deleted once the index reflects it, and kept with
    ``attempts``, ``last_error`` and ``next_attempt_at`` when applying it failed.
    """

    ACTIONS = [("index", _("index")), ("delete", _("delete"))]

    document_id = models.CharField(max_length=255, primary_key=True)  # "app_label.model:pk"
    action = models.CharField(max_length=6, choices=ACTIONS)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    last_error = models.TextField(blank=True, default="")
    # Set when the row changes: a worker that took it earlier must not delete it when done.
    dirty = models.BooleanField(default=True)
    lease = models.CharField(max_length=32, blank=True, default="", db_index=True)
    leased_until = models.DateTimeField(null=True, blank=True)
    changed_at = models.DateTimeField()

    class Meta:
        verbose_name = _("pending index change")
        verbose_name_plural = _("pending index changes")

    def __str__(self) -> str:
        return f"{self.action} {self.document_id}"

    @property
    def ref(self) -> DocumentRef:
        return DocumentRef.parse(self.document_id)

    @property
    def model_label(self) -> str:
        return self.ref.model

    @property
    def object_pk(self) -> str:
        return self.ref.pk


class EmbeddingCacheEntry(models.Model):
    """A vector of the embedding cache (``CACHE["BACKEND"] = "db"``), keyed by embedder and text hash."""

    key = models.CharField(max_length=128, primary_key=True)
    vector = models.BinaryField()
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        verbose_name = _("cached embedding")
        verbose_name_plural = _("cached embeddings")

    def __str__(self) -> str:
        return self.key
