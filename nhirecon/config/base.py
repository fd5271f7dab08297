"""The base of the config's pydantic models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator


class Keys(BaseModel):
    """A mapping of the config file: strict types, unknown keys refused, each key
    described by its docstring (shown by editors through the JSON Schema, which
    :mod:`nhirecon.config.schema` makes)."""

    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        frozen=True,
        field_title_generator=lambda name, field: field.alias or name,
    )

    @model_validator(mode="before")
    @classmethod
    def _null_is_missing(cls, data: Any) -> Any:
        """A required key written with no value (``name:``) is missing, as YAML says."""
        if not isinstance(data, dict):
            return data
        required = {
            field.alias or name for name, field in cls.model_fields.items() if field.is_required()
        }
        return {
            key: value for key, value in data.items() if value is not None or key not in required
        }
