"""Embedded mode (``PATH``): Qdrant Edge, the server's engine in-process, behind the calls the store makes.

The store speaks qdrant-client's calls and models (``qdrant_client.models``) to a server; :class:`EdgeClient`
answers the same calls from Qdrant Edge shards, so both modes share one store, one filter translation and one
keyword analyser. Each collection is one Edge shard, the directory ``<PATH>/<collection>`` in the server's
segment format; its embedder record (a server's collection metadata) is ``<PATH>/<collection>.dgs.json``
beside it, and an alias (a server's collection alias) is a symbolic link ``<PATH>/<alias>`` to the shard, which
tools outside dgs open like any shard.

Edge runs its optimiser (merging segments, building the HNSW graph) only when asked: :meth:`EdgeClient.optimize`.
Until then a shard answers from its appendable segments by exact search, with the payload indexes.

``PATH`` of dgs-qdrant before Edge held qdrant-client's local mode: ``<PATH>/collection/<name>/storage.sqlite``.
Such a collection is refused with the command that rebuilds it (:class:`OldLayoutError`) until it is dropped.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import qdrant_edge as edge
from qdrant_client import models as qm

from dgs_core.exceptions import BackendUnavailable
from dgs_qdrant.filters import FILTER_VALUES

#: File of a shard's configuration, which marks a directory as an Edge shard.
SHARD_MARKER = "edge_config.json"
#: Where qdrant-client's local mode (dgs-qdrant before Edge) kept a collection's points.
OLD_LAYOUT = Path("collection") / "{name}" / "storage.sqlite"

_SCHEMAS = {
    qm.PayloadSchemaType.KEYWORD: edge.PayloadSchemaType.Keyword,
    qm.PayloadSchemaType.INTEGER: edge.PayloadSchemaType.Integer,
    qm.PayloadSchemaType.FLOAT: edge.PayloadSchemaType.Float,
    qm.PayloadSchemaType.BOOL: edge.PayloadSchemaType.Keyword,  # see BOOLEAN_KEYWORDS
    qm.PayloadSchemaType.DATETIME: edge.PayloadSchemaType.Datetime,
}


#: Booleans in the filterable payload, as Edge stores them: qdrant-edge-py 0.9 turns ``MatchValue(False)`` into
#: ``MatchValue(0)``, which no stored boolean equals, so booleans are kept and matched as these keywords.
BOOLEAN_KEYWORDS = {True: "\0true", False: "\0false"}


class OldLayoutError(BackendUnavailable):
    """A collection written by qdrant-client's local mode, which Qdrant Edge cannot read."""


@dataclass(frozen=True)
class Description:
    """What the store reads of a collection: vector size, embedder record, indexed payload keys, sparse vectors."""

    dimension: int
    metadata: dict[str, Any]
    indexed: set[str]
    sparse: set[str]


@dataclass(frozen=True)
class Answer:
    """The shape of qdrant-client's query and count responses."""

    points: list[Any]
    count: int = 0


