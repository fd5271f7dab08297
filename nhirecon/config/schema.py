"""The JSON Schema of the config file, for editors (``nhirecon schema``).

It is the schema of the models of :mod:`.shape`, whose key docstrings are its
descriptions, plus, for each built-in connector, the options that connector takes: an
input that names it (``connector: csv``) may hold those keys beside the shared ones and
no others. A plugin's options are not known here: an input naming a plugin takes any
other key, as the plugin checks its own options when the config is loaded.

The schema is a help for editors; :func:`nhirecon.config.load` is the judge. It checks
what no schema can say (the fields ``correlate`` names, the targets exceptions name),
and reads YAML 1.1, where an unquoted ``no`` is a boolean, while editors read YAML 1.2.
"""

from __future__ import annotations

import ast
import inspect
import itertools
import json
import logging
import re
import textwrap
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, Final

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from nhirecon.config.inputs import IncludeKeys, SourceKeys, TargetKeys
from nhirecon.config.shape import ConfigFile
from nhirecon.connectors import registry
from nhirecon.connectors.base import Connector

log = logging.getLogger(__name__)

DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
FILE_NAME: Final = "nhirecon.schema.json"
"""Where the repository keeps the schema, next to the sample config."""
INPUTS: Final[Mapping[str, type[BaseModel]]] = {
    "SourceKeys": SourceKeys,
    "IncludeKeys": IncludeKeys,
    "TargetKeys": TargetKeys,
}
SHARED_OPTIONS: Final[Mapping[str, str]] = {
    "path": "The export, relative to this config file.",
    "encoding": "auto (default: a byte-order mark decides, else UTF-8), or a codec such as"
    " cp1252 or utf-16-le.",
    "delimiter": "auto (default `,`; an Excel `sep=;` first line is obeyed), or one character.",
    "key": "Where the list of records sits in the document (`value`, `data.identities`).",
}
"""What the options of the file connectors mean, where a connector does not say itself."""
_BULLET = re.compile(r"^\s*- ((?:``\w+``(?:, )?)+): (.*?)(?=^\s*- |\Z)", re.MULTILINE | re.DOTALL)
_SCALARS: Final[Mapping[Any, str]] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    type(None): "null",
}


def json_schema() -> dict[str, Any]:
    """The schema, as a JSON document."""
    described = _Described()
    schema = {"$schema": DIALECT, **described.generate(ConfigFile.__pydantic_core_schema__)}
    if described.unread:
        log.warning(
            "the schema leaves out what the config's keys mean: nhirecon is installed"
            " without the source files that say it (%s)",
            ", ".join(sorted(described.unread)),
        )
    for name, model in INPUTS.items():
        schema["$defs"][name]["allOf"] = [
            _connector_options(connector, model) for connector in registry.BUILTINS.values()
        ]
    unwrapped: dict[str, Any] = _unwrapped(schema)
    return unwrapped


class _Described(GenerateJsonSchema):
    """Pydantic's schema, with each key's docstring as its description.

    Pydantic reads those docstrings itself with ``use_attribute_docstrings``, but as each
    model class is made, in every run that imports the config: about 50 ms of each
    command's start-up, for a text only this schema shows. ``unread`` names the models
    whose source could not be read (nhirecon installed as bytecode only): their keys are
    left without a description."""

    def __init__(self) -> None:
        super().__init__()
        self.unread: set[str] = set()

    def model_schema(self, schema: core_schema.ModelSchema) -> JsonSchemaValue:
        json_schema = super().model_schema(schema)
        model = schema["cls"]
        try:
            said = {
                name: text
                for ancestor in reversed(model.__mro__)
                if issubclass(ancestor, BaseModel) and ancestor is not BaseModel
                for name, text in attribute_docstrings(ancestor).items()
            }
        except OSError:  # installed as bytecode only
            self.unread.add(model.__name__)
            return json_schema
        properties = json_schema.get("properties", {})
        for name, field in model.model_fields.items():
            key = field.alias or name
            if name in said and key in properties:
                properties[key].setdefault("description", said[name])
        return json_schema


def attribute_docstrings(cls: type) -> dict[str, str]:
    """Attribute name → the string literal right below its annotated assignment in the
    body of ``cls`` (its docstring, as PEP 257 calls it), cleaned as
    :func:`inspect.cleandoc` cleans a docstring. Raises :class:`OSError` when the
    class's source cannot be read."""
    body = ast.parse(textwrap.dedent(inspect.getsource(cls))).body[0]
    assert isinstance(body, ast.ClassDef), body
    found = {}
    for statement, after in itertools.pairwise(body.body):
        if (
            isinstance(statement, ast.AnnAssign)
            and isinstance(statement.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            found[statement.target.id] = inspect.cleandoc(after.value.value)
    return found


def _unwrapped(node: Any) -> Any:
    """``node`` with each description on one line: docstrings wrap at 100 columns, an
    editor's pop-up wraps by itself."""
    if isinstance(node, dict):
        return {
            key: " ".join(value.split())
            if key == "description" and isinstance(value, str)
            else _unwrapped(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_unwrapped(item) for item in node]
    return node


def text() -> str:
    """The schema as ``nhirecon schema`` prints it and the repository keeps it."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


def _connector_options(connector: type[Connector], model: type[BaseModel]) -> dict[str, Any]:
    """``if connector is NAME then`` its options, and no key that is neither one of them
    nor one of ``model``'s."""
    options = connector.options()
    hints = typing.get_type_hints(connector.__init__)
    described = _descriptions(connector)
    properties = {}
    for name, parameter in options.items():
        schema = _type_schema(hints.get(name, Any))
        schema["description"] = described.get(name) or SHARED_OPTIONS.get(
            name, f"An option of the {connector.name} connector (see `nhirecon connectors`)."
        )
        if parameter.default is not inspect.Parameter.empty and _plain(parameter.default):
            schema["default"] = parameter.default
        properties[name] = schema
    keys = [field.alias or name for name, field in model.model_fields.items()]
    return {
        "if": {"properties": {"connector": {"const": connector.name}}, "required": ["connector"]},
        "then": {
            "properties": properties,
            "required": [
                name
                for name, parameter in options.items()
                if parameter.default is inspect.Parameter.empty
            ],
            "propertyNames": {"enum": sorted({*keys, *options})},
        },
    }


def _descriptions(connector: type[Connector]) -> dict[str, str]:
    """Option → text, from the ``- ``name``: text`` lines of the constructor's docstring."""
    found = {}
    for names, text in _BULLET.findall(inspect.getdoc(connector.__init__) or ""):
        said = " ".join(text.replace("``", "`").split()).rstrip(";.")
        for name in re.findall(r"``(\w+)``", names):
            found[name] = said
    return found


def _type_schema(hint: Any) -> dict[str, Any]:
    """What a value of the option's annotation may be, as
    :meth:`~nhirecon.connectors.base.Connector.check_options` checks it."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return {"anyOf": [_type_schema(arm) for arm in typing.get_args(hint)]}
    if origin is typing.Literal:
        return {"enum": list(typing.get_args(hint))}
    base = origin or hint
    if base in _SCALARS:
        return {"type": _SCALARS[base]}
    if base in (list, tuple, Sequence):
        args = typing.get_args(hint)
        return {"type": "array", **({"items": _type_schema(args[0])} if args else {})}
    if base in (dict, Mapping):
        return {"type": "object"}
    return {}


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)
