"""``wot driver brainflow``: any BrainFlow board → typed LSL streams (ECG, PPG, EDA, ACC).

BrainFlow (https://brainflow.org) reads some 70 boards (OpenBCI Cyton/Ganglion, EmotiBit, Muse,
Shimmer, ...) behind one API and describes each of them: which rows of its data array hold
which kind of signal, in which *preset* (a board with several sampling rates keeps each rate's
data in its own buffer: ``default``, ``auxiliary``, ``ancillary``), at which rate, and where the
timestamps are. This driver publishes what that description names, one LSL stream per kind:

=====  =========================  ========  ===========================================
type   BrainFlow channels          unit      notes
=====  =========================  ========  ===========================================
ECG    ``ecg_channels``             ``uV``    BrainFlow returns ExG in µV
PPG    ``ppg_channels``             ``a.u.``  raw photodetector values
EDA    ``eda_channels``             ``uS``    µS (EmotiBit); ``--eda-unit`` if a board differs
ACC    first 3 ``accel_channels``   ``g``     x, y, z
=====  =========================  ========  ===========================================

A kind with several channels publishes them all, labelled ``ECG0``, ``ECG1``, ... in BrainFlow's
order (boards that cannot tell ExG channels apart, such as Cyton, list every ExG channel as
ECG). The engine reads channel 0 of a stream, so ``--ecg-channel K`` (``--ppg-channel``,
``--eda-channel``) puts channel K (0-based) first; the others follow in BrainFlow's order.

With ``--preset auto`` (the default) each kind comes from the first preset, in the order
default, auxiliary, ancillary, that has it: on an EmotiBit the accelerometer from the default
preset (25 Hz), PPG from the auxiliary (25 Hz) and EDA from the ancillary (15 Hz). A named
preset takes every kind from that preset only.

Timestamps are BrainFlow's (unix time, from the board or taken by BrainFlow as packets arrive),
mapped to the LSL clock with :class:`~wot_drivers._common.ClockMapper` (drift-corrected,
monotonic) per preset. Stream names are ``{prefix}-ECG`` ..., source ids ``{source_id}-ecg``,
``-ppg``, ``-eda``, ``-acc`` (so ``wot run --source-id SOURCE_ID`` finds them) and
``{source_id}-markers`` for board events: ``stream started: ...``, ``gap start: board lost
(...)``, ``gap end: 12.3 s (board reconnected)``, ``stream stopped``. A board that throws or
stops delivering for ``--stall`` seconds is released and prepared again with exponential
backoff until it comes back or the driver stops.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pylsl

from wot_biofeedback.errors import InputError, WotError
from wot_biofeedback.modalities import MODALITIES

from ._common import Backoff, ClockMapper, MarkerOutlet, make_outlet, run_while

HELP = (
    "bridge any BrainFlow board (OpenBCI, EmotiBit, Muse, synthetic, ...) to LSL: "
    "ECG, PPG, EDA and ACC streams with units, and a Markers stream"
)

_BOARD_KINDS = {
    # BrainFlow's board-description key: (the modality its rows are, the unit BrainFlow gives)
    "ecg_channels": ("ecg", "uV"),
    "ppg_channels": ("ppg", MODALITIES["ppg"].unit),
    "eda_channels": ("eda", MODALITIES["eda"].unit),
    "accel_channels": ("acc", MODALITIES["acc"].unit),
}
KINDS = tuple(m for m, _unit in _BOARD_KINDS.values())
DESCR_KEYS = {m: key for key, (m, _unit) in _BOARD_KINDS.items()}
UNITS = {m: unit for m, unit in _BOARD_KINDS.values()}
PRESETS = {"default": 0, "auxiliary": 1, "ancillary": 2}
PRESET_NAMES = {v: k for k, v in PRESETS.items()}
POLL_S = 0.05
"""Seconds between ``get_board_data`` polls."""
BUFFER_S = 60.0
"""Seconds of data BrainFlow's ring buffer holds between polls (per preset)."""
INSTALL = 'pip install "wot-biofeedback[brainflow]"'


