"""Names of people who are not parties of the item: third parties, agents, relatives.

Three rules, each general, none about a particular text:

- ``GivenNames``: a known given name (``first_names.txt``) and the surname after it
  ("Tom Baker", "Khadija El Amrani", "kees jansen" in a transcript). In a cased
  text the surname is the capitalised words (particles allowed) after the given
  name; in a lowercase transcript, the next word that is no function word.
- ``CuedNames``: a name after a word that announces one, in a lowercase transcript
  too: a relation ("mijn buurvrouw martine", "mon mari pascal", "my sister amy"), an
  introduction ("u spreekt met linda", "this is james", "c'est ahmed"), or before a
  word that follows one ("oliver speaking", "thomas à votre écoute").
- ``NamesInTokens``: a party's name, or a given name, inside a file name or another
  token ("deboer_factuur_nov.pdf", "IMG_meijer_kast.jpg").

``propagate`` then finds every other occurrence of a name found once (a surname
written alone further on, or inside a file name).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from typing import Final

from archive.anonymise.recognisers.base import Context, Found, Token, stripped_end
from archive.anonymise.recognisers.words import (
    AMBIGUOUS_NAMES,
    first_names,
    is_first_name,
    stop_words,
)

PARTICLES: Final = frozenset({"van", "de", "der", "den", "ter", "ten", "vd", "le", "la", "du",
                             "des", "d'", "l'", "von", "el", "al", "da", "di", "dos", "mac",
                             "mc", "'t"})
#: Courtesy titles before a name (a name follows them, with initials or not).
TITLES: Final = frozenset({"mevrouw", "meneer", "mevr", "dhr", "mw", "mr", "mrs", "ms", "miss",
                           "dr", "madame", "monsieur", "mme", "mlle"})
#: Words announcing a name, by the words before it (casefolded, a comma allowed after).
_CUES_BEFORE: Final = tuple(tuple(c.split()) for c in (
    # relations and roles (nl, fr, en)
    "mijn man", "mijn vrouw", "mijn zus", "mijn broer", "mijn moeder", "mijn vader",
    "mijn zoon", "mijn dochter", "mijn buurman", "mijn buurvrouw", "mijn partner",
    "mijn vriend", "mijn vriendin", "mijn collega", "mijn kleinzoon", "mijn kleindochter",
    "mijn schoonmoeder", "mijn schoonzoon", "haar man", "zijn vrouw", "uw collega",
    "de technieker", "de monteur", "mijn huisgenoot",
    "mon mari", "ma femme", "mon compagnon", "ma compagne", "mon fils", "ma fille",
    "mon frère", "ma sœur", "ma mère", "mon père", "ma voisine", "mon voisin", "mon ami",
    "mon amie", "votre collègue", "le technicien", "mon épouse", "mon époux", "ma collègue",
    "my husband", "my wife", "my sister", "my brother", "my mother", "my father", "my son",
    "my daughter", "my partner", "my neighbour", "my neighbor", "my friend", "my colleague",
    "my grandson", "my granddaughter", "my flatmate", "my housemate", "your agent",
    "your colleague", "the engineer", "engineer called", "agent called", "an engineer called",
    # introductions
    "spreekt met", "u spreekt met", "hier is", "mijn naam is", "ik heet", "met meneer",
    "met mevrouw", "this is", "it's", "it is", "my name is", "speaking with", "through to",
    "c'est", "je m'appelle", "je suis", "en ligne avec", "ici", "avec",
    "goedemorgen met", "goedemiddag met", "goedenavond met", "goedendag met", "hallo met",
    "dag met", "ja met", "hoi met", "goeiedag met",
    # greetings: a word after them that is no function word is a name ("bonjour olivier")
    "bonjour", "hello", "hi", "dear", "hallo", "hoi", "beste", "cher", "chère",
))
_GREETINGS: Final = frozenset({"bonjour", "hello", "hi", "dear", "hallo", "hoi", "beste", "cher",
                               "chère"})
#: Words that follow a name ("oliver speaking", "sophie à votre écoute").
_CUES_AFTER: Final = {
    "nl": tuple(tuple(c.split()) for c in ("hier", "van de klantenservice",
                                           "van de klantendienst", "waarmee kan")),
    "fr": tuple(tuple(c.split()) for c in ("à votre écoute", "à votre service", "à l'appareil",
                                           "du service client", "service client")),
    "en": tuple(tuple(c.split()) for c in ("speaking", "here", "from customer services",
                                           "in customer services", "how can i")),
}
_EXTENSIONS: Final = frozenset(
    ["pdf", "jpg", "jpeg", "png", "gif", "heic", "tif", "tiff", "doc", "docx", "xls", "xlsx", "odt",
    "txt", "zip", "eml", "msg", "wav", "mp3", "csv"])
_FILE_TOKEN_RE: Final = re.compile(
    r"[\w.-]*[_-][\w.-]*\.(?:" + "|".join(sorted(_EXTENSIONS)) + r")\b", re.IGNORECASE)
#: A dot and an extension, in the lowercased text (found at the speed of a search for '.').
_DOT_EXTENSION_RE: Final = re.compile(r"\.(?:" + "|".join(sorted(_EXTENSIONS)) + ")")
_SEGMENT_RE: Final = re.compile(r"[^\W\d_]+")


def _is_cap(token: Token) -> bool:
    return token.text[:1].isupper()


def _extend(context: Context, i: int, limit: int = 3) -> int:
    """The index of the last word of the surname that starts after token ``i`` (read
    from the words' spans and lowercase, without making their ``Token``)."""
    stops = stop_words(context.language)
    text, spans, lows = context.text, context.token_spans, context.lows
    last, j = i, i + 1
    while j < len(lows) and j - i <= limit + 1:
        gap = text[spans[j - 1][1]:spans[j][0]]
        if gap not in (" ", "\t"):
            break
        low = lows[j]
        cap = text[spans[j][0]].isupper()  # _is_cap(tokens[j])
        if context.lowercase:
            if low in PARTICLES:
                j += 1
                continue
            if low in stops or low in context.number_words or len(low) < 2:
                break
            last = j
            if j - i >= 1 and low not in PARTICLES:
                break  # one surname word after a given name (particles before it)
        else:
            if low in PARTICLES and not cap:
                j += 1
                continue
            if not cap or low in stops:
                break
            last = j
        j += 1
    return last


class GivenNames:
    """A known given name, with the surname written after it."""

    name = "given_names"

    def find(self, context: Context) -> Iterator[Found]:
        names = context.given_names
        if not names:
            return
        tokens = context.tokens
        for i in context.indexes(names):
            token = tokens[i]
            if context.lowercase:
                if token.low in AMBIGUOUS_NAMES or token.low in stop_words(context.language):
                    continue
            elif not _is_cap(token) or (token.text.isupper() and len(token.text) > 1 and (
                    token.low in AMBIGUOUS_NAMES)):
                continue
            last = _extend(context, i)
            if not context.lowercase and token.low in AMBIGUOUS_NAMES and last == i:
                continue  # "May I", "Will you": a capital alone does not make a name
            yield Found(token.start, tokens[last].end, "person")


class CuedNames:
    """A name where the words around it announce one."""

    name = "cued_names"

    def find(self, context: Context) -> Iterator[Found]:
        words = context.words
        befores = [c for c in _CUES_BEFORE if words.issuperset(c)]
        languages = (context.language,) if context.language in _CUES_AFTER else _CUES_AFTER
        afters = [c for lang in languages for c in _CUES_AFTER[lang] if words.issuperset(c)]
        if not befores and not afters:
            return
        tokens = context.tokens
        stops = stop_words(context.language)
        lows = context.lows
        by_last: dict[str, list[tuple[str, ...]]] = {}
        for c in befores:
            by_last.setdefault(c[-1], []).append(c)
        by_first: dict[str, list[tuple[str, ...]]] = {}
        for c in afters:
            by_first.setdefault(c[0], []).append(c)
        # only the tokens right after a cue's last word or right before a cue's first
        at = context.indexes(by_last.keys() | by_first.keys())
        candidates = sorted({k + 1 for k in at if lows[k] in by_last and k + 1 < len(lows)}
                            | {k - 1 for k in at if lows[k] in by_first and k})
        for i in candidates:
            cue: tuple[str, ...] = ()
            for candidate in by_last.get(lows[i - 1], ()) if i else ():
                n = len(candidate)
                if i >= n and tuple(lows[i - n:i]) == candidate:
                    cue = candidate
                    break
            if cue:
                j = i
                while j < len(tokens) and lows[j] in TITLES:
                    j += 1
                gap = context.text[tokens[i - 1].end:tokens[j].start] if j < len(tokens) else ""
                # a greeting in a transcript ("hallo storing") names someone only with
                # a given name after it; a relation or an introduction with any word
                greeting = len(cue) == 1 and cue[0] in _GREETINGS
                if j < len(tokens) and "\n" not in gap and self._may_be_name(
                        tokens[j], context, stops) and not (
                        greeting and context.lowercase and j == i
                        and not is_first_name(lows[j])):
                    last = _extend(context, j) if context.lowercase or _is_cap(
                        tokens[j]) else j
                    yield Found(tokens[j].start, tokens[last].end, "person")
                    continue
            for after in by_first.get(lows[i + 1], ()) if i + 1 < len(lows) else ():
                n = len(after)
                if tuple(lows[i + 1:i + 1 + n]) == after and self._may_be_name(
                        tokens[i], context, stops):
                    first = i
                    if i and self._may_be_name(tokens[i - 1], context, stops) and (
                            is_first_name(lows[i - 1])):
                        first = i - 1
                    yield Found(tokens[first].start, tokens[i].end, "person")
                    break

    @staticmethod
    def _may_be_name(token: Token, context: Context, stops: frozenset[str]) -> bool:
        if token.low in stops or token.low in context.number_words or len(token.low) < 2:
            return False
        return context.lowercase or _is_cap(token)


class NamesInTokens:
    """A party's name or a given name inside a file name ("volmacht_vos.pdf")."""

    name = "names_in_tokens"

    def find(self, context: Context) -> Iterator[Found]:
        if not context.words & _EXTENSIONS:
            return
        known = context.names
        for m in self._file_tokens(context):
            for seg in _SEGMENT_RE.finditer(m.group()):
                low = seg.group().casefold()
                if len(low) >= 3 and (low in known or (low in first_names()
                                                       and low not in AMBIGUOUS_NAMES)):
                    yield Found(m.start() + seg.start(), m.start() + seg.end(), "person")

    @staticmethod
    def _file_tokens(context: Context) -> Iterable[re.Match[str]]:
        """``_FILE_TOKEN_RE.finditer``, tried only inside the runs of word characters,
        dots and hyphens that hold a dot and an extension (a file name lies in one; its
        extension need not be a word of the text: "scan.tiff-2")."""
        scan, text = context.scan, context.text
        if not scan.exact_case:
            return _FILE_TOKEN_RE.finditer(text)
        starts: set[int] = set()
        for dot in (m.start() for m in _DOT_EXTENSION_RE.finditer(scan.low)):
            first = last = dot
            while first and _in_file_name(text[first - 1]):
                first -= 1
            while last < len(text) and _in_file_name(text[last]):
                last += 1
            starts.update(range(first, last))
        return scan.matches(_FILE_TOKEN_RE, starts)


def _in_file_name(char: str) -> bool:
    """``[\\w.-]`` of ``_FILE_TOKEN_RE`` for one character."""
    return char.isalnum() or char in "_.-"


def propagate(context: Context) -> Iterator[Found]:
    """Every other occurrence of a word of a name found once, in any case, also inside
    file names and other tokens (letters on both sides end it, nothing else).

    The names' alternation is tried only where one of them can be (``TextScan.matches``
    gives what ``finditer`` gives then), not at each of the text's characters:
    ``_name_starts`` where the text's words tell, else where ``str.find`` sees one
    in the lowercased text."""
    text = context.text
    stops = stop_words(context.language)
    words = {text[s:e].casefold() for s, e, c in context.taken if c == "person"
             for w in [text[s:e]] if w}
    parts = {p for w in words for p in _SEGMENT_RE.findall(w)
             if len(p) >= 3 and p not in PARTICLES and p not in stops}
    if not parts:
        return
    pattern = _names_pattern(frozenset(parts))
    scan = context.scan
    if all(scan.literal_case_exact(p) for p in parts):
        starts = _name_starts(context, parts) if scan.low == text.casefold() else None
        matches: Iterable[re.Match[str]] = scan.matches(pattern, scan.find(
            p.lower() for p in parts) if starts is None else starts)
    else:
        matches = pattern.finditer(text)
    for m in matches:
        yield Found(m.start(), m.end(), "person")


def _name_starts(context: Context, parts: set[str]) -> list[int]:
    """Where a name can occur, from the words: a name is letters with none on either side,
    so it is a whole word of letters, or a run of letters inside a word with digits,
    hyphens, apostrophes or underscores ("deboer_factuur", "Jansen-Smit").

    Only for a text whose lowercase is its case-fold and has nothing ``re.IGNORECASE``
    treats specially (``TextScan.literal_case_exact``): then a match is the lowercase of
    the name, and ``Context.lows`` are the words' lowercase."""
    mixed = {w for w in context.words if w not in parts and not w.isalpha()
             and any(p in parts for p in _SEGMENT_RE.findall(w))}
    spans, lows, low = context.token_spans, context.lows, context.scan.low
    out: list[int] = []
    for i in context.indexes(parts | mixed):
        start, end = spans[i]
        if lows[i] in parts:
            out.append(start)
        else:
            out += [m.start() for m in _SEGMENT_RE.finditer(low, start, end)
                    if m.group() in parts]
    return out


@functools.lru_cache(maxsize=256)
def _names_pattern(parts: frozenset[str]) -> re.Pattern[str]:
    """The alternation of a text's names, longest first (kept: a thread's messages
    name the same people)."""
    return re.compile(r"(?<![^\W\d_])(?:" + "|".join(
        re.escape(p) for p in sorted(parts, key=len, reverse=True)) + r")(?![^\W\d_])",
        re.IGNORECASE)


_TITLED_RE: Final = re.compile(
    r"\b(?i:mevrouw|meneer|mevr\.?|dhr\.?|mw\.?|mr\.?|mrs\.?|ms\.?|miss|dr\.?|madame|"
    r"monsieur|mme\.?|mlle\.?|m\.)[ \t]+((?:[A-Z]\.[ \t]?){0,3}(?:(?:[Vv]an|[Dd]e|[Dd]er|[Dd]en|"
    r"[Tt]er|[Tt]en|[Ll]e|[Ll]a|[Dd]u|[Dd]es|[Dd]'|[Ll]')[ \t]*){0,3}[A-ZÀ-Ý][\w'\u2019-]*"
    r"(?:[ \t]+[A-ZÀ-Ý][\w'\u2019-]*)?)")
_TITLE_STARTS: Final = ("mevr", "meneer", "dhr", "mw", "mr", "ms", "miss", "dr", "madame",
                        "monsieur", "mme", "mlle", "m.")
_CLOSING_RE: Final = re.compile(
    r"^[ \t]*(?:[^\W\d_]+[ \t]+){0,3}[^\W\d_]+,?[ \t]*\n[ \t]*((?:[A-ZÀ-Ý][\w'\u2019.-]*[ \t]*)"
    r"{1,3})[ \t]*$", re.MULTILINE)
_CLOSINGS: Final = frozenset(
    ["cheers", "thanks", "thank", "regards", "wishes", "best", "groet", "groeten", "groetjes",
    "bedankt", "dank", "merci", "cordialement", "salutations", "sincerely", "faithfully", "vous",
    "care"])


class TitledNames:
    """A name after a courtesy title, initials and particles included ("mevrouw Y.
    Pinas", "Mr Van den Broeck"): the whole name, over what the patterns took of it."""

    name = "titled_names"

    def find(self, context: Context) -> Iterator[Found]:
        scan = context.scan
        if not context.words & TITLES and "m." not in scan.low:
            return
        # every title starts with one of these (case-insensitive, the rest is not)
        matches = scan.matches(_TITLED_RE, scan.find(_TITLE_STARTS)) if scan.exact_case \
            else _TITLED_RE.finditer(context.text)
        for m in matches:
            yield Found(m.start(1), stripped_end(context.text, m.end(1), " \t."), "person",
                        absorb=True)


class ClosingNames:
    """The name on the line after a closing ("Cheers,\nBen", "Merci,\nSarah")."""

    name = "closing_names"

    def find(self, context: Context) -> Iterator[Found]:
        text = context.text
        if "\n" not in text or not context.words & _CLOSINGS:
            return
        # it starts at a line's start (``^``) of one to four words (a comma at most after
        # the last, and blanks) with a line after it: tried there only
        lines, at = [], 0
        for line in text.split("\n")[:-1]:
            if 0 < len(line.split()) <= 4:
                lines.append(at)
            at += len(line) + 1
        for m in context.scan.matches(_CLOSING_RE, lines):
            closing = m.group().split("\n")[0].casefold()
            if any(w.strip(",") in _CLOSINGS for w in closing.split()):
                yield Found(m.start(1), m.start(1) + len(m.group(1).rstrip()), "person")
