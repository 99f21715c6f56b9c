"""Write ``stdlib_api.json`` (a Django fixture) from the running interpreter's standard library.

    python bench/stdlib_api/snapshot.py          # rewrite the fixture (the judgments then need make_stdlib.py)

Public names only (no leading underscore) defined in the module itself (``__module__``), with a docstring.
Each object keeps the first paragraph of its docstring as ``summary`` (what is indexed); the rest of the
docstring is kept out of the index and out of the fixture's indexed fields, in ``body`` of a side file
``stdlib_bodies.json``, because ``make_stdlib.py`` takes its "meaning" queries from it (words the index never
saw). Methods are the public functions in a class's own ``__dict__``.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
import sys
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODULES = [
    "argparse", "base64", "bisect", "bz2", "calendar", "cmath", "codecs", "colorsys", "configparser",
    "contextlib", "copy", "csv", "dataclasses", "datetime", "decimal", "difflib", "email.message", "enum",
    "filecmp", "fnmatch", "fractions", "ftplib", "functools", "getpass", "gettext", "glob", "gzip", "hashlib",
    "heapq", "hmac", "html", "html.parser", "http.client", "http.cookiejar", "imaplib", "ipaddress", "json",
    "locale", "logging", "lzma", "mailbox", "mimetypes", "netrc", "numbers", "operator", "optparse", "os.path",
    "pathlib", "pickle", "platform", "plistlib", "poplib", "pprint", "queue", "quopri", "random", "re", "reprlib",
    "sched", "secrets", "selectors", "shelve", "shlex", "shutil", "smtplib", "socketserver", "sqlite3", "statistics",
    "string", "struct", "subprocess", "tarfile", "tempfile", "textwrap", "threading", "timeit", "tokenize",
    "traceback", "urllib.parse", "urllib.request", "uuid", "warnings", "wave", "weakref", "webbrowser",
    "xml.dom.minidom", "xml.etree.ElementTree", "xmlrpc.client", "zipfile", "zipimport", "zoneinfo",
]


def paragraphs(doc: str | None) -> list[str]:
    text = inspect.cleandoc(doc or "")
    return [" ".join(p.split()) for p in re.split(r"\n\s*\n", text) if p.strip()]


def own(module, obj) -> bool:
    return getattr(obj, "__module__", None) == module.__name__


def main() -> None:
    warnings.simplefilter("ignore")
    rows, bodies = [], {}
    classes: dict[type, int] = {}
    pending_bases: list[tuple[int, type]] = []
    fn_pk = 0
    for module_pk, name in enumerate(MODULES, 1):
        module = importlib.import_module(name)
        parts = paragraphs(module.__doc__)
        rows.append({"model": "stdlib_api.module", "pk": module_pk,
                     "fields": {"name": name, "summary": parts[0] if parts else ""}})
        bodies[f"stdlib_api.module:{module_pk}"] = parts[1:]
        for attr, obj in sorted(vars(module).items()):
            if attr.startswith("_") or not own(module, obj) or not getattr(obj, "__doc__", None):
                continue
            if inspect.isclass(obj):
                if obj in classes:
                    continue
                pk = classes[obj] = len(classes) + 1
                parts = paragraphs(obj.__doc__)
                rows.append({"model": "stdlib_api.klass", "pk": pk,
                             "fields": {"name": obj.__name__, "module": module_pk, "summary": parts[0]}})
                bodies[f"stdlib_api.klass:{pk}"] = parts[1:]
                pending_bases.append((pk, obj))
                for method_name, method in sorted(vars(obj).items()):
                    if isinstance(method, (staticmethod, classmethod)):
                        method = method.__func__
                    if method_name.startswith("_") or not inspect.isfunction(method) or not method.__doc__:
                        continue
                    fn_pk += 1
                    parts = paragraphs(method.__doc__)
                    rows.append({"model": "stdlib_api.function", "pk": fn_pk,
                                 "fields": {"name": method_name, "module": module_pk, "owner": pk,
                                            "summary": parts[0]}})
                    bodies[f"stdlib_api.function:{fn_pk}"] = parts[1:]
            elif inspect.isfunction(obj) or inspect.isbuiltin(obj):
                fn_pk += 1
                parts = paragraphs(obj.__doc__)
                rows.append({"model": "stdlib_api.function", "pk": fn_pk,
                             "fields": {"name": attr, "module": module_pk, "owner": None, "summary": parts[0]}})
                bodies[f"stdlib_api.function:{fn_pk}"] = parts[1:]
    for row in rows:
        if row["model"] == "stdlib_api.klass":
            cls = next(c for c, pk in classes.items() if pk == row["pk"])
            row["fields"]["bases"] = [classes[b] for b in cls.__bases__ if b in classes]
    (HERE / "stdlib_api.json").write_text(json.dumps(rows, indent=0, ensure_ascii=False) + "\n", encoding="utf-8")
    (HERE / "stdlib_bodies.json").write_text(json.dumps(bodies, indent=0, ensure_ascii=False) + "\n",
                                             encoding="utf-8")
    counts = {m: sum(r["model"] == m for r in rows) for m in dict.fromkeys(r["model"] for r in rows)}
    print(f"Python {sys.version.split()[0]}: {counts}")


if __name__ == "__main__":
    main()
