"""Who may meet whom, and whom a joining user meets: the matching rules of issue 2, pure.

Hard constraints never bend; the interest rule widens with waiting time. :class:`WaitingLine`
indexes one lane of the queue so that a join or a sweep never scans the whole queue.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeAlias

from roulette.identity import Address
from roulette.matchmaking.records import Lane, QueueEntry

__all__ = [
    "MatchPolicy",
    "Pair",
    "WaitingLine",
    "queue_is_full",
    "shares_interest",
    "sweep",
    "waiting_order",
]

_OrderKey: TypeAlias = tuple[float, str]

Pair: TypeAlias = tuple[QueueEntry, QueueEntry]
"""Two users to put in one session: the one that waited longer first."""


def waiting_order(entry: QueueEntry) -> tuple[float, str]:
    """The queue order: longest-waiting first, ties broken by address so the order is total.

    Args:
        entry: a queued user.

    Returns:
        A sort key; a smaller key waited longer.
    """
    return (entry.enqueued_at, entry.address)


def queue_is_full(queued: int, max_queue: int) -> bool:
    """The queue bound, judged only for a joiner who found no partner.

    Pairing wins over the bound: a join that pairs removes a user from the queue, so it is
    never refused, however full the queue. A re-joining user's old entry is removed before
    this is asked, so it never counts against itself. Every lobby (memory, the Redis scripts)
    applies this rule at this point and no other.

    Args:
        queued: users queued now, over all lanes, the joiner not counted.
        max_queue: the most users queued at once.

    Returns:
        True when the joiner must be refused (``queue_full``).
    """
    return queued >= max_queue


def shares_interest(a: QueueEntry, b: QueueEntry) -> bool:
    """True when ``a`` and ``b`` named at least one interest in common."""
    return not a.interests.isdisjoint(b.interests)


@dataclass(frozen=True, slots=True)
class MatchPolicy:
    """The matching rules ("Matching" and "Precise semantics" in issue 2).

    Attributes:
        interest_wait_seconds: once either user has waited this long, interests no longer
            keep two users apart (``INTEREST_WAIT_SECONDS``).
    """

    interest_wait_seconds: float = 10.0

    def is_compatible(self, a: QueueEntry, b: QueueEntry) -> bool:
        """The hard constraints: two users, one lane, and neither excluded the other.

        Args:
            a: one queued user.
            b: another queued user.

        Returns:
            True when ``a`` and ``b`` may ever meet.
        """
        return (
            a.address != b.address
            and a.lane == b.lane
            and b.address not in a.excluded
            and a.address not in b.excluded
        )

    def has_waited_out(self, entry: QueueEntry, now: float) -> bool:
        """True when ``entry`` has waited long enough to accept anyone compatible."""
        return now - entry.enqueued_at >= self.interest_wait_seconds

    def is_acceptable(self, a: QueueEntry, b: QueueEntry, now: float) -> bool:
        """The hard constraints plus the interest rule, at time ``now``.

        An empty interest set means "anyone, at once"; otherwise the two must share an
        interest until one of them has waited ``interest_wait_seconds``.

        Args:
            a: one queued user.
            b: another queued user.
            now: the current time, on the clock of ``enqueued_at``.

        Returns:
            True when ``a`` and ``b`` may be paired now.
        """
        if not self.is_compatible(a, b):
            return False
        if not a.interests or not b.interests or shares_interest(a, b):
            return True
        return self.has_waited_out(a, now) or self.has_waited_out(b, now)

    def choose(
        self, joiner: QueueEntry, waiting: Sequence[QueueEntry], now: float
    ) -> QueueEntry | None:
        """The candidate ``joiner`` is paired with, if any.

        Among acceptable candidates, those sharing an interest with the joiner come first
        (only a joiner who named interests can share one), then the longest-waiting.

        Args:
            joiner: the user looking for a partner.
            waiting: the users already queued (any order).
            now: the current time.

        Returns:
            The chosen candidate, or None when nobody is acceptable.
        """
        acceptable = [c for c in waiting if self.is_acceptable(joiner, c, now)]
        if not acceptable:
            return None
        return min(acceptable, key=lambda c: (not shares_interest(joiner, c), waiting_order(c)))

    def pairs(self, waiting: Sequence[QueueEntry], now: float) -> list[Pair]:
        """Pair queued users greedily, oldest first: the periodic sweep ("rematch").

        Each user not yet paired, oldest first, is paired with :meth:`choose` among the users
        after it; users who gain a partner this way are mostly those whose interest window
        opened since they joined. The lanes are indexed first, so this costs a sort and a few
        comparisons per user rather than a scan per user.

        Args:
            waiting: the queued users, one entry per address (any lanes, any order).
            now: the current time.

        Returns:
            Disjoint pairs ``(waited_longer, other)``, ordered by their first user.
        """
        by_lane: dict[Lane, list[QueueEntry]] = {}
        for entry in waiting:
            by_lane.setdefault(entry.lane, []).append(entry)
        lines = {lane: WaitingLine(self, entries) for lane, entries in by_lane.items()}
        starters = sorted((e for line in lines.values() for e in line), key=waiting_order)
        return sweep(lines, starters, now)


def sweep(
    lines: Mapping[Lane, WaitingLine],
    starters: Iterable[QueueEntry],
    now: float,
    *,
    limit: int | None = None,
) -> list[Pair]:
    """Run the greedy pairing of :meth:`MatchPolicy.pairs` over indexed lanes, in place.

    Paired users are removed from their line; starters left without a partner stay. Users
    who are not starters are only ever chosen as partners. The result equals ``pairs`` over
    everyone in the lines as long as every user who has an acceptable partner queued after
    it is a starter (in the oldest-first walk, the others find nobody).

    Args:
        lines: the lanes, each indexed as a :class:`WaitingLine`.
        starters: the users to find partners for, in waiting order.
        now: the current time.
        limit: stop after this many pairs (None: no limit).

    Returns:
        The pairs made, ``(waited_longer, other)``, in the order they were made.
    """
    made: list[Pair] = []
    set_aside: list[QueueEntry] = []
    for starter in starters:
        if limit is not None and len(made) >= limit:
            break
        line = lines.get(starter.lane)
        current = line.discard(starter.address) if line is not None else None
        if line is None or current is None:
            continue
        partner = line.best_for(current, now)
        if partner is None:
            # Out of the line until the sweep ends, as in the oldest-first greedy walk where
            # a user without a partner is never offered to the later ones.
            set_aside.append(current)
            continue
        line.discard(partner.address)
        older, younger = sorted((current, partner), key=waiting_order)
        made.append((older, younger))
    for entry in set_aside:
        lines[entry.lane].add(entry)
    return made


class WaitingLine:
    """The users queued in one lane, in waiting order, indexed by interest.

    The best candidate for a joiner (per :meth:`MatchPolicy.choose`) is always among a short
    list: for each of the joiner's interests, the longest-waiting compatible user naming it;
    the longest-waiting compatible user with no interests; and the longest-waiting compatible
    user at all (acceptable when either side is flexible or has waited out its window). So a
    join costs a few early-exit scans, not a scan of the lane.

    Args:
        policy: the rules that judge candidates.
        entries: initial users, all of one lane; a later entry of an address replaces an
            earlier one.
    """

    __slots__ = ("_by_interest", "_entries", "_flexible", "_order", "_policy")

    def __init__(self, policy: MatchPolicy, entries: Iterable[QueueEntry] = ()) -> None:
        self._policy = policy
        self._entries: dict[str, QueueEntry] = {e.address: e for e in entries}
        self._order: list[_OrderKey] = sorted(waiting_order(e) for e in self._entries.values())
        self._flexible: list[_OrderKey] = []
        self._by_interest: dict[str, list[_OrderKey]] = {}
        for key in self._order:
            entry = self._entries[key[1]]
            for interest in entry.interests:
                self._by_interest.setdefault(interest, []).append(key)
            if not entry.interests:
                self._flexible.append(key)

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[QueueEntry]:
        """The queued users, longest-waiting first."""
        return (self._entries[address] for _, address in self._order)

    def get(self, address: Address) -> QueueEntry | None:
        """The queued entry of ``address``, if any."""
        return self._entries.get(address)

    def position(self, address: Address) -> int | None:
        """1-based place of ``address`` in waiting order, None when not queued."""
        entry = self._entries.get(address)
        if entry is None:
            return None
        return bisect_left(self._order, waiting_order(entry)) + 1

    def add(self, entry: QueueEntry) -> None:
        """Queue ``entry``, replacing the user's earlier entry if there is one."""
        old = self._entries.get(entry.address)
        if old is not None and (waiting_order(old), old.interests) == (
            waiting_order(entry),
            entry.interests,
        ):
            self._entries[entry.address] = entry  # only ``excluded`` changed: keep the indexes
            return
        self.discard(entry.address)
        key = waiting_order(entry)
        self._entries[entry.address] = entry
        insort(self._order, key)
        for interest in entry.interests:
            insort(self._by_interest.setdefault(interest, []), key)
        if not entry.interests:
            insort(self._flexible, key)

    def discard(self, address: Address) -> QueueEntry | None:
        """Remove the user's entry; return it, or None when the user was not queued."""
        entry = self._entries.pop(address, None)
        if entry is None:
            return None
        key = waiting_order(entry)
        _remove(self._order, key)
        for interest in entry.interests:
            keys = self._by_interest[interest]
            _remove(keys, key)
            if not keys:
                del self._by_interest[interest]
        if not entry.interests:
            _remove(self._flexible, key)
        return entry

    def waited_out(self, now: float) -> Iterator[QueueEntry]:
        """The users whose interest window is open at ``now``, longest-waiting first."""
        for entry in self:
            if not self._policy.has_waited_out(entry, now):
                return
            yield entry

    def best_for(self, joiner: QueueEntry, now: float) -> QueueEntry | None:
        """The candidate :meth:`MatchPolicy.choose` would pick for ``joiner`` in this lane."""
        lists = [self._by_interest.get(interest, []) for interest in joiner.interests]
        lists += [self._flexible, self._order]
        shortlist = [c for keys in lists if (c := self._first_compatible(keys, joiner)) is not None]
        return self._policy.choose(joiner, shortlist, now)

    def _first_compatible(self, keys: list[_OrderKey], joiner: QueueEntry) -> QueueEntry | None:
        # Stops at the first hit: only exclusions and the joiner itself are skipped.
        for _, address in keys:
            entry = self._entries[address]
            if self._policy.is_compatible(joiner, entry):
                return entry
        return None


def _remove(keys: list[_OrderKey], key: _OrderKey) -> None:
    index = bisect_left(keys, key)
    assert keys[index] == key, "waiting line index out of step with its entries"
    del keys[index]
