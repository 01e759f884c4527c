"""The JSON Schemas the mock checks against, read from its OpenAPI files in contracts/.

The contracts are the single source of truth (mockserver/contracts is a link to contracts/, and
is shipped as package data), so the mock reads them instead of restating them.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any

import yaml

Json = dict[str, Any]


@cache
def openapi(spec_file: str) -> Json:
    """One OpenAPI document of contracts/, parsed once per process."""
    text = files("mockserver").joinpath("contracts", spec_file).read_text(encoding="utf-8")
    spec: Json = yaml.safe_load(text)
    return spec


def component(spec_file: str, name: str) -> Json:
    """The schema `name` of the document's components, as written (its $refs left as they are)."""
    schema: Json = openapi(spec_file)["components"]["schemas"][name]
    return schema


def with_refs(spec_file: str, name: str) -> Json:
    """The schema `name` as a document of its own in which its "#/components/schemas/..." $refs
    resolve: a $ref to it, beside the components of the OpenAPI document."""
    return {"$ref": f"#/components/schemas/{name}", "components": openapi(spec_file)["components"]}
