"""Grammars for constrained CTC decoding: which class may come next, and where a string may end.

`minilpr.nn.decode.constrained_beam_search` grows a prefix only by the classes a grammar allows
and returns only the labellings it accepts. A grammar is any object with ``start``,
``allowed(state) -> (K,) bool``, ``step(state, k) -> state`` and ``accepts(state) -> bool``;
two are here. `Automaton` is a deterministic finite automaton over class indices, built by hand
or, with `Automaton.from_patterns`, from a list of patterns (a set of allowed classes per
position) by the subset construction. `CallableGrammar` asks a function of the prefix instead,
for rules an automaton states awkwardly. Nothing here knows about plates: the plate grammar is
an `Automaton` built from the patterns of `minilpr.data.grammar` in `minilpr.models.plate_ctc`.
"""

from __future__ import annotations

from typing import Callable, Iterable, Sequence

import numpy as np


class Automaton:
    """A deterministic finite automaton over class indices, for constrained decoding.

    States are ``0 .. num_states - 1``; ``0`` is the start. ``transitions[state]`` maps each
    allowed next class to the next state; a state with no entry for a class forbids it.

    Parameters
    ----------
    transitions : sequence of dict[int, int]
        One dict per state.
    accepting : iterable of int
        States where a complete labelling may end.
    num_classes : int
        K, the size of the masks `allowed` returns.
    """

    start = 0

    def __init__(self, transitions: Sequence[dict], accepting: Iterable[int], num_classes: int):
        self.transitions = [dict(t) for t in transitions]
        self.accepting = frozenset(int(s) for s in accepting)
        self.num_classes = int(num_classes)
        self._masks = np.zeros((len(self.transitions), self.num_classes), bool)
        for state, table in enumerate(self.transitions):
            for k, nxt in table.items():
                if not 0 <= k < self.num_classes or not 0 <= nxt < len(self.transitions):
                    raise ValueError(f"Automaton: transition {state} --{k}--> {nxt} leaves the "
                                     f"{self.num_classes} classes or "
                                     f"{len(self.transitions)} states")
                self._masks[state, k] = True
        self._masks.flags.writeable = False  # `allowed` hands out rows: callers must not edit

    @classmethod
    def from_patterns(cls, patterns: Sequence[Sequence[Iterable[int]]],
                      num_classes: int) -> "Automaton":
        """The automaton accepting exactly the strings that match one of ``patterns``.

        A pattern is a sequence of sets: position ``i`` of a matching string holds a class from
        the ``i``-th set. Several patterns are followed at once (each automaton state is the set
        of ``(pattern, position)`` pairs still alive — the subset construction), so patterns may
        share prefixes freely.
        """
        patterns = [[frozenset(int(k) for k in position) for position in p] for p in patterns]
        start = frozenset((i, 0) for i in range(len(patterns)))
        numbers = {start: 0}
        transitions: list[dict] = [{}]
        accepting = []
        queue = [start]
        while queue:
            alive = queue.pop(0)
            number = numbers[alive]
            if any(j == len(patterns[i]) for i, j in alive):
                accepting.append(number)
            symbols = set().union(*[patterns[i][j] for i, j in alive if j < len(patterns[i])])
            for k in sorted(symbols):
                nxt = frozenset((i, j + 1) for i, j in alive
                                if j < len(patterns[i]) and k in patterns[i][j])
                if nxt not in numbers:
                    numbers[nxt] = len(transitions)
                    transitions.append({})
                    queue.append(nxt)
                transitions[number][k] = numbers[nxt]
        return cls(transitions, accepting, num_classes)

    @property
    def num_states(self) -> int:
        return len(self.transitions)

    def allowed(self, state: int) -> np.ndarray:
        """(K,) bool: the classes that may come next."""
        return self._masks[state]

    def step(self, state: int, k: int) -> int:
        return self.transitions[state][k]

    def accepts(self, state: int) -> bool:
        return state in self.accepting

    def matches(self, labels: Iterable[int]) -> bool:
        """True when the whole labelling is accepted."""
        state = self.start
        for k in labels:
            state = self.transitions[state].get(int(k))
            if state is None:
                return False
        return self.accepts(state)

    def __repr__(self) -> str:
        return f"Automaton({self.num_states} states, {len(self.accepting)} accepting, " \
               f"K={self.num_classes})"


class CallableGrammar:
    """A grammar given by a function of the prefix, for rules an automaton states awkwardly.

    Parameters
    ----------
    rule : callable
        ``rule(prefix: tuple of int) -> (allowed next classes, is_complete)``.
    num_classes : int
    """

    start = ()

    def __init__(self, rule: Callable, num_classes: int):
        self.rule = rule
        self.num_classes = int(num_classes)

    def allowed(self, state: tuple) -> np.ndarray:
        mask = np.zeros(self.num_classes, bool)
        mask[list(self.rule(state)[0])] = True
        return mask

    def step(self, state: tuple, k: int) -> tuple:
        return state + (int(k),)

    def accepts(self, state: tuple) -> bool:
        return bool(self.rule(state)[1])