def _brainflow() -> Any:
    """The ``brainflow.board_shim`` module, or an :class:`InputError` saying how to get it."""
    try:
        from brainflow import board_shim
    except ImportError as exc:
        raise InputError(
            f"wot driver brainflow needs the BrainFlow library ({exc}); {INSTALL}"
        ) from None
    return board_shim


# boards and their description --------------------------------------------------------------
def _norm(text: str) -> str:
    return text.strip().upper().replace("-", "_").replace(" ", "_")


def board_names() -> dict[str, int]:
    """BrainFlow's board enum names → ids (``NO_BOARD`` left out)."""
    bs = _brainflow()
    return {b.name: int(b.value) for b in bs.BoardIds if b.name != "NO_BOARD"}


def parse_board(text: str) -> tuple[int, str]:
    """``(board_id, enum name)`` of a board given by id (``-1``) or name, any case, with or
    without the ``_BOARD`` suffix (``synthetic``, ``SYNTHETIC_BOARD``, ``muse-s``).

    Raises
    ------
    InputError
        Naming the bad value, the closest names, and ``--list-boards``.
    """
    names = board_names()
    by_id = {v: k for k, v in names.items()}
    try:
        bid = int(text.strip())
    except ValueError:
        key = _norm(text)
        for cand in (key, f"{key}_BOARD"):
            if cand in names:
                return names[cand], cand
        short = {n.removesuffix("_BOARD"): n for n in names}
        close = difflib.get_close_matches(key.removesuffix("_BOARD"), list(short), n=3)
        hint = f" (did you mean {', '.join(short[c].lower() for c in close)}?)" if close else ""
        raise InputError(
            f"--board {text!r} is not a BrainFlow board{hint}; "
            "`wot driver brainflow --list-boards` lists the names and ids"
        ) from None
    if bid not in by_id:
        raise InputError(
            f"--board {text!r}: BrainFlow has no board with id {bid}; "
            "`wot driver brainflow --list-boards` lists the names and ids"
        )
    return bid, by_id[bid]


def board_slug(name: str) -> str:
    """``SYNTHETIC_BOARD`` → ``synthetic``: the default source_id is ``brainflow-{slug}``."""
    return name.removesuffix("_BOARD").lower().replace("_", "-")


def board_presets(board_id: int) -> list[int]:
    """The presets a board fills, in BrainFlow's preset order (default first)."""
    bs = _brainflow()
    try:
        return sorted(int(p) for p in bs.BoardShim.get_board_presets(board_id))
    except bs.BrainFlowError as exc:
        raise InputError(f"BrainFlow has no description of board {board_id}: {exc}") from None


def board_descr(board_id: int, preset: int) -> dict[str, Any]:
    """BrainFlow's own description of a board's preset (``BoardShim.get_board_descr``)."""
    bs = _brainflow()
    try:
        return dict(bs.BoardShim.get_board_descr(board_id, preset))
    except bs.BrainFlowError as exc:
        raise InputError(
            f"BrainFlow has no description of board {board_id}, preset "
            f"{PRESET_NAMES.get(preset, preset)}: {exc}"
        ) from None


@dataclass(frozen=True)
class StreamPlan:
    """One LSL stream to publish, from BrainFlow's description of the board.

    Attributes
    ----------
    kind : str
        ``ecg``, ``ppg``, ``eda`` or ``acc``; the LSL type is ``kind.upper()``.
    preset : int
        BrainFlow preset the rows are read from (0 default, 1 auxiliary, 2 ancillary).
    rows : tuple of int
        Rows of BrainFlow's data array, in the order published (channel 0 first).
    labels : tuple of str
        Channel labels, one per row.
    unit : str
        Unit written into ``desc/channels/channel/unit``.
    fs : float
        Nominal rate, Hz (BrainFlow's ``sampling_rate`` for the preset).
    timestamp_row : int
        Row of the preset's timestamps (unix time, s).
    """

    kind: str
    preset: int
    rows: tuple[int, ...]
    labels: tuple[str, ...]
    unit: str
    fs: float
    timestamp_row: int

    @property
    def stype(self) -> str:
        return self.kind.upper()

    @property
    def preset_name(self) -> str:
        return PRESET_NAMES.get(self.preset, str(self.preset))


