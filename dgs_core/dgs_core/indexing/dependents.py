"""Which indexed documents a changed row belongs to: reverse routes derived from the configured paths.

A configured path such as ``album__artist__name`` on ``Track`` means a Track's document includes its
album's artist's name. Walking the path backwards gives, for every model on it, a :class:`Route`:
``Artist`` rows reach Track documents through the lookup ``album__artist``, so renaming an artist
re-indexes ``Track.objects.filter(album__artist=artist)``. A route fires only when one of the fields
it watches changed (the name for the artist; ``artist_id`` for an album, since moving an album to
another artist changes its tracks' text).

Links that live on the changed row itself (a Review's ``product_id`` when Product indexes
``reviews__title``) also route through their *old* value, so the document the row left is
re-indexed as well as the one it joined. Many-to-many links are followed through ``m2m_changed``
and, for an explicit ``through`` model, through its rows' own saves and deletes.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Optional

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models import ForeignObjectRel
from django.db.models.constants import LOOKUP_SEP

from dgs_core.base import document_id
from dgs_core.conf import GraphSearchConfig

log = logging.getLogger("dgs_core.indexing.dependents")

#: ``Route.fields`` value meaning "any field" (the path reads the related object's ``str()``).
ANY_FIELD = None


@dataclass(frozen=True)
class Route:
    """How a change to a row of some source model reaches documents of the indexed model ``target``.

    The changed row leads to *anchor* rows: itself (``key is None``) or the row its field ``key``
    points to. ``lookup`` goes from ``target`` to the anchor model (``""``: the anchors are ``target``
    rows). ``fields`` are the attnames whose change alters the documents (``None``: any).
    """

    target: type[models.Model]
    lookup: str
    key: Optional[str]
    fields: Optional[frozenset[str]]

    @property
    def is_own(self) -> bool:
        """The route from an indexed row to its own document."""
        return self.lookup == "" and self.key is None

    def watches(self, changed: Optional[set[str]]) -> bool:
        if changed is None:
            return True
        return self.fields is ANY_FIELD or bool(self.fields & changed)


@dataclass(frozen=True)
class M2MRoute:
    """A many-to-many link on a path: adding or removing it changes the documents of the rows on the
    ``near`` side (the side closer to ``target``), found through ``lookup``."""

    target: type[models.Model]
    lookup: str
    near_defines_field: bool  # the near side is the model that declares the ManyToManyField
    near_fk: str  # attname of the through model's foreign key to the near side
    far_fk: str


@dataclass
class DependencyGraph:
    """Every route of the configuration, by the (concrete) model whose changes travel along it."""

    routes: dict[type[models.Model], list[Route]] = field(default_factory=dict)
    m2m_routes: dict[type[models.Model], list[M2MRoute]] = field(default_factory=dict)
    indexed: dict[type[models.Model], str] = field(default_factory=dict)  # model -> lower-case label
    skip_fields: dict[type[models.Model], frozenset[str]] = field(default_factory=dict)

    @classmethod
    def build(cls, config: GraphSearchConfig) -> DependencyGraph:
        from dgs_core.indexing.indexer import get_plan

        merged: dict[type[models.Model], dict[tuple, Optional[set[str]]]] = defaultdict(dict)
        m2m: dict[type[models.Model], list[M2MRoute]] = defaultdict(list)
        graph = cls()
        for model_config in config.models:
            target = model_config.model
            graph.indexed[target] = model_config.model_label
            _add(merged, target, (target, "", None), set())  # a new row is always indexed
            for fp in get_plan(model_config).paths:
                _add_path(merged, m2m, target, fp)
            graph.skip_fields[target] = _attnames(target, model_config.skip_update_fields)
        for source, routes in merged.items():
            graph.routes[source] = [
                Route(target, lookup, key, None if fields is ANY_FIELD else frozenset(fields))
                for (target, lookup, key), fields in routes.items()
            ]
            global_skip = _attnames(source, config.auto_index_skip_update_fields)
            graph.skip_fields[source] = graph.skip_fields.get(source, frozenset()) | global_skip
        graph.m2m_routes = {through: list(dict.fromkeys(routes)) for through, routes in m2m.items()}
        return graph

    def watched_fields(self, model: type[models.Model]) -> Optional[frozenset[str]]:
        """Attnames whose old values a save must compare (``None``: every concrete field)."""
        watched: set[str] = set()
        for route in self.routes.get(model, ()):
            if route.fields is ANY_FIELD:
                return None
            watched |= route.fields
            if route.key:
                watched.add(route.key)
        return frozenset(watched)

    # ---------------------------------------------------------------------------------------------
    # From a change to the documents it affects
    # ---------------------------------------------------------------------------------------------

    def changes_for_save(
        self, instance: models.Model, changed: Optional[set[str]], old: dict[str, Any], created: bool
    ) -> dict[str, str]:
        """``{document_id: "index"}`` for a saved row. ``changed`` is ``None`` when unknown (all fields);
        ``old`` holds the previous values of the route keys that changed."""
        model = instance._meta.concrete_model
        if changed is not None:
            changed = changed - self.skip_fields.get(model, frozenset())
        anchors: dict[tuple[type[models.Model], str], set[Any]] = defaultdict(set)
        for route in self.routes.get(model, ()):
            if not (created or route.watches(changed)):
                continue
            if route.key is None:
                # A new row is referenced by nothing yet, so only its own document can include it.
                if instance.pk is not None and (route.is_own or not created):
                    anchors[(route.target, route.lookup)].add(instance.pk)
                continue
            anchors[(route.target, route.lookup)].add(getattr(instance, route.key))
            if route.key in old:
                anchors[(route.target, route.lookup)].add(old[route.key])
        return self._documents(anchors)

    def changes_for_delete(self, instance: models.Model) -> dict[str, str]:
        """``{document_id: "index"}`` of the other documents that include a row about to be deleted."""
        anchors: dict[tuple[type[models.Model], str], set[Any]] = defaultdict(set)
        for route in self.routes.get(instance._meta.concrete_model, ()):
            if not route.is_own:
                anchor = instance.pk if route.key is None else getattr(instance, route.key)
                anchors[(route.target, route.lookup)].add(anchor)
        return self._documents(anchors)

    def changes_for_m2m(self, through: type[models.Model], instance: models.Model, reverse: bool,
                        pk_set: Optional[set[Any]]) -> dict[str, str]:
        """``{document_id: "index"}`` for links added or removed (``pk_set``) or all cleared (``None``)."""
        anchors: dict[tuple[type[models.Model], str], set[Any]] = defaultdict(set)
        for route in self.m2m_routes.get(through, ()):
            # reverse=False: ``instance`` declares the field. It is the near side when the route's near
            # side declares the field, and the far side otherwise.
            if reverse != route.near_defines_field:
                near = {instance.pk}
            elif pk_set is not None:
                near = set(pk_set)
            else:  # clear() from the far side: the near rows it is linked to, read before they go
                links = through._default_manager.filter(**{route.far_fk: instance.pk})
                near = set(links.values_list(route.near_fk, flat=True))
            anchors[(route.target, route.lookup)] |= near
        return self._documents(anchors)

    def _documents(self, anchors: dict[tuple[type[models.Model], str], set[Any]]) -> dict[str, str]:
        documents: dict[str, str] = {}
        for (target, lookup), values in anchors.items():
            values.discard(None)
            if not values:
                continue
            if lookup:
                values = set(
                    target._default_manager.filter(**{f"{lookup}__in": values}).values_list("pk", flat=True).distinct()
                )
            label = self.indexed[target]
            documents.update({document_id(label, pk): "index" for pk in values})
        return documents


def _add(merged, source: type[models.Model], key: tuple, fields: Optional[set[str]]) -> None:
    routes = merged[source]
    if key not in routes:
        routes[key] = fields if fields is ANY_FIELD else set(fields)
    elif routes[key] is not ANY_FIELD:
        routes[key] = ANY_FIELD if fields is ANY_FIELD else routes[key] | fields


def _add_path(merged, m2m, target: type[models.Model], fp) -> None:
    """The routes of one resolved path (see :class:`dgs_core.indexing.traversal.FieldPath`)."""
    chain = [target] + [step.related_model for step in fp.steps]
    for k, model in enumerate(chain):
        lookup = LOOKUP_SEP.join(step.query_name for step in fp.steps[:k])
        if k == len(fp.steps):
            fields = ANY_FIELD if fp.field is None else {fp.field.attname}
        else:
            link = model._meta.get_field(fp.steps[k].query_name)
            # The row's own foreign key to the next model: changing it changes what the document reads.
            fields = {link.attname} if link.concrete and not link.many_to_many else set()
        if fields is ANY_FIELD or fields:
            _add(merged, model, (target, lookup, None), fields)
        if k == 0:
            continue
        previous = chain[k - 1]
        near_lookup = LOOKUP_SEP.join(step.query_name for step in fp.steps[: k - 1])
        link = previous._meta.get_field(fp.steps[k - 1].query_name)
        if link.many_to_many:
            _add_m2m(merged, m2m, target, near_lookup, link)
        elif isinstance(link, ForeignObjectRel):
            # A reverse foreign key: the key lives on this row and points back along the path.
            key = link.field.attname
            _add(merged, model, (target, near_lookup, key), {key})


def _add_m2m(merged, m2m, target: type[models.Model], near_lookup: str, link) -> None:
    near_defines_field = not isinstance(link, ForeignObjectRel)
    m2m_field = link if near_defines_field else link.field
    through = m2m_field.remote_field.through
    names = (m2m_field.m2m_field_name(), m2m_field.m2m_reverse_field_name())
    near_name, far_name = names if near_defines_field else names[::-1]
    near_fk = through._meta.get_field(near_name).attname
    far_fk = through._meta.get_field(far_name).attname
    m2m[through].append(M2MRoute(target, near_lookup, near_defines_field, near_fk, far_fk))
    if not through._meta.auto_created:  # rows of an explicit through model are saved and deleted directly
        _add(merged, through, (target, near_lookup, near_fk), {near_fk, far_fk})


def _attnames(model: type[models.Model], names) -> frozenset[str]:
    found = set()
    for name in names:
        try:
            attname = getattr(model._meta.get_field(name), "attname", None)
        except FieldDoesNotExist:  # a global skip name this model does not have
            continue
        if attname:
            found.add(attname)
    return frozenset(found)
