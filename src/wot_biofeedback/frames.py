"""A long run's frames, kept as columns.

An offline analysis keeps every frame of the recording until it writes ``features.csv``,
``states.csv`` and the summary. As Python objects (a :class:`~wot_biofeedback.pipeline.Frame`
with its features and z-score dicts, drivers and explanation) a frame takes about 2 kB: a day
of 4-Hz frames would be about 0.8 GB. :class:`FrameTable` keeps the same frames as typed columns
(one float per feature, the zone as a code, repeated texts once), about 0.4 kB a frame, and
gives each back as the very :class:`Frame` it was given (same keys in the same order, same
values), so code that reads frames one by one does not change.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator
from typing import overload

import numpy as np

from .cues import Cue
from .pipeline import Frame
from .state import StateResult


class _Interned:
    """Each distinct value once, by number."""

    def __init__(self) -> None:
        self.values: list = []
        self._codes: dict = {}

    def code(self, value: object) -> int:
        c = self._codes.get(value)
        if c is None:
            c = self._codes[value] = len(self.values)
            self.values.append(value)
        return c


class _Dicts:
    """Many ``{str: float}`` dicts of few key sets, as one float column per key."""

    def __init__(self) -> None:
        self.keysets = _Interned()  # tuples of keys, in the dicts' own order
        self.which = array("I")  # the keyset of each row
        self.cols: dict[str, array] = {}
        self._all: tuple[str, ...] = ()  # the columns' keys, in order
        self._col_list: list[array] = []  # the columns, in the same order

    def put(self, row: int, d: dict[str, float]) -> None:
        keys = tuple(d)
        code = self.keysets.code(keys)
        if row == len(self.which) and keys == self._all:
            # a new row with every column, in the columns' order (almost every frame)
            self.which.append(code)
            for col, v in zip(self._col_list, d.values(), strict=True):
                col.append(v)
            return
        if row == len(self.which):
            self.which.append(code)
            for col in self.cols.values():
                col.append(np.nan)
        else:
            self.which[row] = code
            for k, col in self.cols.items():  # a key the row no longer has: not kept
                if k not in d:
                    col[row] = np.nan
        for k in keys:
            if k not in self.cols:
                self.cols[k] = array("d", [np.nan]) * len(self.which)
            self.cols[k][row] = float(d[k])
        if len(self.cols) != len(self._all):
            self._all = tuple(self.cols)
            self._col_list = list(self.cols.values())

    def truncate(self, n: int) -> None:
        del self.which[n:]
        for col in self.cols.values():
            del col[n:]

    def get(self, row: int) -> dict[str, float]:
        return {k: self.cols[k][row] for k in self.keysets.values[self.which[row]]}

    def column(self, key: str, default: float) -> np.ndarray:
        col = self.cols.get(key)
        if col is None:
            return np.full(len(self.which), default)
        out = np.frombuffer(col, dtype=np.float64).copy()
        if default == default:  # a default other than NaN: rows without the key get it
            has = np.array([key in ks for ks in self.keysets.values], dtype=bool)
            out[~has[np.frombuffer(self.which, dtype=np.uint32)]] = default
        return out


class FrameTable:
    """A sequence of :class:`Frame`, stored as columns (see the module's docstring).

    Supports ``len``, iteration, ``table[i]`` (a new :class:`Frame` equal to the one stored),
    ``table[a:b]`` (a list of frames), ``table[i] = frame``, :meth:`append`, :meth:`extend`
    and :meth:`truncate`; :meth:`column` and :meth:`zones` give whole columns as arrays.
    """

    def __init__(self, frames: Iterable[Frame] = ()) -> None:
        self._index = array("q")
        self._time = array("d")
        self._features = _Dicts()
        self._z = _Dicts()
        self._state_time = array("d")
        self._zone = array("I")
        self._arousal = array("d")
        self._confidence = array("d")
        self._explanation = array("I")
        self._text = _Interned()  # zones, explanations, driver names and texts
        self._driver_start = array("q", [0])  # the drivers of row i: [start[i], start[i+1])
        self._driver_name = array("I")
        self._driver_value = array("d")
        self._driver_text = array("I")
        self._drivers_of: dict[int, list[tuple[str, float, str]]] = {}  # rows rewritten
        self._cues: dict[int, Cue] = {}
        self.extend(frames)

    def __len__(self) -> int:
        return len(self._time)

    def append(self, f: Frame) -> None:
        self._put(len(self), f)

    def extend(self, frames: Iterable[Frame]) -> None:
        for f in frames:
            self._put(len(self), f)

    def truncate(self, n: int) -> None:
        """Keep the first ``n`` frames (in place: no frame is rebuilt)."""
        n = max(0, min(int(n), len(self)))
        if n == len(self):
            return
        for col in (self._index, self._time, self._state_time, self._zone, self._arousal,
                    self._confidence, self._explanation):  # fmt: skip
            del col[n:]
        for dicts in (self._features, self._z):
            dicts.truncate(n)
        end = self._driver_start[n]
        del self._driver_start[n + 1 :]
        for col in (self._driver_name, self._driver_value, self._driver_text):
            del col[end:]
        for rows in (self._drivers_of, self._cues):
            for i in [i for i in rows if i >= n]:
                del rows[i]

    def _put(self, i: int, f: Frame) -> None:
        st = f.state
        new = i == len(self)
        if new:
            self._index.append(int(f.index))
            self._time.append(float(f.time_s))
            self._state_time.append(float(st.time_s))
            self._zone.append(self._text.code(st.zone))
            self._arousal.append(float(st.arousal))
            self._confidence.append(float(st.confidence))
            self._explanation.append(self._text.code(st.explanation))
            for name, value, text in st.drivers:
                self._driver_name.append(self._text.code(name))
                self._driver_value.append(float(value))
                self._driver_text.append(self._text.code(text))
            self._driver_start.append(len(self._driver_value))
        else:
            self._index[i] = int(f.index)
            self._time[i] = float(f.time_s)
            self._state_time[i] = float(st.time_s)
            self._zone[i] = self._text.code(st.zone)
            self._arousal[i] = float(st.arousal)
            self._confidence[i] = float(st.confidence)
            self._explanation[i] = self._text.code(st.explanation)
            self._drivers_of[i] = [(str(a), float(b), str(c)) for a, b, c in st.drivers]
        self._features.put(i, f.features)
        self._z.put(i, st.z)
        if f.cue is not None:
            self._cues[i] = f.cue
        else:
            self._cues.pop(i, None)

    def _drivers(self, i: int) -> list[tuple[str, float, str]]:
        if i in self._drivers_of:
            return list(self._drivers_of[i])
        text = self._text.values
        return [
            (text[self._driver_name[k]], self._driver_value[k], text[self._driver_text[k]])
            for k in range(self._driver_start[i], self._driver_start[i + 1])
        ]

    def _get(self, i: int) -> Frame:
        state = StateResult(
            time_s=self._state_time[i],
            zone=self._text.values[self._zone[i]],
            arousal=self._arousal[i],
            confidence=self._confidence[i],
            drivers=self._drivers(i),
            explanation=self._text.values[self._explanation[i]],
            z=self._z.get(i),
        )
        return Frame(self._index[i], self._time[i], self._features.get(i), state, self._cues.get(i))

    @overload
    def __getitem__(self, i: int) -> Frame: ...
    @overload
    def __getitem__(self, i: slice) -> list[Frame]: ...
    def __getitem__(self, i: int | slice) -> Frame | list[Frame]:
        if isinstance(i, slice):
            return [self._get(k) for k in range(*i.indices(len(self)))]
        n = len(self)
        k = i + n if i < 0 else i
        if not 0 <= k < n:
            raise IndexError(f"frame {i} of {n}")
        return self._get(k)

    def __setitem__(self, i: int, f: Frame) -> None:
        n = len(self)
        k = i + n if i < 0 else i
        if not 0 <= k < n:
            raise IndexError(f"frame {i} of {n}")
        self._put(k, f)

    def __iter__(self) -> Iterator[Frame]:
        for k in range(len(self)):
            yield self._get(k)

    def __bool__(self) -> bool:
        return len(self) > 0

    # whole columns -----------------------------------------------------------------------
    def times(self) -> np.ndarray:
        """Each frame's time, s."""
        return np.frombuffer(self._time, dtype=np.float64).copy()

    def column(self, feature: str, default: float = np.nan) -> np.ndarray:
        """One feature of every frame (``default`` where a frame does not have it)."""
        return self._features.column(feature, default)

    def arousal(self) -> np.ndarray:
        return np.frombuffer(self._arousal, dtype=np.float64).copy()

    def confidence(self) -> np.ndarray:
        return np.frombuffer(self._confidence, dtype=np.float64).copy()

    def zones(self) -> list[str]:
        text = self._text.values
        return [text[c] for c in self._zone]

    def z_column(self, feature: str) -> np.ndarray:
        """One feature's z value of every frame (NaN where a frame has none)."""
        return self._z.column(feature, np.nan)

    def explanation_codes(self) -> tuple[np.ndarray, list[str]]:
        """Each frame's explanation as a number, and the texts the numbers stand for (a
        session has few distinct explanations, so a writer can treat each text once)."""
        return np.frombuffer(self._explanation, dtype=np.uint32).copy(), list(self._text.values)

    def driver_texts(self, start: int, stop: int) -> list[list[str]]:
        """The drivers' texts of frames ``start`` to ``stop``, each frame's in order."""
        text = self._text.values
        b = self._driver_start
        return [
            [d[2] for d in self._drivers_of[i]]
            if i in self._drivers_of
            else [text[self._driver_text[k]] for k in range(b[i], b[i + 1])]
            for i in range(start, stop)
        ]