def plan_streams(
    board_id: int,
    preset: str = "auto",
    kinds: Iterable[str] = KINDS,
    first: dict[str, int] | None = None,
    eda_unit: str = UNITS["eda"],
) -> list[StreamPlan]:
    """The streams to publish for a board, from BrainFlow's description of it.

    Parameters
    ----------
    board_id : int
        The board (for the streaming and playback boards: the master board they stand for).
    preset : str
        ``auto``: each kind from the first preset (default, auxiliary, ancillary) that has it;
        or ``default``/``auxiliary``/``ancillary``: every kind from that preset only.
    kinds : iterable of str
        Which of ``ecg``, ``ppg``, ``eda``, ``acc`` to publish when the board has them.
    first : dict, optional
        ``{kind: K}``: put channel K (0-based) of the kind's channels first (the engine reads
        channel 0).
    eda_unit : str
        Unit written for EDA channels.

    Raises
    ------
    InputError
        For a preset the board does not have, or a channel number out of range.
    """
    first = first or {}
    have = board_presets(board_id)
    if preset == "auto":
        order = have
    else:
        if preset not in PRESETS:
            raise InputError(f"--preset {preset!r}: one of auto, {', '.join(PRESETS)}")
        if PRESETS[preset] not in have:
            names = ", ".join(PRESET_NAMES.get(p, str(p)) for p in have)
            raise InputError(f"--preset {preset}: this board has only the {names} preset(s)")
        order = [PRESETS[preset]]
    descrs = {p: board_descr(board_id, p) for p in order}
    plans = []
    for kind in kinds:
        for p in order:
            d = descrs[p]
            rows = [int(r) for r in d.get(DESCR_KEYS[kind], [])]
            if not rows or "timestamp_channel" not in d or "sampling_rate" not in d:
                continue
            if kind == "acc":
                if len(rows) < 3:
                    continue
                rows, labels = rows[:3], ["x", "y", "z"]
            else:
                labels = [f"{kind.upper()}{i}" for i in range(len(rows))]
                k = first.get(kind, 0)
                if not 0 <= k < len(rows):
                    raise InputError(
                        f"--{kind}-channel {k}: the board has {len(rows)} {kind.upper()} "
                        f"channel(s) in its {PRESET_NAMES.get(p, p)} preset (0-{len(rows) - 1})"
                    )
                order_i = [k] + [i for i in range(len(rows)) if i != k]
                rows = [rows[i] for i in order_i]
                labels = [labels[i] for i in order_i]
            plans.append(
                StreamPlan(
                    kind=kind,
                    preset=p,
                    rows=tuple(rows),
                    labels=tuple(labels),
                    unit=eda_unit if kind == "eda" else UNITS[kind],
                    fs=float(d["sampling_rate"]),
                    timestamp_row=int(d["timestamp_channel"]),
                )
            )
            break
    return plans


def describe_boards() -> list[str]:
    """One line per BrainFlow board: id, name, and the streams this driver would publish."""
    lines = []
    for name, bid in sorted(board_names().items(), key=lambda kv: kv[1]):
        try:
            plans = plan_streams(bid)
        except InputError:
            plans = []
        if bid in _META_BOARDS:
            what = "replays/relays another board: needs --master-board"
        else:
            what = (
                ", ".join(f"{p.stype}" + (f"@{p.preset_name}" if p.preset else "") for p in plans)
                or "(no ECG, PPG, EDA or accelerometer channels)"
            )
        lines.append(f"{bid:5d}  {name.lower():34s} {what}")
    return lines


_META_BOARDS = (-3, -2)
"""``PLAYBACK_FILE_BOARD`` and ``STREAMING_BOARD``: described by their ``master_board``."""


