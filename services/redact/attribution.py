"""Give each recognised word the speaker who talks during it (pure Python, no torch).

Used by the redaction service to build the speaker-attributed transcript from
``ChunkTranscript`` words and ``SpeakerTurns`` turns (both plain Avro dicts with ``start_s`` /
``end_s``). A word takes the speaker whose turns overlap it the most; a word that falls in a
gap between turns takes the nearest turn's speaker (ties go to the earlier turn). A word that
carries a ``channel`` only considers turns of that channel (or without one), which is how a
stereo call's customer words never take the agent's turn during crosstalk; ``channel`` given
to the function overrides the words' own.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["attribute_words"]


def attribute_words(
    words: Iterable[Mapping[str, Any]],
    turns: Iterable[Mapping[str, Any]],
    channel: int | None = None,
) -> list[dict[str, Any]]:
    """Copies of ``words`` with ``speaker`` set (None only when there is no turn at all)."""
    turns = list(turns)
    indexes: dict[Any, _TurnIndex] = {}

    def index_for(ch: Any) -> _TurnIndex:
        if ch not in indexes:
            own = [t for t in turns if ch is None or t.get("channel") in (None, ch)]
            indexes[ch] = _TurnIndex(own or turns)  # a channel nobody was heard on: any turn
        return indexes[ch]

    out = []
    for word in words:
        ch = channel if channel is not None else word.get("channel")
        out.append(dict(word, speaker=index_for(ch).speaker_for(word["start_s"], word["end_s"])))
    return out


class _TurnIndex:
    def __init__(self, turns: list[Mapping[str, Any]]) -> None:
        ordered = sorted(
            ((float(t["start_s"]), float(t["end_s"]), str(t["speaker"])) for t in turns),
            key=lambda t: (t[0], t[1]),
        )
        self.turns = ordered
        self.starts = [t[0] for t in ordered]
        self.longest = max((e - s for s, e, _ in ordered), default=0.0)
        # prefix maximum of end times: the turn ending last among turns[:i+1]
        self.prefix_end: list[int] = []
        best = -1
        for i, (_, end, _) in enumerate(ordered):
            if best < 0 or end > ordered[best][1]:
                best = i
            self.prefix_end.append(best)

    def speaker_for(self, start: float, end: float) -> str | None:
        if not self.turns:
            return None
        end = max(end, start)
        hi = bisect_left(self.starts, end)  # turns[:hi] start before the word ends
        overlap: dict[str, float] = {}
        first: dict[str, float] = {}
        i = hi - 1
        while i >= 0 and self.turns[i][0] >= start - self.longest:
            t_start, t_end, speaker = self.turns[i]
            shared = min(end, t_end) - max(start, t_start)
            if shared > 0 or (shared == 0 and start == end and t_start <= start <= t_end):
                overlap[speaker] = overlap.get(speaker, 0.0) + max(shared, 0.0)
                first[speaker] = t_start  # walking backwards: ends on the earliest start
            i -= 1
        if overlap:
            # max overlap; equal overlaps go to the speaker whose turn started first
            return max(overlap, key=lambda spk: (overlap[spk], -first[spk]))
        return self._nearest(start, end, hi)

    def _nearest(self, start: float, end: float, hi: int) -> str:
        before = self.turns[self.prefix_end[hi - 1]] if hi > 0 else None
        after = self.turns[hi] if hi < len(self.turns) else None
        if after is None or (before is not None and start - before[1] <= after[0] - end):
            assert before is not None
            return before[2]
        return after[2]
