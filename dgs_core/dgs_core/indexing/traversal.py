"""Walk the model graph: resolve ``__`` field paths, discover related text, and read instances in
batches with a select/prefetch plan, so SQL queries grow with the number of paths, not with rows."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Optional

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models.constants import LOOKUP_SEP
from django.db.models.expressions import F, OrderBy

from dgs_core.conf import ModelConfig, did_you_mean
from dgs_core.documents import Section

#: Never indexed, even when named explicitly: the document text is shown to searchers.
SECRET_NAME = re.compile(r"pass(word|wd|phrase)|secret|token|api_?key|private_?key|salt|otp|credential", re.I)
#: Indexed only when named explicitly: personal contact data and numbers that read as noise.
PRIVATE_OR_NOISY_NAME = re.compile(r"e_?mail|phone|fax|zip|postal|post_?code|ip_?addr|iban|ssn", re.I)
#: Text-like field classes that discovery and ``"__all__"`` pick up (subclasses such as EmailField,
#: URLField and FilePathField are excluded below).
TEXT_FIELDS = (models.CharField, models.TextField)
NOT_TEXT_FIELDS = (models.EmailField, models.URLField, models.FilePathField, models.SlugField,
                   models.GenericIPAddressField, models.UUIDField)
#: Apps whose models are never reached by automatic discovery.
DISCOVERY_EXCLUDED_APPS = {"admin", "auth", "contenttypes", "sessions", "dgs_core"}


class FieldPathError(ValueError):
    """A configured path does not resolve; the message says which part and what exists there."""


@dataclass(frozen=True)
class RelationStep:
    query_name: str  # the name used in ``__`` lookups
    accessor: str  # the attribute on the instance (``track_set`` for a reverse FK)
    many: bool
    related_model: type[models.Model]


@dataclass(frozen=True)
class FieldPath:
    """A resolved path: relation steps, then a concrete field (or ``None`` for a relation's ``str()``)."""

    path: str
    steps: tuple[RelationStep, ...]
    field: Optional[models.Field]

    @property
    def many(self) -> bool:
        return any(step.many for step in self.steps)

    @property
    def relation_accessor(self) -> str:
        return LOOKUP_SEP.join(step.accessor for step in self.steps)


def _relation_step(model: type[models.Model], name: str, field: Any) -> Optional[RelationStep]:
    if not field.is_relation:
        return None
    if field.auto_created and not field.concrete:  # reverse relation
        many = not field.one_to_one
        accessor = field.get_accessor_name()
    else:
        many = field.many_to_many
        accessor = field.name
    if field.related_model is None:  # GenericForeignKey: not traversable
        return None
    return RelationStep(name, accessor, many, field.related_model)


def is_secret(field_name: str) -> bool:
    return bool(SECRET_NAME.search(field_name))


@lru_cache(maxsize=1024)
def resolve_path(model: type[models.Model], path: str) -> FieldPath:
    """Resolve ``path`` on ``model`` or raise :class:`FieldPathError` naming the failing part."""
    parts = path.split(LOOKUP_SEP)
    steps: list[RelationStep] = []
    current = model
    for position, name in enumerate(parts):
        try:
            field = current._meta.get_field(name)
        except FieldDoesNotExist:
            choices = sorted(f.name for f in current._meta.get_fields())
            suggestion = did_you_mean(name, choices)
            raise FieldPathError(
                f"{path!r}: {current._meta.label} has no field {name!r}. "
                + (f"{suggestion} " if suggestion else "") + f"Its fields and relations: {', '.join(choices)}."
            ) from None
        last = position == len(parts) - 1
        step = _relation_step(current, name, field)
        if step is None:
            if not last:
                raise FieldPathError(
                    f"{path!r}: {current._meta.label}.{name} is not a relation, so nothing can follow it."
                )
            if is_secret(field.name):
                raise FieldPathError(
                    f"{path!r}: {current._meta.label}.{name} looks like a secret and is never indexed."
                )
            return FieldPath(path, tuple(steps), field)
        steps.append(step)
        current = step.related_model
    return FieldPath(path, tuple(steps), None)


def is_text_field(field: models.Field) -> bool:
    return (
        isinstance(field, TEXT_FIELDS) and not isinstance(field, NOT_TEXT_FIELDS)
    ) or bool(getattr(field, "choices", None))


def own_text_fields(model: type[models.Model]) -> list[str]:
    """Concrete text-like fields of ``model`` that are safe to index without being named."""
    return [
        f.name
        for f in model._meta.concrete_fields
        if not f.is_relation and not f.primary_key and is_text_field(f)
        and not is_secret(f.name) and not PRIVATE_OR_NOISY_NAME.search(f.name)
    ]


def _through_models() -> set[type[models.Model]]:
    from django.apps import apps

    found = set()
    for model in apps.get_models(include_auto_created=True):
        for f in model._meta.local_many_to_many:
            found.add(f.remote_field.through)
    return found


def discover_paths(model: type[models.Model], depth: int) -> list[str]:
    """Text-like field paths reachable from ``model`` through at most ``depth`` relations.

    Follows forward and reverse FK, O2O and M2M links, breadth first. A model already on the
    current route is not entered again (cycle guard), through tables and Django's own apps are
    skipped, and so is the user model (personal data must be named explicitly).
    """
    through = _through_models()
    user_model = settings.AUTH_USER_MODEL.lower()
    paths: list[str] = []
    frontier: list[tuple[str, type[models.Model], tuple[type[models.Model], ...]]] = [("", model, (model,))]
    for _ in range(depth):
        next_frontier = []
        for prefix, current, route in frontier:
            for field in current._meta.get_fields():
                if not field.is_relation or field.related_model is None:
                    continue
                target = field.related_model
                # Cycle guard: never re-enter a model on the route (siblings, back-links), except a forward
                # link to the same model such as ``parent``, which depth bounds.
                self_link = target is current and field.concrete and not field.many_to_many
                if ((target in route and not self_link) or target in through
                        or target._meta.app_label in DISCOVERY_EXCLUDED_APPS or target._meta.label_lower == user_model):
                    continue
                step_prefix = f"{prefix}{field.name}{LOOKUP_SEP}"  # reverse relations: the query name
                paths.extend(step_prefix + f for f in own_text_fields(target))
                next_frontier.append((step_prefix, target, route + (target,)))
        frontier = next_frontier
    return paths


def configured_paths(model_config: ModelConfig, model: type[models.Model]) -> list[str]:
    """Every path the configuration asks for, in order, without duplicates or zero-weight paths."""
    from dgs_core.plugins import get_registry

    paths = list(own_text_fields(model)) if model_config.all_fields else list(model_config.fields)
    if model_config.follow_relations and model_config.relation_depth > 0:
        paths += discover_paths(model, model_config.relation_depth)
    for extra in get_registry().hook.dgs_extra_field_paths(model=model, model_config=model_config):
        paths += list(extra or ())
    weights = model_config.weight_fields
    return [p for p in dict.fromkeys(paths) if weights.get(p, 1.0) > 0]


@lru_cache(maxsize=256)
def stable_order_keys(model: type[models.Model]) -> tuple[tuple[str, bool], ...]:
    """``(attname, descending)`` pairs that order ``model``'s related rows the same way on every database:
    the leading entries of its ``Meta.ordering`` that name its own concrete fields (``"name"``, ``"-year"``,
    ``F("name").desc()``), then its primary key. An entry through a relation or an expression other than a plain
    field ends the list there (those order by the database's collation, which differs between databases), and so
    does ``"?"``; the primary key always breaks ties."""
    keys: list[tuple[str, bool]] = []
    for entry in model._meta.ordering:
        if isinstance(entry, str):
            name, descending = entry.lstrip("-"), entry.startswith("-")
        elif isinstance(entry, OrderBy) and isinstance(entry.expression, F):
            name, descending = entry.expression.name, entry.descending
        elif isinstance(entry, F):
            name, descending = entry.name, False
        else:
            break
        if name == "pk":
            name = model._meta.pk.attname
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:
            break
        # A foreign key entry orders by the related model's ordering in SQL; only its raw id ("artist_id") is plain.
        if not field.concrete or (field.is_relation and name != field.attname):
            break
        keys.append((field.attname, descending))
    pk = model._meta.pk.attname
    if pk not in {attname for attname, _ in keys}:
        keys.append((pk, False))
    return tuple(keys)


def in_stable_order(rows: list[models.Model]) -> list[models.Model]:
    """``rows`` (instances of one model) in :func:`stable_order_keys` order; empty values sort as the largest."""
    if len(rows) < 2:
        return rows
    ordered = rows
    # Stable sorts from the least significant key up give the combined order; ``reverse`` keeps ties stable.
    for attname, descending in reversed(stable_order_keys(type(rows[0]))):
        try:
            ordered = sorted(ordered, key=lambda row: _empty_last(getattr(row, attname)), reverse=descending)
        except TypeError:  # values that do not compare (a JSON field): that key cannot order them
            continue
    return ordered


def _empty_last(value: Any) -> tuple[bool, Any]:
    return (value is None, value)


class TraversalPlan:
    """The select/prefetch plan and the field readers for one configured model."""

    def __init__(self, model_config: ModelConfig) -> None:
        self.model_config = model_config
        self.model = model_config.model
        self.paths = [resolve_path(self.model, p) for p in configured_paths(model_config, self.model)]
        self.filter_paths = [resolve_path(self.model, p) for p in model_config.filter_fields]
        selects, prefetches = set(), set()
        for fp in self.paths + self.filter_paths:
            if not fp.steps:
                continue
            if fp.many:
                prefetches.add(fp.relation_accessor)
            else:
                selects.add(LOOKUP_SEP.join(s.query_name for s in fp.steps))
        # A select path that is a prefix of another is implied by it.
        self.select_related = sorted(s for s in selects if not any(o.startswith(s + LOOKUP_SEP) for o in selects))
        self.prefetch_related = sorted(
            p for p in prefetches if not any(o.startswith(p + LOOKUP_SEP) for o in prefetches)
        )

    def queryset(self, queryset: Optional[models.QuerySet] = None) -> models.QuerySet:
        qs = queryset if queryset is not None else self.model._default_manager.all()
        if self.select_related:
            qs = qs.select_related(*self.select_related)
        if self.prefetch_related:
            qs = qs.prefetch_related(*self.prefetch_related)
        return qs

    def iter_batches(
        self, queryset: Optional[models.QuerySet] = None, batch_size: int = 1000
    ) -> Iterator[list[models.Model]]:
        """Instances in primary-key order, ``batch_size`` at a time, each batch fully prefetched."""
        qs = self.queryset(queryset).order_by("pk")
        last_pk = None
        while True:
            page = qs if last_pk is None else qs.filter(pk__gt=last_pk)
            # One row more than the batch tells whether another page exists without an extra query.
            rows = list(page[: batch_size + 1])
            batch = rows[:batch_size]
            if batch:
                yield batch
            if len(rows) <= batch_size:
                return
            last_pk = batch[-1].pk

    def _leaves(self, instance: models.Model, steps: Sequence[RelationStep]) -> list[models.Model]:
        current = [instance]
        cap = self.model_config.max_related_items
        for step in steps:
            following = []
            for obj in current:
                if step.many:
                    # .all() reads the prefetch cache; the cap bounds text size, not queries. Sorted here, not
                    # by the database, so the text (and its hash) is the same on every database and collation.
                    following.extend(in_stable_order(list(getattr(obj, step.accessor).all()))[:cap])
                else:
                    try:
                        related = getattr(obj, step.accessor)
                    except models.ObjectDoesNotExist:
                        related = None
                    if related is not None:
                        following.append(related)
            current = following
        return current

    def filter_values(self, instance: models.Model) -> dict[str, Any]:
        """Values of the ``filter_fields`` paths, stored as metadata: a scalar, or a list for many-valued paths."""
        from dgs_core.filters import normalize_value

        values: dict[str, Any] = {}
        for fp in self.filter_paths:
            leaves = self._leaves(instance, fp.steps)
            found = [normalize_value(str(leaf) if fp.field is None else fp.field.value_from_object(leaf))
                     for leaf in leaves]
            values[fp.path] = list(dict.fromkeys(found)) if fp.many else (found[0] if found else None)
        return values

    def sections(self, instance: models.Model) -> list[Section]:
        """The instance's text, one :class:`Section` per path that has any, ordered by weight."""
        from dgs_core.plugins import get_registry

        hook = get_registry().hook
        weights = self.model_config.weight_fields
        sections = []
        for fp in self.paths:
            values: list[str] = []
            for leaf in self._leaves(instance, fp.steps):
                if fp.field is None:
                    pieces = [str(leaf)]
                else:
                    value = fp.field.value_from_object(leaf)
                    if fp.field.choices and value not in (None, ""):
                        value = getattr(leaf, f"get_{fp.field.attname}_display")()
                    pieces = hook.dgs_field_text(value=value, field=fp.field, path=fp.path) or []
                values.extend(p for p in pieces if p)
            values = list(dict.fromkeys(values))
            if values:
                sections.append(Section(fp.path, section_label(fp), values, weights.get(fp.path, 1.0)))
        sections.sort(key=lambda s: -s.weight)
        return sections


NAME_LIKE = {"name", "title", "headline", "label"}


def section_label(fp: FieldPath) -> str:
    """A human label for a path: ``Artist`` for ``album__artist__name``, ``Album year`` otherwise."""
    if not fp.steps:
        return str(fp.field.verbose_name).capitalize()
    owner = str(fp.steps[-1].related_model._meta.verbose_name).capitalize()
    if fp.field is None or fp.field.name in NAME_LIKE:
        return owner
    return f"{owner} {fp.field.verbose_name}"