# the bridge --------------------------------------------------------------------------------
class BrainFlowBridge:
    """A BrainFlow board published as LSL streams by a reader thread.

    Parameters
    ----------
    board_id : int
        BrainFlow board id.
    plans : list of StreamPlan
        What to publish (:func:`plan_streams`).
    source_id : str
        source_id prefix: streams get ``{source_id}-ecg`` ... and ``{source_id}-markers``.
    name_prefix : str, optional
        Stream name prefix (default: ``source_id``): ``{name_prefix}-ECG`` ...
    params : dict, optional
        Fields of ``BrainFlowInputParams`` (``serial_port``, ``ip_address``, ...).
    configs : sequence of str
        ``config_board`` commands sent after each ``prepare_session`` (e.g. Muse ``p50``).
    poll_s : float
        Seconds between polls of ``get_board_data``.
    stall_s : float
        A board from which no preset has delivered for this long is taken as lost.
    backoff : Backoff, optional
        Delays between attempts to prepare a lost board again.
    on_event : callable, optional
        Called (from the reader thread too) with each event's text, e.g. ``print``.

    Use as a context manager, or :meth:`start` / :meth:`stop`. :attr:`samples` counts what
    each stream published, :attr:`gaps` the times the board was lost; :attr:`error` is set if
    the reader stopped on an unexpected error (it never dies silently).
    """

    def __init__(
        self,
        board_id: int,
        plans: Sequence[StreamPlan],
        source_id: str,
        name_prefix: str | None = None,
        params: dict[str, Any] | None = None,
        configs: Sequence[str] = (),
        poll_s: float = POLL_S,
        stall_s: float = 5.0,
        backoff: Backoff | None = None,
        on_event: Callable[[str], None] | None = None,
        board_name: str = "",
    ) -> None:
        if not plans:
            raise InputError("nothing to publish: the board has no ECG, PPG, EDA or ACC channels")
        self._bs = _brainflow()
        self.board_id = board_id
        self.board_name = board_name or str(board_id)
        self.plans = list(plans)
        self.source_id = source_id
        self.name_prefix = name_prefix or source_id
        self.params = dict(params or {})
        self.configs = list(configs)
        self.poll_s = poll_s
        self.stall_s = stall_s
        self.backoff = backoff or Backoff()
        self.on_event = on_event
        self.presets = sorted({p.preset for p in self.plans})
        self._ts_row = {p.preset: p.timestamp_row for p in self.plans}
        self._mappers = {p: ClockMapper() for p in self.presets}
        fs_max = max(p.fs for p in self.plans)
        self._buffer = max(1000, int(BUFFER_S * fs_max))
        self.board: Any = None  # the BrainFlow BoardShim, once started
        self.outlets: dict[str, pylsl.StreamOutlet] = {}
        self.markers: MarkerOutlet | None = None
        self.samples = {p.kind: 0 for p in self.plans}
        self.gaps = 0
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._prepared = False

    # lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        """Open the board (a failure is an :class:`InputError` that says what to check),
        create the outlets and start the reader thread."""
        if self._thread is not None:
            raise RuntimeError("bridge already started")
        bs = self._bs
        params = bs.BrainFlowInputParams()
        for k, v in self.params.items():
            if not hasattr(params, k):
                raise InputError(f"BrainFlowInputParams has no field {k!r}")
            setattr(params, k, v)
        try:
            self.board = bs.BoardShim(self.board_id, params)
            self._open()
        except bs.BrainFlowError as exc:
            self._release()
            raise InputError(
                f"could not start BrainFlow board {self.board_name}: {exc}. Check that it is "
                "on and in range, and the connection options (--serial-port, --mac-address, "
                "--ip-address, --serial-number); --debug shows BrainFlow's log"
            ) from None
        except BaseException:  # Ctrl-C while connecting: leave no session behind
            self._release()
            raise
        try:
            for p in self.plans:
                self.outlets[p.kind] = make_outlet(
                    f"{self.name_prefix}-{p.stype}",
                    p.stype,
                    list(zip(p.labels, [p.unit] * len(p.labels), strict=True)),
                    p.fs,
                    f"{self.source_id}-{p.kind}",
                    manufacturer="BrainFlow",
                    model=self.board_name,
                )
            self.markers = MarkerOutlet(f"{self.name_prefix}-Markers", f"{self.source_id}-markers")
        except BaseException:
            self._release()
            self.outlets.clear()
            raise
        descr = f"BrainFlow {self.board_name}"
        kinds = ", ".join(p.stype for p in self.plans)
        self._event(f"stream started: {descr} (id {self.board_id}): {kinds}")
        self._thread = threading.Thread(target=self._run, name="wot-brainflow", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the reader (joined with ``timeout``), release the board, close the outlets."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                # still inside a native call (a reconnect can block in prepare_session): it
                # sees the stop when that returns, and releases the board itself; releasing it
                # from here would race that call
                return
        self._release()
        if self.markers is not None:
            self.markers.push("stream stopped")
        self.outlets.clear()
        self.markers = None

    def __enter__(self) -> BrainFlowBridge:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # board session ---------------------------------------------------------------------------
    def _open(self) -> None:
        self.board.prepare_session()
        self._prepared = True
        for cmd in self.configs:
            self.board.config_board(cmd)
        self.board.start_stream(self._buffer)

    def _release(self) -> None:
        if self.board is None or not self._prepared:
            return
        # release stops the stream too; a board that is gone already has nothing to release
        with contextlib.suppress(self._bs.BrainFlowError):
            self.board.release_session()
        self._prepared = False

    # reader ----------------------------------------------------------------------------------
    def _event(self, text: str, timestamp: float | None = None) -> None:
        if self.markers is not None:
            self.markers.push(text, timestamp)
        if self.on_event is not None:
            self.on_event(text)

    def _run(self) -> None:
        try:
            started = last = time.monotonic()
            silent = set(self.presets)  # presets that have not delivered yet
            warned = False
            next_t = time.monotonic()
            while not self._stop.is_set():
                try:
                    got = self._poll(silent)
                except self._bs.BrainFlowError as exc:
                    self._recover(f"BrainFlow error: {exc}", 0.0)
                    last = next_t = time.monotonic()
                    continue
                now = time.monotonic()
                if got:
                    last = now
                elif now - last > self.stall_s:
                    self._recover(f"no data for {now - last:.1f} s", now - last)
                    last = next_t = time.monotonic()
                    continue
                if silent and not warned and got and now - started > self.stall_s:
                    warned = True
                    kinds = ", ".join(p.stype for p in self.plans if p.preset in silent)
                    names = ", ".join(PRESET_NAMES.get(p, str(p)) for p in sorted(silent))
                    self._event(
                        f"no data yet on the {names} preset ({kinds}): the board may need a "
                        "--board-config command to send it"
                    )
                next_t += self.poll_s
                delay = next_t - time.monotonic()
                if delay > 0:
                    self._stop.wait(delay)
                else:
                    next_t = time.monotonic()
        except BaseException as exc:  # never die silently: run() reports it
            self.error = exc
            self._event(f"reader stopped: {exc!r}")

    def _poll(self, silent: set[int]) -> int:
        """Pull every preset's new data and push it; the number of samples pulled."""
        total = 0
        for preset in self.presets:
            data = self.board.get_board_data(preset=preset)
            n = data.shape[1] if data.ndim == 2 else 0
            if n == 0:
                continue
            silent.discard(preset)
            total += n
            arrival = pylsl.local_clock()
            ts = data[self._ts_row[preset]]
            mapper = self._mappers[preset]
            mapper.update(float(ts[-1]), arrival)
            stamps = [mapper.map(float(t)) for t in ts]
            for p in self.plans:
                if p.preset != preset:
                    continue
                chunk = np.ascontiguousarray(data[list(p.rows)].T, dtype=np.float32)
                self.outlets[p.kind].push_chunk(chunk, stamps)
                self.samples[p.kind] += n
        return total

    def _recover(self, why: str, silent_s: float) -> None:
        """Mark the gap (from when data stopped, ``silent_s`` ago), release the board and
        prepare it again with backoff."""
        lost_wall = time.monotonic() - silent_s
        self.gaps += 1
        self._event(f"gap start: board lost ({why})", pylsl.local_clock() - silent_s)
        self._release()
        while not self._stop.is_set():
            if self._stop.wait(self.backoff.next()):
                return
            try:
                self._open()
            except self._bs.BrainFlowError as exc:
                self._release()
                if self.on_event is not None:
                    self.on_event(f"reconnect failed ({exc}); trying again")
                continue
            self.backoff.reset()
            for m in self._mappers.values():
                m.reset()  # the board's clock may have restarted
            self._event(f"gap end: {time.monotonic() - lost_wall:.1f} s (board reconnected)")
            return


