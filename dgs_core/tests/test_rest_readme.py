"""The README's REST reference and the generated OpenAPI schema name the same endpoints, methods and parameters."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"

if not README.is_file():
    pytest.skip(f"no README at {README}: dgs-core is installed without the monorepo whose README this checks",
                allow_module_level=True)

#: A row of the endpoint table: | `path` | METHOD | parameters | answers |
ENDPOINT_ROW = re.compile(r"^\| `(/api/search/[^`]*)` \| (GET|POST|DELETE) \| (.*?) \| .* \|$", re.MULTILINE)
#: A parameter in the parameters column: a back-quoted name (labels like `app_label.Model` are examples, not names).
PARAMETER = re.compile(r"`([a-z_]+)`")


def readme_operations() -> dict[tuple[str, str], set[str]]:
    section = README.read_text(encoding="utf-8").split("\n## REST API\n", 1)[1].split("\n## ", 1)[0]
    return {(path, method.lower()): set(PARAMETER.findall(parameters))
            for path, method, parameters in ENDPOINT_ROW.findall(section)}


def schema_operations(schema: dict) -> dict[tuple[str, str], set[str]]:
    """Each operation's query and path parameters and the properties of its JSON body."""
    found = {}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            names = {p["name"] for p in operation.get("parameters", []) if p["in"] in ("query", "path")}
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                component = body["schema"]["$ref"].rsplit("/", 1)[1]
                names |= set(schema["components"]["schemas"][component]["properties"])
            found[path, method] = names
    return found


@pytest.mark.django_db
def test_the_readme_documents_every_endpoint_and_parameter_of_the_schema(client):
    documented = readme_operations()
    assert documented.pop(("/api/search/docs/", "get")) == set()  # the docs page itself is not in the schema
    assert documented == schema_operations(client.get("/api/search/schema/").json())