class EdgeClient:
    """qdrant-client's calls used by :mod:`dgs_qdrant.store`, over the Edge shards in one directory.

    ``directory`` ``None`` is the in-memory mode: shards in a temporary directory (on ``/dev/shm`` when the
    machine has it), deleted by :meth:`close`. Calls are not thread-safe; the shared client serialises them.
    """

    def __init__(self, directory: Optional[str], describe: str) -> None:
        self.describe_location = describe
        self.temporary = directory is None
        if directory is None:
            shm = Path("/dev/shm")
            base = shm if shm.is_dir() and os.access(shm, os.W_OK) else None
            directory = tempfile.mkdtemp(prefix="dgs-qdrant-edge-", dir=base)
        self.root = Path(directory)
        self.root.mkdir(parents=True, exist_ok=True)
        self._shards: dict[str, edge.EdgeShard] = {}

    # -- names, files and shards ------------------------------------------------------------------

    def _resolve(self, name: str) -> str:
        """The collection ``name`` reads: itself, or the collection its alias (a symbolic link) points at."""
        path = self.root / name
        return os.readlink(path) if path.is_symlink() else name

    def _record_path(self, name: str) -> Path:
        return self.root / f"{name}.dgs.json"

    def _check_layout(self, name: str) -> None:
        if not (self.root / name / SHARD_MARKER).exists() and (self.root / str(OLD_LAYOUT).format(name=name)).exists():
            raise OldLayoutError(
                f"{self.describe_location} holds collection {name!r} in the layout of qdrant-client's local mode, "
                "which dgs-qdrant no longer reads (embedded mode now runs Qdrant Edge). Rebuild the index with "
                "`python manage.py build_search_index --rebuild`: it writes a new collection and drops the old one."
            )

    def _shard(self, name: str) -> Optional[edge.EdgeShard]:
        """The open shard of collection ``name`` (through its alias), ``None`` when it does not exist."""
        name = self._resolve(name)
        shard = self._shards.get(name)
        if shard is not None and not (self.root / name / SHARD_MARKER).exists():
            # Deleted behind the open shard, which would go on answering from what it holds in memory.
            self._shards.pop(name).close()
            shard = None
        if shard is None:
            self._check_layout(name)
            if not (self.root / name / SHARD_MARKER).exists():
                return None
            try:
                shard = self._shards[name] = edge.EdgeShard.load(str(self.root / name))
            except Exception as exc:  # the shard's write-ahead log is locked by another process
                raise BackendUnavailable(
                    f"{self.describe_location} is already open in another process ({exc}). Embedded mode serves "
                    "one process: several web workers, a Celery worker or a second manage.py command cannot share "
                    "it. Run a Qdrant server and set VECTOR_STORE['OPTIONS']['URL'] instead of PATH."
                ) from exc
        return shard

    def _existing(self, name: str) -> edge.EdgeShard:
        shard = self._shard(name)
        if shard is None:
            raise KeyError(f"Collection {name!r} not found in {self.describe_location}")
        return shard

    def collection_exists(self, name: str) -> bool:
        return self._shard(name) is not None

    def describe(self, name: str) -> Optional[Description]:
        shard = self._shard(name)
        if shard is None:
            return None
        name = self._resolve(name)
        config = json.loads((self.root / name / SHARD_MARKER).read_text())
        record = self._record_path(name)
        metadata = json.loads(record.read_text()) if record.exists() else {}
        return Description(config["vectors"][""]["size"], metadata, set(shard.info().payload_schema),
                           set(config.get("sparse_vectors") or {}))

    # -- collections ------------------------------------------------------------------------------

    def create_collection(self, name: str, vectors_config: qm.VectorParams,
                          sparse_vectors_config: dict[str, qm.SparseVectorParams],
                          metadata: Optional[dict[str, Any]] = None) -> None:
        self._check_layout(name)
        config = edge.EdgeConfig(
            vectors=edge.EdgeVectorParams(size=vectors_config.size, distance=edge.Distance.Cosine),
            sparse_vectors={key: edge.EdgeSparseVectorParams(modifier=edge.Modifier.Idf)
                            for key in sparse_vectors_config},
        )
        if metadata:
            self.update_collection(name, metadata)
        self._shards[name] = edge.EdgeShard.create(str(self.root / name), config)

    def update_collection(self, name: str, metadata: dict[str, Any]) -> None:
        """The embedder record, written whole to a new file that replaces the old one."""
        path = self._record_path(self._resolve(name))
        spare = path.with_suffix(f".{uuid.uuid4().hex}.tmp")
        spare.write_text(json.dumps(metadata))
        os.replace(spare, path)

    def delete_collection(self, name: str) -> None:
        """The shard (or the old layout's collection), its record, and the aliases pointing at it."""
        if (self.root / name).is_symlink():
            name = self._resolve(name)
        shard = self._shards.pop(name, None)
        if shard is not None:
            shard.close()
        shutil.rmtree(self.root / name, ignore_errors=True)
        shutil.rmtree(self.root / str(OLD_LAYOUT.parent).format(name=name), ignore_errors=True)
        self._record_path(name).unlink(missing_ok=True)
        for alias, target in self._aliases().items():
            if target == name:
                (self.root / alias).unlink()

    def create_payload_index(self, name: str, key: str, schema: qm.PayloadSchemaType) -> None:
        self._existing(name).update(edge.UpdateOperation.create_field_index(key, _SCHEMAS[schema]))

    def get_collections(self) -> qm.CollectionsResponse:
        """The shards, and the old layout's collections (unreadable, but their names are taken until dropped)."""
        names = {p.name for p in self.root.iterdir() if not p.is_symlink() and (p / SHARD_MARKER).exists()}
        old = self.root / OLD_LAYOUT.parts[0]
        names |= {p.name for p in old.iterdir() if (p / OLD_LAYOUT.name).exists()} if old.is_dir() else set()
        names = sorted(names)
        return qm.CollectionsResponse(collections=[qm.CollectionDescription(name=n) for n in names])

    def _aliases(self) -> dict[str, str]:
        return {p.name: os.readlink(p) for p in self.root.iterdir() if p.is_symlink()}

    def get_aliases(self) -> qm.CollectionsAliasesResponse:
        return qm.CollectionsAliasesResponse(aliases=[
            qm.AliasDescription(alias_name=alias, collection_name=target) for alias, target in self._aliases().items()
        ])

    def update_collection_aliases(self, change_aliases_operations: Sequence[qm.AliasOperations]) -> None:
        """Each alias as a relative symbolic link, replaced in one rename so readers never miss it."""
        for operation in change_aliases_operations:
            if isinstance(operation, qm.DeleteAliasOperation):
                (self.root / operation.delete_alias.alias_name).unlink(missing_ok=True)
                continue
            alias, target = operation.create_alias.alias_name, operation.create_alias.collection_name
            if not (self.root / target / SHARD_MARKER).exists():
                raise KeyError(f"Collection {target!r} not found in {self.describe_location}")
            spare = self.root / f".{alias}.{uuid.uuid4().hex}"
            spare.symlink_to(target)
            os.replace(spare, self.root / alias)

    # -- points -----------------------------------------------------------------------------------

    def upsert(self, name: str, points: Sequence[qm.PointStruct], wait: bool = True) -> None:
        shard = self._existing(name)
        shard.update(edge.UpdateOperation.upsert_points(
            [edge.Point(point.id, _vectors(point.vector), _payload(point.payload)) for point in points]
        ))

    def delete(self, name: str, points_selector: qm.PointIdsList | qm.FilterSelector, wait: bool = True) -> None:
        shard = self._existing(name)
        if isinstance(points_selector, qm.PointIdsList):
            shard.update(edge.UpdateOperation.delete_points(list(points_selector.points)))
        else:
            shard.update(edge.UpdateOperation.delete_points_by_filter(to_edge(points_selector.filter)))

    def query_points(self, name: str, query: Any, using: Optional[str], limit: int,
                     query_filter: Optional[qm.Filter], with_payload: list[str],
                     search_params: Optional[qm.SearchParams] = None) -> Answer:
        vector = edge.SparseVector(query.indices, query.values) if isinstance(query, qm.SparseVector) else query
        return Answer(self._existing(name).query(edge.QueryRequest(
            limit=limit, query=edge.Query.Nearest(vector, using=using), with_payload=with_payload,
            filter=to_edge(query_filter) if query_filter else None,
        )))

    def count(self, name: str, count_filter: Optional[qm.Filter], exact: bool = True) -> Answer:
        request = edge.CountRequest(exact=True, filter=to_edge(count_filter) if count_filter else None)
        return Answer([], self._existing(name).count(request))

    def scroll(self, name: str, scroll_filter: Optional[qm.Filter], limit: int, offset: Any,
               with_payload: list[str], with_vectors: bool) -> tuple[list[Any], Any]:
        return self._existing(name).scroll(edge.ScrollRequest(
            offset=offset, limit=limit, filter=to_edge(scroll_filter) if scroll_filter else None,
            with_payload=with_payload, with_vector=with_vectors,
        ))

    def retrieve(self, name: str, ids: list[str], with_payload: list[str], with_vectors: bool) -> list[Any]:
        return self._existing(name).retrieve(ids, with_payload=with_payload, with_vector=with_vectors)

    def optimize(self, name: str) -> bool:
        """Run the shard's optimiser to completion (segments merged, HNSW built); True if it changed anything."""
        return self._existing(name).optimize()

    def close(self) -> None:
        for shard in self._shards.values():
            shard.close()
        self._shards.clear()
        if self.temporary:
            shutil.rmtree(self.root, ignore_errors=True)


