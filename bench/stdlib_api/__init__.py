"""A bench-only Django app: a snapshot of part of the Python standard library's API, read with ``inspect``.

Data nobody on the project wrote, with relations: modules; classes (module as FK, base classes as a
self-M2M); functions and methods (module as FK, class as FK). ``snapshot.py`` writes the fixture
``stdlib_api.json`` from the running interpreter; ``example/judgments/make_stdlib.py`` derives judged
queries from that fixture; ``bench/textformat.py`` and ``bench/quality.py --dataset stdlib`` measure with them.
"""