# command line ------------------------------------------------------------------------------
def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--board",
        metavar="NAME|ID",
        help="BrainFlow board: name (synthetic, emotibit, ganglion, cyton, muse_s, ...; any "
        "case, _BOARD optional) or numeric id; --list-boards shows them",
    )
    p.add_argument(
        "--list-boards", action="store_true", help="list BrainFlow's boards and what they publish"
    )
    c = p.add_argument_group(
        "connection (BrainFlowInputParams; what each board needs: BrainFlow docs)"
    )
    c.add_argument(
        "--serial-port", default="", help="e.g. /dev/ttyUSB0, COM3 (Cyton, Ganglion dongle)"
    )
    c.add_argument(
        "--mac-address", default="", help="Bluetooth address (Ganglion native, Muse, ...)"
    )
    c.add_argument(
        "--ip-address", default="", help="board or broadcast address (EmotiBit, WiFi shield)"
    )
    c.add_argument(
        "--ip-port", type=int, default=0, help="port of a network board (0: the board's own)"
    )
    c.add_argument(
        "--ip-protocol", choices=("none", "udp", "tcp"), default="none",
        help="protocol of a network board",
    )  # fmt: skip
    c.add_argument(
        "--serial-number", default="", help="device serial number / name (Muse, BrainBit)"
    )
    c.add_argument("--other-info", default="", help="board-specific extra parameter")
    c.add_argument("--file", default="", help="playback board: the recorded file")
    c.add_argument(
        "--master-board",
        default=None,
        metavar="NAME|ID",
        help="streaming/playback board: the board the data comes from",
    )
    c.add_argument(
        "--timeout", type=int, default=0, help="board discovery timeout, s (0: BrainFlow's)"
    )
    c.add_argument(
        "--board-config",
        action="append",
        default=[],
        metavar="CMD",
        help="config_board command sent after connecting (repeatable; e.g. Muse p50)",
    )
    s = p.add_argument_group("streams")
    s.add_argument(
        "--preset",
        choices=("auto", *PRESETS),
        default="auto",
        help="auto: each kind from the first preset that has it (EmotiBit: ACC default, "
        "PPG auxiliary, EDA ancillary); else every kind from this preset",
    )
    s.add_argument(
        "--streams",
        default=",".join(KINDS),
        metavar="KINDS",
        help="which of ecg,ppg,eda,acc to publish when the board has them (default: all)",
    )
    for kind in (k for k in KINDS if MODALITIES[k].width == 1):
        s.add_argument(
            f"--{kind}-channel",
            type=int,
            default=0,
            metavar="K",
            help=f"publish the board's {kind.upper()} channel K (0-based, as wot run's "
            "--*-channel) first: the engine reads channel 0 (default 0)",
        )
    s.add_argument("--eda-unit", default=UNITS["eda"], help="unit of the board's EDA (default uS)")
    s.add_argument(
        "--source-id",
        default=None,
        help="source_id prefix: ID-ecg/-ppg/-eda/-acc/-markers, for wot run --source-id "
        "ID (default brainflow-BOARD)",
    )
    s.add_argument("--name-prefix", default=None, help="stream name prefix (default: --source-id)")
    r = p.add_argument_group("running")
    r.add_argument(
        "--stall",
        type=float,
        default=5.0,
        help="seconds without data after which the board is taken as lost (default 5)",
    )
    r.add_argument("--duration", type=float, default=None, help="stop after S seconds")
    r.add_argument("--debug", action="store_true", help="show BrainFlow's own (verbose) log")