def _vectors(vector: Any) -> Any:
    """A point's vectors as Edge takes them: the unnamed dense one, and sparse ones by name."""
    if not isinstance(vector, dict):
        return vector
    return {key: edge.SparseVector(value.indices, value.values) if isinstance(value, qm.SparseVector) else value
            for key, value in vector.items()}


def _keyword(value: Any) -> Any:
    return BOOLEAN_KEYWORDS[value] if isinstance(value, bool) else value


def _payload(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload with the booleans of its filterable copy as :data:`BOOLEAN_KEYWORDS`."""
    values = {key: [_keyword(item) for item in value] if isinstance(value, list) else _keyword(value)
              for key, value in payload[FILTER_VALUES].items()}
    return {**payload, FILTER_VALUES: values}


def _moment(value: Any) -> Optional[str]:
    if isinstance(value, datetime.datetime) and value.tzinfo is None:
        return value.isoformat() + "Z"  # as a server reads a naive datetime: UTC
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    return None if value is None else f"{value.isoformat()}T00:00:00Z"


def to_edge(condition: Any) -> Any:
    """A qdrant-client filter or condition (as :mod:`dgs_qdrant.filters` writes them) as Qdrant Edge's."""
    if isinstance(condition, qm.Filter):
        return edge.Filter(
            must=[to_edge(c) for c in condition.must] if condition.must else None,
            should=[to_edge(c) for c in condition.should] if condition.should else None,
            must_not=[to_edge(c) for c in condition.must_not] if condition.must_not else None,
        )
    if isinstance(condition, qm.IsEmptyCondition):
        return edge.IsEmptyCondition(key=condition.is_empty.key)
    if isinstance(condition.match, qm.MatchValue):
        return edge.FieldCondition(key=condition.key, match=edge.MatchValue(_keyword(condition.match.value)))
    if isinstance(condition.match, qm.MatchAny):
        return edge.FieldCondition(key=condition.key, match=edge.MatchAny(list(condition.match.any)))
    bounds = condition.range
    if isinstance(bounds, qm.DatetimeRange):
        return edge.FieldCondition(key=condition.key, range=edge.RangeDateTime(
            gte=_moment(bounds.gte), gt=_moment(bounds.gt), lte=_moment(bounds.lte), lt=_moment(bounds.lt)))
    return edge.FieldCondition(key=condition.key, range=edge.RangeFloat(
        gte=bounds.gte, gt=bounds.gt, lte=bounds.lte, lt=bounds.lt))
