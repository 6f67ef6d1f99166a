"""The literal text a task-id pattern forces at the start of every id it matches (pure).

A scope's ``tasks`` pattern is matched whole (``re.fullmatch``, see ``access.py``), so every id
it covers starts at the pattern's first character: ``producta-.*`` covers only ids starting
with ``producta-``. A listing by such a scope reads the ids under that prefix from an index
(``begins_with``) and checks the whole pattern on those only, instead of reading every id.

The scanner below reads just enough of Python's regular-expression syntax to be sure, and stops
at anything else, so an answer is always a prefix every matching id has (perhaps a shorter one
than possible, never a wrong one):

- a plain character, or an escaped punctuation character (``\\.``, ``\\-``), is literal;
- an atom followed by ``?``, ``*`` or ``{`` may be absent or repeated: it is not part of the
  prefix, and the prefix ends before it; one followed by ``+`` occurs at least once: it is kept,
  and the prefix ends after it;
- ``^`` and ``\\A`` at the start of a branch match where fullmatch starts anyway: skipped;
- ``.``, ``[``, ``(``, ``$``, ``\\d``, ``\\b`` and any other escape of a letter or digit end it;
- a ``|`` outside groups and classes splits the pattern into branches, each with its prefix;
- leading inline flags (``(?i)``, ``(?x)`` …) may change what a character matches: no prefix.
"""

from __future__ import annotations

import string

# Characters with a meaning of their own outside a class; every other character is literal
# (whitespace and ``#`` too: the verbose flag, which would change that, gives no prefix).
_SPECIAL = frozenset(".^$*+?{}[]\\|()")
# Escaped, these stand for themselves; an escaped letter or digit is a class, an anchor, a
# back-reference or a code (``\\d``, ``\\b``, ``\\1``, ``\\x41``), which ends a prefix.
_ESCAPED_LITERALS = frozenset(string.punctuation + " ")
# After an atom: it may be absent (or repeated), so the prefix ends before it.
_OPTIONAL_AFTER = frozenset("?*{")


def literal_prefix(pattern: str) -> str:
    """The longest text this scanner is sure starts every id ``pattern`` matches whole ('' when
    none): with top-level alternatives, the common start of their prefixes."""
    prefixes = _branch_prefixes(pattern)
    if not prefixes:
        return ""
    common = prefixes[0]
    for prefix in prefixes[1:]:
        while not prefix.startswith(common):
            common = common[:-1]
    return common


def search_prefixes(pattern: str) -> tuple[str, ...] | None:
    """The prefixes to look ids up by, one per top-level alternative (the fewest that cover
    them all, sorted), or None when some alternative forces none: then only reading every id
    finds all those ``pattern`` matches."""
    prefixes = _branch_prefixes(pattern)
    if not prefixes or "" in prefixes:
        return None
    # A prefix that starts with another one finds nothing the shorter one does not.
    ordered = sorted(set(prefixes))
    kept: list[str] = []
    for prefix in ordered:
        if not any(prefix.startswith(shorter) for shorter in kept):
            kept.append(prefix)
    return tuple(kept)


def _branch_prefixes(pattern: str) -> list[str]:
    """The prefix of each top-level alternative of ``pattern`` ([] when unsure of the split)."""
    if pattern.startswith("(?") and _leading_flags(pattern):
        return []
    branches = _top_level_branches(pattern)
    return [_prefix_of_branch(branch) for branch in branches] if branches is not None else []


def _leading_flags(pattern: str) -> bool:
    """Whether ``pattern`` starts with an inline flag group such as ``(?i)`` or ``(?aix)``."""
    end = pattern.find(")")
    return end > 2 and all(letter in "aiLmsux-" for letter in pattern[2:end])


def _top_level_branches(pattern: str) -> list[str] | None:
    """``pattern`` split at the ``|`` outside any group or class (None when the groups or
    classes do not close: not a pattern this can be sure of)."""
    branches: list[str] = []
    depth, start, index = 0, 0, 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 2
            continue
        if char == "[":
            index = _class_end(pattern, index)
            if index < 0:
                return None
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                return None
        elif char == "|" and depth == 0:
            branches.append(pattern[start:index])
            start = index + 1
        index += 1
    if depth != 0:
        return None
    branches.append(pattern[start:])
    return branches


def _class_end(pattern: str, start: int) -> int:
    """The index of the ``]`` closing the class opened at ``start`` (-1 when it does not close).
    A ``]`` right after ``[`` or ``[^`` is a member, not the end."""
    index = start + 1
    if index < len(pattern) and pattern[index] == "^":
        index += 1
    if index < len(pattern) and pattern[index] == "]":
        index += 1
    while index < len(pattern):
        if pattern[index] == "\\":
            index += 2
            continue
        if pattern[index] == "]":
            return index
        index += 1
    return -1


def _prefix_of_branch(branch: str) -> str:
    """The literal text every fullmatch of ``branch`` (an alternative without a top-level ``|``)
    starts with."""
    index = 0
    # Anchors at the very start match where a fullmatch starts anyway.
    while True:
        if branch.startswith("^", index):
            index += 1
        elif branch.startswith("\\A", index):
            index += 2
        else:
            break
    prefix: list[str] = []
    while index < len(branch):
        atom, width = _literal_atom(branch, index)
        if atom is None:
            break
        following = branch[index + width : index + width + 1]
        if following and following in _OPTIONAL_AFTER:
            break
        prefix.append(atom)
        if following == "+":
            break
        index += width
    return "".join(prefix)


def _literal_atom(branch: str, index: int) -> tuple[str | None, int]:
    """The literal character at ``index`` and how many pattern characters spell it, or
    (None, 0) when what starts there is not one literal character."""
    char = branch[index]
    if char == "\\":
        escaped = branch[index + 1 : index + 2]
        return (escaped, 2) if escaped and escaped in _ESCAPED_LITERALS else (None, 0)
    if char in _SPECIAL:
        return None, 0
    return char, 1