def _kinds(text: str) -> list[str]:
    kinds = [k.strip().lower() for k in text.split(",") if k.strip()]
    bad = [k for k in kinds if k not in KINDS]
    if bad or not kinds:
        raise InputError(f"--streams {text!r}: a comma list of {','.join(KINDS)}")
    return kinds


def _params(args: argparse.Namespace) -> dict[str, Any]:
    params: dict[str, Any] = {
        "serial_port": args.serial_port,
        "mac_address": args.mac_address,
        "ip_address": args.ip_address,
        "ip_port": args.ip_port,
        "ip_protocol": {"none": 0, "udp": 1, "tcp": 2}[args.ip_protocol],
        "serial_number": args.serial_number,
        "other_info": args.other_info,
        "file": args.file,
        "timeout": args.timeout,
    }
    return params


def run(args: argparse.Namespace) -> int:
    bs = _brainflow()
    if args.list_boards:
        print("BrainFlow boards (id, name, streams this driver publishes; @preset if not default):")
        for line in describe_boards():
            print(line)
        return 0
    if not args.board:
        raise InputError(
            "--board NAME|ID is required; `wot driver brainflow --list-boards` lists them"
        )
    if args.duration is not None and args.duration <= 0:
        raise InputError(f"--duration {args.duration!r} must be > 0 s")
    if args.stall <= 0:
        raise InputError(f"--stall {args.stall!r} must be > 0 s")
    board_id, name = parse_board(args.board)
    params = _params(args)
    described = board_id
    if board_id in _META_BOARDS:
        if args.master_board is None:
            raise InputError(f"--board {name.lower()} needs --master-board NAME|ID")
        described, _ = parse_board(args.master_board)
        params["master_board"] = described
    if args.debug:
        bs.BoardShim.enable_dev_board_logger()
    else:  # BrainFlow's default (info) prints every connection attempt's JSON
        bs.BoardShim.set_log_level(int(bs.LogLevels.LEVEL_WARN))
    first = {k: getattr(args, f"{k}_channel") for k in KINDS if MODALITIES[k].width == 1}
    plans = plan_streams(described, args.preset, _kinds(args.streams), first, args.eda_unit)
    if not plans:
        raise InputError(
            f"{name.lower()} has none of the channels asked for ({args.streams}) in BrainFlow's "
            f"description (preset {args.preset}); --list-boards shows what each board has"
        )
    sid = args.source_id or f"brainflow-{board_slug(name)}"
    prefix = args.name_prefix or sid

    def say(text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)

    bridge = BrainFlowBridge(
        board_id, plans, sid, prefix, params, args.board_config, stall_s=args.stall,
        on_event=say, board_name=name,
    )  # fmt: skip
    print(f"connecting to BrainFlow {name} (id {board_id}), to publish as LSL:")
    for p in plans:
        chans = f"{len(p.rows)} ch ({', '.join(p.labels)})" if len(p.rows) > 1 else p.labels[0]
        print(
            f"  {p.stype:4s} {prefix}-{p.stype}  {p.fs:g} Hz  {p.unit}  {chans}  "
            f"[{p.preset_name} preset]  source_id {sid}-{p.kind}"
        )
    print(f"  events {prefix}-Markers  source_id {sid}-markers")
    missing = [k.upper() for k in _kinds(args.streams) if k not in {p.kind for p in plans}]
    if missing:
        print(f"  (no {', '.join(missing)} on this board)")
    have = {p.kind for p in plans}
    ppg = " --ppg-type PPG" if "ppg" in have and "ecg" not in have else ""
    print(f"engine: wot run --source-id {sid}{ppg}")
    try:
        with bridge:
            print("streaming; Ctrl-C stops", flush=True)
            run_while(lambda: bridge.alive, args.duration, 0.2)
    except KeyboardInterrupt:  # while starting or stopping
        print("\nstopped (Ctrl-C)")
    if bridge.error is not None:
        raise WotError(f"the BrainFlow reader stopped: {bridge.error!r}")
    counts = ", ".join(f"{k.upper()} {n}" for k, n in bridge.samples.items())
    print(f"published {counts} samples; board lost {bridge.gaps} time(s)")
    return 0
