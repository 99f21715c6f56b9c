"""Write ``example/judgments/stdlib.jsonl``: judged queries over a snapshot of the Python standard library's API.

    python example/judgments/make_stdlib.py            # (re)write stdlib.jsonl next to this script
    python example/judgments/make_stdlib.py --check    # exit 1 if stdlib.jsonl differs from what the data gives

The data is ``bench/stdlib_api/stdlib_api.json`` (modules, classes with their module as FK and base classes
as a self-M2M, functions and methods with module and class as FK; read from the interpreter with
``inspect`` by ``bench/stdlib_api/snapshot.py``), text nobody on this project wrote. As for Chinook
(``make_chinook.py``) no primary key is typed: every query and its relevant set come from a rule applied to
the data, here also the choice of queries (a seeded sample of the rows each rule fits), so the set is not
picked to suit any text format. Four rules, 15 queries each (``pair`` is of kind ``related``, with
``"note": "pair"``, as ``search_eval`` knows the kinds meaning, name and related):

* ``name``: a class or function name that only one object has ("urlsplit");
* ``pair``: a method name that at least three classes have, with its class ("ZipFile extractall"): the
  query's words are split between the object's own name and its FK's;
* ``related``: the methods of a class, the classes of a module, the subclasses of a class (grade 2), with the
  class or module itself (grade 1): the answers are found through their relations;
* ``meaning``: a sentence of an object's docstring *after* its first paragraph, which is the only part
  indexed (``summary``), so the words are the author's but not in the index.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "bench" / "stdlib_api"
OUTPUT = HERE / "stdlib.jsonl"
PER_KIND = 15
SEED = 15
PLAIN_SENTENCE = re.compile(r"^[A-Z][A-Za-z ,'-]+\.$")


def judgments() -> list[dict]:
    rows = json.loads((DATA / "stdlib_api.json").read_text(encoding="utf-8"))
    bodies = json.loads((DATA / "stdlib_bodies.json").read_text(encoding="utf-8"))
    modules = {r["pk"]: r["fields"] for r in rows if r["model"] == "stdlib_api.module"}
    classes = {r["pk"]: r["fields"] for r in rows if r["model"] == "stdlib_api.klass"}
    functions = {r["pk"]: r["fields"] for r in rows if r["model"] == "stdlib_api.function"}
    rng = random.Random(SEED)
    out: list[dict] = []

    def sample(candidates: list, n: int) -> list:
        return rng.sample(sorted(candidates), min(n, len(candidates)))

    # name: names exactly one class or function has
    names: dict[str, list[str]] = defaultdict(list)
    for pk, f in classes.items():
        names[f["name"]].append(f"stdlib_api.klass:{pk}")
    for pk, f in functions.items():
        names[f["name"]].append(f"stdlib_api.function:{pk}")
    unique = [(name, ids[0]) for name, ids in names.items() if len(ids) == 1 and len(name) > 3]
    for name, ref in sample(unique, PER_KIND):
        out.append({"query": name, "kind": "name", "rule": "the one class or function of that name",
                    "relevant": {ref: 2}})

    # pair: a method name shared by >= 3 classes, with its class
    by_method: dict[str, list[int]] = defaultdict(list)
    for pk, f in functions.items():
        if f["owner"]:
            by_method[f["name"]].append(pk)
    shared = [pk for pks in by_method.values() if len({functions[p]["owner"] for p in pks}) >= 3 for pk in pks]
    for pk in sample(shared, PER_KIND):
        f = functions[pk]
        owner = classes[f["owner"]]["name"]
        same = [p for p in by_method[f["name"]] if classes[functions[p]["owner"]]["name"] == owner]
        out.append({"query": f"{owner} {f['name']}", "kind": "related", "note": "pair",
                    "rule": f"the method {f['name']} of the class(es) named {owner}",
                    "relevant": {f"stdlib_api.function:{p}": 2 for p in same}})

    # related: methods of a class, classes of a module, subclasses of a class
    methods: dict[int, list[int]] = defaultdict(list)
    for pk, f in functions.items():
        if f["owner"]:
            methods[f["owner"]].append(pk)
    in_module: dict[int, list[int]] = defaultdict(list)
    for pk, f in classes.items():
        in_module[f["module"]].append(pk)
    subclasses: dict[int, list[int]] = defaultdict(list)
    for pk, f in classes.items():
        for base in f["bases"]:
            subclasses[base].append(pk)
    related = ([("methods", pk) for pk, m in methods.items() if 3 <= len(m) <= 20]
               + [("classes", pk) for pk, c in in_module.items() if 3 <= len(c) <= 20]
               + [("subclasses", pk) for pk, s in subclasses.items() if 3 <= len(s) <= 20])
    for what, pk in sample(related, PER_KIND):
        if what == "methods":
            name = classes[pk]["name"]
            query, rule = f"methods of the {name} class", f"the methods of the class {name} (2), the class (1)"
            relevant = {**{f"stdlib_api.function:{p}": 2 for p in methods[pk]}, f"stdlib_api.klass:{pk}": 1}
        elif what == "classes":
            name = modules[pk]["name"]
            query, rule = f"classes in the {name} module", f"the classes of the module {name} (2), the module (1)"
            relevant = {**{f"stdlib_api.klass:{p}": 2 for p in in_module[pk]}, f"stdlib_api.module:{pk}": 1}
        else:
            name = classes[pk]["name"]
            query, rule = f"subclasses of {name}", f"the classes whose bases include {name} (2), {name} (1)"
            relevant = {**{f"stdlib_api.klass:{p}": 2 for p in subclasses[pk]}, f"stdlib_api.klass:{pk}": 1}
        out.append({"query": query, "kind": "related", "rule": rule, "relevant": relevant})

    # meaning: a plain sentence of the docstring after the indexed first paragraph
    sentences = []
    for ref, parts in bodies.items():
        for part in parts[:2]:
            first = re.split(r"(?<=\.)\s+", part)[0]
            if PLAIN_SENTENCE.match(first) and 7 <= len(first.split()) <= 25:
                sentences.append((first.rstrip("."), ref))
                break
    for sentence, ref in sample(sentences, PER_KIND):
        out.append({"query": sentence, "kind": "meaning",
                    "rule": "the object whose docstring (after its indexed first paragraph) says this",
                    "relevant": {ref: 2}})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 if stdlib.jsonl is not what the data gives")
    args = parser.parse_args()
    text = "".join(json.dumps(j, ensure_ascii=False) + "\n" for j in judgments())
    if args.check:
        if OUTPUT.read_text(encoding="utf-8") != text:
            sys.exit(f"{OUTPUT} is out of date: run {Path(__file__).name}.")
        return
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {len(text.splitlines())} judged queries to {OUTPUT}")


if __name__ == "__main__":
    main()
