"""dgs's own tables."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class IndexGeneration(models.Model):
    """Which collection of a vector store answers searches, and which one a rebuild is filling.

    One row per configured store (``store_key``). ``live == ""`` is the store's default collection,
    used until the first ``build_search_index --rebuild``. Kept in the database so every process
    (web workers, task workers, the command) switches at the same moment.
    """

    store_key = models.CharField(max_length=255, unique=True)
    live = models.CharField(max_length=64, blank=True, default="")
    pending = models.CharField(max_length=64, blank=True, default="")
    live_embedder = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("index generation")
        verbose_name_plural = _("index generations")

    def __str__(self) -> str:
        return f"{self.store_key}: live={self.live or 'default'} pending={self.pending or '-'}"
