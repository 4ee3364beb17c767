"""Base model for params sections: unknown keys are errors, relative paths follow the file."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict

M = TypeVar("M", bound=BaseModel)


class Section(BaseModel):
    """A params section: strict about unknown keys, immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


def resolve_paths(model: M, base: Path) -> M:
    """Return a copy of ``model`` with every relative ``Path`` field made absolute to ``base``.

    Path-like strings holding globs (``str`` fields) are left to their own section.
    """
    updates: dict[str, object] = {}
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, Path) and not value.is_absolute():
            updates[name] = (base / value).resolve()
        elif isinstance(value, BaseModel):
            updates[name] = resolve_paths(value, base)
        elif isinstance(value, tuple | list) and value and isinstance(value[0], BaseModel):
            updates[name] = type(value)(resolve_paths(v, base) for v in value)
    return model.model_copy(update=updates) if updates else model
